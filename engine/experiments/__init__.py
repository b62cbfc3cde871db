"""Experiments: A/B tests of campaigns (assignment, routing, review) and offline replay."""

from engine.experiments.operations import EXPERIMENT, ExperimentOps

__all__ = ["EXPERIMENT", "ExperimentOps"]
