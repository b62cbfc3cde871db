"""Batch jobs: batch inference (recommendations for every line of a JSON-lines file) and
batch segments (the users most likely to interact with items), as Personalize runs them.

`inference.BatchInferenceOps` and `segments.BatchSegmentOps` are the Engine's operation
mixins; `jobs` holds the shared run (statuses, progress, atomic output), `io` the input and
output files, `filtering` filters evaluated once per job where they can be, `attributes` the
item attribute queries of aws-item-attribute-affinity.
"""
