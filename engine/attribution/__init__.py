"""Metric attribution: the impact of recommendations per campaign or source, in 15-minute
windows (`operations`: the Personalize operations and Tailor's report and publishing;
`expressions`: the `SUM(Items.PRICE)` / `SAMPLECOUNT()` parser; SQL in
`engine/store/attribution.py`)."""

from engine.attribution.operations import METRIC_ATTRIBUTION, MetricAttributionOps

__all__ = ["METRIC_ATTRIBUTION", "MetricAttributionOps"]
