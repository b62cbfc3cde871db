"""Recipes, solutions and solution versions: the training side of Personalize's API."""
