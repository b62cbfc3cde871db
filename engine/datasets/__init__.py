"""Datasets and their data: dataset groups, schemas, datasets, import jobs, readiness."""
