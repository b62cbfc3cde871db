"""Offline evaluation of recipes: Personalize's holdout split of users and its metrics."""
