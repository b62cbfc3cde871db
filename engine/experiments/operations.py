"""Experiments (A/B tests of campaigns) and offline replay: Tailor's own operations.

An experiment splits a dataset group's users between two or more variants, each served by a
campaign, by traffic shares that sum to 1. `get_recommendations(campaignArn=<experiment
ARN>, userId=...)` answers from the user's variant while the experiment runs (assignment is a
salted hash of the userId: `engine.experiments.assignment`), and logs the answer with the
variant's name and campaign, so events that carry its recommendationId attribute to the
variant. `get_experiment_results` reviews it (`engine.experiments.review`);
`import_experiment_log` loads a historical exposure log so past A/B tests can be reviewed;
`estimate_offline` replays a model on the logged lists before it is launched
(`engine.experiments.replay`).

Experiments are catalog resources (`resource_type = 'experiment'`, child of the dataset group,
ARN `arn:aws:personalize:REGION:ACCOUNT:experiment/<name>`). Their logged lists are the rows
of `recommendation_log` in the group with one of the experiment's `(variant, campaign)` pairs
inside its time window; two experiments whose windows overlap may therefore not share a
variant name with the same campaign.
"""

from __future__ import annotations

import functools
import inspect
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from engine.base import EngineBase, summary
from engine.datasets.sources import csv_header, files_at
from engine.errors import (
    InvalidInputException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from engine.events.writer import LogRows
from engine.experiments import assignment, replay
from engine.experiments.review import METRICS, review
from engine.operations import paginate
from engine.serving import loaded
from engine.store import Resource
from engine.store import experiments as sql

EXPERIMENT = "experiment"
NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$")
DEFAULT_CLICKS = ["click", "view"]
DEFAULT_CONVERSIONS = ["purchase"]
FOREVER = 1e18
FLUSH_TIMEOUT = 30.0
SHARE_TOLERANCE = 1e-6

F = TypeVar("F", bound=Callable[..., Any])


def tailor_operation(method: F) -> F:
    """A Tailor-own operation (not in botocore's model): keyword arguments only, None means
    not given, and an unknown or missing argument is an InvalidInputException naming it (so
    HTTP bodies can be passed straight through)."""
    params = inspect.signature(method).parameters.values()
    known = {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
    required = [p.name for p in params if p.name in known and p.default is inspect.Parameter.empty]

    @functools.wraps(method)
    def wrapper(self: Any, **kwargs: Any) -> Any:
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise InvalidInputException(
                f"{', '.join(unknown)} is not a parameter here (known: {', '.join(sorted(known))})"
            )
        given = {k: v for k, v in kwargs.items() if v is not None}
        missing = [name for name in required if name not in given]
        if missing:
            raise InvalidInputException(f"{', '.join(missing)} is required")
        return method(self, **given)

    wrapper.tailor_operation = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def epoch(value: Any, field: str) -> float:
    """A time given as a datetime, epoch seconds or an ISO 8601 string, as epoch seconds
    (naive datetimes and dates are UTC)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, bool):
        raise InvalidInputException(f"{field} {value!r} is not a time")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            found = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputException(
                f"{field} {value!r} is not a time (epoch seconds or ISO 8601, e.g. 2025-11-03)"
            ) from None
        return (found if found.tzinfo else found.replace(tzinfo=UTC)).timestamp()
    raise InvalidInputException(f"{field} {value!r} is not a time")


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _event_types(value: Any, field: str, default: list[str]) -> list[str]:
    if value is None:
        return list(default)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise InvalidInputException(f"{field} {value!r} must be a non-empty list of event types")
    return [v.strip().lower() for v in value]


@dataclass(frozen=True)
class Route:
    """What routing a request needs, cached per experiment."""

    names: tuple[str, ...]
    campaigns: tuple[str | None, ...]
    bounds: tuple[float, ...]
    salt: str
    start: float
    end: float

    def running(self, now: float) -> bool:
        return self.start <= now < self.end


def _route(spec: dict[str, Any]) -> Route:
    variants = spec["variants"]
    return Route(
        tuple(v["name"] for v in variants),
        tuple(v.get("campaignArn") for v in variants),
        tuple(assignment.cumulative([v["trafficShare"] for v in variants])),
        spec["assignmentSalt"],
        spec["startTime"],
        _effective_end(spec),
    )


def _effective_end(spec: dict[str, Any]) -> float:
    ends = [t for t in (spec.get("endTime"), spec.get("stoppedTime")) if t is not None]
    return min(ends) if ends else FOREVER


def status_of(resource: Resource, now: float | None = None) -> str:
    """SCHEDULED (before its start), RUNNING, COMPLETED (its end has passed) or STOPPED."""
    spec, now = resource.spec, time.time() if now is None else now
    if spec.get("stoppedTime") is not None:
        return "STOPPED"
    if now < spec["startTime"]:
        return "SCHEDULED"
    if spec.get("endTime") is not None and now >= spec["endTime"]:
        return "COMPLETED"
    return "RUNNING"


def _describe(resource: Resource) -> dict[str, Any]:
    spec = resource.spec
    out = summary(resource, "experimentArn", datasetGroupArn=spec["datasetGroupArn"])
    out["status"] = status_of(resource)
    out.update(
        {
            "variants": [dict(v) for v in spec["variants"]],
            "primaryMetric": spec["primaryMetric"],
            "guardrails": [dict(g) for g in spec["guardrails"]],
            "clickEventTypes": list(spec["clickEventTypes"]),
            "conversionEventTypes": list(spec["conversionEventTypes"]),
            "assignmentSalt": spec["assignmentSalt"],
            "startTime": _when(spec["startTime"]),
        }
    )
    if spec.get("endTime") is not None:
        out["endTime"] = _when(spec["endTime"])
    if spec.get("stoppedTime") is not None:
        out["stoppedTime"] = _when(spec["stoppedTime"])
    return out


class ExperimentOps(EngineBase):
    """Experiments, their review and offline replay (Tailor's own operations)."""

    _experiment_routes: dict[str, Route]

    # --- resources ------------------------------------------------------------------------

    def experiment_arn(self, name: str) -> str:
        """The ARN of the experiment called `name`."""
        return self.arns.make(EXPERIMENT, name)

    @tailor_operation
    def create_experiment(
        self,
        *,
        name: str,
        datasetGroupArn: str,
        variants: list[dict[str, Any]],
        primaryMetric: str = "CLICK_THROUGH",
        guardrails: list[dict[str, Any]] | None = None,
        startTime: Any = None,
        endTime: Any = None,
        clickEventTypes: list[str] | None = None,
        conversionEventTypes: list[str] | None = None,
        assignmentSalt: str | None = None,
    ) -> dict[str, Any]:
        """Create an A/B test of campaigns in a dataset group.

        `variants`: `[{"name": ..., "campaignArn": ..., "trafficShare": 0.5}, ...]`, two or
        more, shares summing to 1 (all omitted: an equal split); the first is the control.
        A variant may omit `campaignArn` only in an experiment that has already ended (one
        reviewed from an imported log). `primaryMetric` and each guardrail's `metricName`:
        CLICK_THROUGH, CONVERSION or REVENUE_PER_USER; a guardrail's `maxRelativeDrop` (0..1)
        is the largest drop against the control it tolerates. `startTime` (default now) and
        `endTime` (default: until stopped): datetimes, epoch seconds or ISO 8601. A click is
        an event of one of `clickEventTypes` (default click, view) carrying a recommendationId
        the experiment logged; a conversion one of `conversionEventTypes` (default purchase).
        """
        if not isinstance(name, str) or not NAME.match(name) or len(name) > 63:
            raise InvalidInputException(
                f"name {name!r} must be 1-63 letters, digits, '-' or '_', starting with a "
                "letter or digit"
            )
        group = self.catalog.require(datasetGroupArn, "dataset-group")
        now = time.time()
        start = epoch(startTime, "startTime") if startTime is not None else now
        end = epoch(endTime, "endTime") if endTime is not None else None
        if end is not None and end <= start:
            raise InvalidInputException(f"endTime {endTime} must be after startTime {startTime}")
        checked = self._check_variants(
            variants, group.arn, historical=end is not None and end <= now
        )
        if primaryMetric not in METRICS:
            raise InvalidInputException(
                f"primaryMetric {primaryMetric!r} must be one of {', '.join(METRICS)}"
            )
        spec = {
            "datasetGroupArn": group.arn,
            "variants": checked,
            "primaryMetric": primaryMetric,
            "guardrails": self._check_guardrails(guardrails),
            "clickEventTypes": _event_types(clickEventTypes, "clickEventTypes", DEFAULT_CLICKS),
            "conversionEventTypes": _event_types(
                conversionEventTypes, "conversionEventTypes", DEFAULT_CONVERSIONS
            ),
            "assignmentSalt": assignmentSalt or assignment.new_salt(),
            "startTime": start,
            "endTime": end,
            "stoppedTime": None,
        }
        arn = self.experiment_arn(name)
        self._check_overlap(arn, spec)
        self.catalog.insert(EXPERIMENT, arn, name, parent_arn=group.arn, status="ACTIVE", spec=spec)
        return {"experimentArn": arn}

    def _check_variants(
        self, variants: Any, group_arn: str, historical: bool
    ) -> list[dict[str, Any]]:
        if not isinstance(variants, list) or len(variants) < 2:
            raise InvalidInputException("variants must list two or more variants")
        out, names = [], set()
        given = [v.get("trafficShare") is not None for v in variants if isinstance(v, dict)]
        if any(given) and not all(given):
            raise InvalidInputException(
                "variants: give every variant a trafficShare, or none (an equal split)"
            )
        for i, variant in enumerate(variants):
            where = f"variants[{i}]"
            if not isinstance(variant, dict):
                raise InvalidInputException(f"{where} must be an object with name and campaignArn")
            unknown = set(variant) - {"name", "campaignArn", "trafficShare"}
            if unknown:
                raise InvalidInputException(
                    f"{where}: {', '.join(sorted(unknown))} is not a variant field "
                    "(name, campaignArn, trafficShare)"
                )
            name = variant.get("name")
            if not isinstance(name, str) or not NAME.match(name) or len(name) > 63:
                raise InvalidInputException(
                    f"{where}.name {name!r} must be 1-63 letters, digits, '-' or '_'"
                )
            if name in names:
                raise InvalidInputException(f"{where}.name {name!r} is used twice")
            names.add(name)
            share = variant.get("trafficShare", 1.0 / len(variants))
            try:
                share = float(share)
            except (TypeError, ValueError):
                raise InvalidInputException(
                    f"{where}.trafficShare {share!r} is not a number"
                ) from None
            if not 0.0 < share <= 1.0:
                raise InvalidInputException(f"{where}.trafficShare {share} must be in (0, 1]")
            entry: dict[str, Any] = {"name": name, "trafficShare": share}
            campaign_arn = variant.get("campaignArn")
            if campaign_arn is not None:
                campaign = self.catalog.require(campaign_arn, "campaign")
                if campaign.spec.get("datasetGroupArn") != group_arn:
                    raise InvalidInputException(
                        f"{where}.campaignArn {campaign_arn} serves dataset group "
                        f"{campaign.spec.get('datasetGroupArn')}, not {group_arn}"
                    )
                entry["campaignArn"] = campaign_arn
            elif not historical:
                raise InvalidInputException(
                    f"{where}.campaignArn is required: only an experiment that has already "
                    "ended (reviewed from an imported log) may have variants without a campaign"
                )
            out.append(entry)
        total = sum(v["trafficShare"] for v in out)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise InvalidInputException(f"variants' trafficShare values sum to {total:g}, not 1")
        return out

    @staticmethod
    def _check_guardrails(guardrails: Any) -> list[dict[str, Any]]:
        if guardrails is None:
            return []
        if not isinstance(guardrails, list):
            raise InvalidInputException("guardrails must be a list")
        out = []
        for i, rule in enumerate(guardrails):
            where = f"guardrails[{i}]"
            if not isinstance(rule, dict) or rule.get("metricName") not in METRICS:
                raise InvalidInputException(
                    f"{where}.metricName must be one of {', '.join(METRICS)}"
                )
            try:
                drop = float(rule.get("maxRelativeDrop"))
            except (TypeError, ValueError):
                raise InvalidInputException(
                    f"{where}.maxRelativeDrop {rule.get('maxRelativeDrop')!r} is not a number"
                ) from None
            if not 0.0 <= drop < 1.0:
                raise InvalidInputException(f"{where}.maxRelativeDrop {drop} must be in [0, 1)")
            out.append({"metricName": rule["metricName"], "maxRelativeDrop": drop})
        return out

    def _check_overlap(self, arn: str, spec: dict[str, Any], skip: str | None = None) -> None:
        """Two experiments whose windows overlap may not log the same (variant, campaign)."""
        mine = self._members(arn, spec)
        start, end = spec["startTime"], _effective_end(spec)
        for other in self.catalog.list(EXPERIMENT, spec["datasetGroupArn"]):
            if other.arn in (arn, skip):
                continue
            if start >= _effective_end(other.spec) or other.spec["startTime"] >= end:
                continue
            shared = set(mine) & set(self._members(other.arn, other.spec))
            if shared:
                pairs = ", ".join(f"{v} ({c})" for v, c in sorted(shared))
                raise ResourceInUseException(
                    f"experiment {other.arn} runs at the same time with variant(s) {pairs}; "
                    "rename the variants or choose a window that does not overlap"
                )

    @staticmethod
    def _members(arn: str, spec: dict[str, Any]) -> list[tuple[str, str]]:
        """(variant name, campaign key) pairs identifying the experiment's logged rows; a
        variant without a campaign is logged under the experiment's ARN."""
        return [(v["name"], v.get("campaignArn") or arn) for v in spec["variants"]]

    def _experiment(self, arn: str) -> Resource:
        if not isinstance(arn, str) or f":{EXPERIMENT}/" not in arn:
            raise InvalidInputException(f"experimentArn {arn!r} is not an experiment ARN")
        found = self.catalog.get(arn)
        if found is None or found.resource_type != EXPERIMENT:
            raise ResourceNotFoundException(f"Could not find experiment {arn}")
        return found

    @tailor_operation
    def describe_experiment(self, *, experimentArn: str) -> dict[str, Any]:
        """An experiment: its variants, metrics, window and status (SCHEDULED, RUNNING,
        COMPLETED or STOPPED)."""
        return {"experiment": _describe(self._experiment(experimentArn))}

    @tailor_operation
    def list_experiments(
        self,
        *,
        datasetGroupArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        """Experiments, newest first (optionally of one dataset group)."""
        if datasetGroupArn is not None:
            self.catalog.require(datasetGroupArn, "dataset-group")
        rows = []
        for resource in self.catalog.list(EXPERIMENT, datasetGroupArn):
            spec = resource.spec
            rows.append(
                summary(
                    resource,
                    "experimentArn",
                    datasetGroupArn=spec["datasetGroupArn"],
                    status=status_of(resource),
                    primaryMetric=spec["primaryMetric"],
                    variants=[v["name"] for v in spec["variants"]],
                    startTime=_when(spec["startTime"]),
                    endTime=_when(spec.get("endTime")),
                )
            )
        return paginate("ListExperiments", rows, "experiments", nextToken, maxResults)

    @tailor_operation
    def update_experiment(
        self, *, experimentArn: str, status: str | None = None, endTime: Any = None
    ) -> dict[str, Any]:
        """Stop an experiment now (`status="STOPPED"`: users go back to the control's
        campaign, the review covers what was logged until now) or move its `endTime`."""
        resource = self._experiment(experimentArn)
        spec = dict(resource.spec)
        if status is None and endTime is None:
            raise InvalidInputException("give status='STOPPED' or a new endTime")
        if spec.get("stoppedTime") is not None:
            raise ResourceInUseException(f"experiment {experimentArn} is stopped already")
        if status is not None and status != "STOPPED":
            raise InvalidInputException(f"status {status!r}: an experiment can only be STOPPED")
        changes: dict[str, Any] = {}
        if endTime is not None:
            end = epoch(endTime, "endTime")
            if end <= spec["startTime"]:
                raise InvalidInputException(f"endTime {endTime} must be after the startTime")
            if end > time.time() and not all(v.get("campaignArn") for v in spec["variants"]):
                raise InvalidInputException(
                    f"endTime {endTime}: experiment {experimentArn} has variants without a "
                    "campaign, so it cannot run past now"
                )
            changes["endTime"] = end
        if status == "STOPPED":
            changes["stoppedTime"] = time.time()
        spec.update(changes)
        if "endTime" in changes:
            self._check_overlap(experimentArn, spec)
        self.catalog.update(experimentArn, status=status or "ACTIVE", spec_updates=changes)
        self._routes().pop(experimentArn, None)
        return {"experimentArn": experimentArn}

    @tailor_operation
    def stop_experiment(self, *, experimentArn: str) -> dict[str, Any]:
        """Stop an experiment now (`update_experiment(status="STOPPED")`)."""
        return self.update_experiment(experimentArn=experimentArn, status="STOPPED")

    @tailor_operation
    def delete_experiment(self, *, experimentArn: str) -> dict[str, Any]:
        """Delete an experiment; its logged recommendations stay in the log."""
        self._experiment(experimentArn)
        with self.store.write_lock:
            self.catalog.delete(experimentArn)
        self._routes().pop(experimentArn, None)
        return {}

    # --- serving ------------------------------------------------------------------------

    def _routes(self) -> dict[str, Route]:
        try:
            return self._experiment_routes
        except AttributeError:
            self._experiment_routes = {}
            return self._experiment_routes

    def _route_of(self, experiment_arn: str) -> Route:
        routes = self._routes()
        found = routes.get(experiment_arn)
        if found is None:
            found = _route(self._experiment(experiment_arn).spec)
            routes[experiment_arn] = found
        return found

    def experiment_route(self, experiment_arn: str, user_id: str | None) -> tuple[str, str | None]:
        """(campaign ARN, variant name) a request to an experiment ARN is answered from: the
        user's variant while the experiment runs; the control's campaign (and no variant, so
        the answer is not part of the experiment) before it starts and after it ends."""
        route = self._route_of(experiment_arn)
        if not user_id:
            raise InvalidInputException(
                f"userId is required: experiment {experiment_arn} assigns users to variants"
            )
        if not route.running(time.time()):
            index, variant = 0, None
        else:
            index = assignment.variant_index(route.salt, user_id, route.bounds)
            variant = route.names[index]
        campaign = route.campaigns[index]
        if campaign is None:
            raise InvalidInputException(
                f"experiment {experiment_arn}'s variant {route.names[index]} has no campaign: "
                "it can only be reviewed, not served"
            )
        return campaign, variant

    @tailor_operation
    def get_experiment_assignment(self, *, experimentArn: str, userId: str) -> dict[str, Any]:
        """Tailor's own: the variant (and campaign) `userId` is assigned to, whether or not the
        experiment is running (`running` says if requests are routed to it now)."""
        route = self._route_of(experimentArn)
        index = assignment.variant_index(route.salt, userId, route.bounds)
        out = {
            "experimentArn": experimentArn,
            "userId": userId,
            "variant": route.names[index],
            "running": route.running(time.time()),
        }
        if route.campaigns[index] is not None:
            out["campaignArn"] = route.campaigns[index]
        return out

    # --- review ---------------------------------------------------------------------------

    def _flush_log(self) -> None:
        """Wait until every recommendation logged so far is in the store (the writer commits
        in order, so an empty request's completion means everything before it is written)."""
        self.events.submit(LogRows([])).result(FLUSH_TIMEOUT)  # type: ignore[attr-defined]

    def _interactions(self, group_arn: str) -> tuple[int | None, sql.EventColumns]:
        for dataset in self.catalog.list("dataset", group_arn):
            if dataset.spec["datasetType"] == "INTERACTIONS":
                fields = {f.name for f in self.dataset_fields(dataset)}  # type: ignore[attr-defined]
                return dataset.id, sql.EventColumns(
                    "RECOMMENDATION_ID" in fields, "EVENT_TYPE" in fields, "EVENT_VALUE" in fields
                )
        return None, sql.EventColumns(False, False, False)

    @tailor_operation
    def get_experiment_results(
        self, *, experimentArn: str, alpha: float = 0.05, mixtureEffect: float = 0.1
    ) -> dict[str, Any]:
        """The review of an experiment (see `engine.experiments.review` for every field).

        Per variant: users, impressions (logged lists), clicks, conversions, revenue and each
        metric with its (1 - alpha) interval; per variant against the control (the first
        variant) and metric: difference (Newcombe / Welch interval), relative lift (delta
        method on the log ratio), fixed-horizon p (two-proportion z / Welch t) and the
        always-valid sequential p and interval (mSPRT with a normal mixture of standard
        deviation `mixtureEffect` outcome standard deviations); guardrails; the
        sample-ratio-mismatch check on users; the daily cumulative timeline; a verdict."""
        resource = self._experiment(experimentArn)
        try:
            alpha = float(alpha)
            effect = float(mixtureEffect)
        except (TypeError, ValueError):
            raise InvalidInputException("alpha and mixtureEffect must be numbers") from None
        if not 0.0 < alpha < 0.5:
            raise InvalidInputException(f"alpha {alpha} must be in (0, 0.5)")
        if not effect > 0:
            raise InvalidInputException(f"mixtureEffect {effect} must be positive")
        spec = resource.spec
        self._flush_log()
        group = self.catalog.require(spec["datasetGroupArn"], "dataset-group")
        dataset_id, columns = self._interactions(group.arn)
        start, end = spec["startTime"], _effective_end(spec)
        with self.store.cursor() as cur:
            rows = sql.variant_user_days(
                cur,
                group.id,
                dataset_id,
                columns,
                self._members(experimentArn, spec),
                start,
                end,
                spec["clickEventTypes"],
                spec["conversionEventTypes"],
            )
        variants = spec["variants"]
        status = status_of(resource)
        found = review(
            rows,
            [v["name"] for v in variants],
            [v["trafficShare"] for v in variants],
            spec["primaryMetric"],
            spec["guardrails"],
            alpha,
            status=status,
            effect=effect,
        )
        for entry, variant in zip(found["variants"], variants, strict=True):
            if variant.get("campaignArn"):
                entry["campaignArn"] = variant["campaignArn"]
        return {
            "experimentArn": experimentArn,
            "name": resource.name,
            "status": status,
            "generatedAt": datetime.now(UTC),
            "startTime": _when(start),
            "endTime": _when(end) if end < FOREVER else None,
            **found,
        }

    @tailor_operation
    def import_experiment_log(self, *, experimentArn: str, dataLocation: str) -> dict[str, Any]:
        """Load a historical exposure log (CSV with RECOMMENDATION_ID, USER_ID, TIMESTAMP,
        VARIANT, ITEM_IDS: one row per list shown, items `|`-separated, e.g.
        data/sample/recommendation_exposures.csv) into the recommendation log as the
        experiment's variants' lists, so `get_experiment_results` reviews a past A/B test.
        Events in the Interactions dataset that carry these recommendation ids are its
        clicks and conversions. Every row must name one of the experiment's variants and fall
        inside its window, and no recommendation id may be logged already for another
        campaign or experiment; nothing is written otherwise. Importing the same log into the
        same experiment again replaces its rows (harmless)."""
        resource = self._experiment(experimentArn)
        spec = resource.spec
        group = self.catalog.require(spec["datasetGroupArn"], "dataset-group")
        files = self._exposure_files(dataLocation)
        names = [v["name"] for v in spec["variants"]]
        end = _effective_end(spec)
        with self.store.cursor() as cur:
            found = sql.check_exposure_files(cur, files, names, spec["startTime"], end)
        problems = []
        if found["bad_timestamp"]:
            problems.append(f"{found['bad_timestamp']} TIMESTAMP values are not epoch seconds")
        if found["empty"]:
            problems.append(f"{found['empty']} rows miss a required value")
        if found["duplicates"]:
            problems.append(f"{found['duplicates']} RECOMMENDATION_ID values repeat")
        if found["unknown_variants"]:
            problems.append(
                f"VARIANT values {found['unknown_variants']} are not variants of the experiment "
                f"({', '.join(names)})"
            )
        if found["outside"]:
            window = f"[{_when(spec['startTime'])}, {_when(end) if end < FOREVER else 'open'})"
            problems.append(
                f"{found['outside']} rows fall outside the experiment's window {window}"
            )
        if problems:
            raise InvalidInputException(
                f"dataLocation {dataLocation!r}: {found['rows']} rows; " + "; ".join(problems)
            )
        self._flush_log()
        members = self._members(experimentArn, spec)
        with self.store.write_lock, self.store.transaction() as cur:
            elsewhere = sql.logged_elsewhere(cur, files, group.id, members)
            if elsewhere:
                variant, campaign, count = elsewhere[0]
                raise ResourceInUseException(
                    f"dataLocation {dataLocation!r}: {sum(r[2] for r in elsewhere)} of its "
                    f"recommendation ids are logged already for other lists (e.g. {count} as "
                    f"variant {variant or '-'} of {campaign}); they would be counted twice"
                )
            written, replaced = sql.import_exposures(cur, files, group.id, members)
        return {"experimentArn": experimentArn, "exposures": written, "replaced": replaced}

    def _exposure_files(self, location: str) -> list:
        files = files_at(
            location,
            self.data_dir,
            self.settings,
            self.data_dir / "tmp",  # type: ignore[attr-defined]
        )
        for path in files:
            if path.name.lower().endswith(".parquet"):
                raise InvalidInputException(f"{path.name}: exposure logs must be CSV files")
            missing = [c for c in sql.EXPOSURE_COLUMNS if c not in csv_header(path)]
            if missing:
                raise InvalidInputException(
                    f"{path.name}: the header has no {', '.join(missing)} column "
                    f"(an exposure log has {', '.join(sql.EXPOSURE_COLUMNS)})"
                )
        return files

    # --- offline replay -------------------------------------------------------------------

    @tailor_operation
    def estimate_offline(
        self,
        *,
        experimentArn: str | None = None,
        datasetGroupArn: str | None = None,
        dataLocation: str | None = None,
        trafficShares: dict[str, float] | None = None,
        campaignArn: str | None = None,
        solutionVersionArn: str | None = None,
        numResults: int = 10,
        variant: str | None = None,
        bootstrapRepeats: int = 1000,
        seed: int = 0,
        alpha: float = 0.05,
    ) -> dict[str, Any]:
        """Tailor's own: how a campaign's or solution version's top-`numResults` (k) would have
        done on logged recommendation lists, before it is launched (see
        `engine.experiments.replay` for the estimators and their assumptions).

        The log is an experiment's (`experimentArn`; propensities from its traffic shares) or
        an exposure CSV (`datasetGroupArn` + `dataLocation`, the columns of
        `import_experiment_log`; propensities from `trafficShares`, default each variant's
        observed share of the exposures). `variant` keeps only one variant's lists.
        Clicks are the group's events carrying the lists' recommendation ids."""
        if (campaignArn is None) == (solutionVersionArn is None):
            raise InvalidInputException("give exactly one of campaignArn and solutionVersionArn")
        k = int(numResults)
        if not 1 <= k <= 500:
            raise InvalidInputException(f"numResults {k} must be from 1 to 500")
        if not 0 <= int(bootstrapRepeats) <= 100_000:
            raise InvalidInputException("bootstrapRepeats must be from 0 to 100000")
        if experimentArn is not None:
            if dataLocation is not None:
                raise InvalidInputException("give experimentArn or dataLocation, not both")
            exposures, shares, group = self._experiment_exposures(experimentArn)
        elif dataLocation is not None and datasetGroupArn is not None:
            exposures, shares, group = self._file_exposures(
                datasetGroupArn, dataLocation, trafficShares
            )
        else:
            raise InvalidInputException(
                "give experimentArn, or datasetGroupArn and dataLocation (an exposure log)"
            )
        if variant is not None:
            exposures = [e for e in exposures if e.variant == variant]
        if not exposures:
            raise InvalidInputException("the log has no exposures to replay")
        model = self._candidate_model(campaignArn, solutionVersionArn, group)
        if model.recipe.recipe_type == "RELATED_ITEMS":
            raise InvalidInputException(
                f"{model.recipe.recipe_arn} recommends related items; replay needs a model "
                "that recommends for users"
            )
        dataset_id = model.interactions_dataset
        facts = self.item_facts(model)  # type: ignore[attr-defined]

        def events_of(user: str) -> Any:
            return self.history.events(model.group_id, dataset_id, user)  # type: ignore[attr-defined]

        candidates = replay.candidate_lists(model, exposures, events_of, facts.created, k)
        out = replay.estimate(
            exposures, candidates, shares, k, int(bootstrapRepeats), int(seed), float(alpha)
        )
        return {
            "candidate": campaignArn or solutionVersionArn,
            "experimentArn": experimentArn,
            "trafficShares": shares,
            **out,
        }

    def _experiment_exposures(
        self, experiment_arn: str
    ) -> tuple[list[replay.Exposure], dict[str, float], Resource]:
        spec = self._experiment(experiment_arn).spec
        group = self.catalog.require(spec["datasetGroupArn"], "dataset-group")
        dataset_id, columns = self._interactions(group.arn)
        self._flush_log()
        with self.store.cursor() as cur:
            rows = sql.exposures(
                cur,
                group.id,
                dataset_id,
                columns,
                self._members(experiment_arn, spec),
                spec["startTime"],
                _effective_end(spec),
                spec["clickEventTypes"],
            )
        exposures = [replay.Exposure(r[0], r[1], r[2] or "", r[3], list(r[4]), r[5]) for r in rows]
        shares = {v["name"]: v["trafficShare"] for v in spec["variants"]}
        return exposures, shares, group

    def _file_exposures(
        self, group_arn: str, location: str, shares: dict[str, float] | None
    ) -> tuple[list[replay.Exposure], dict[str, float], Resource]:
        group = self.catalog.require(group_arn, "dataset-group")
        files = self._exposure_files(location)
        dataset_id, columns = self._interactions(group.arn)
        with self.store.cursor() as cur:
            rows = sql.exposure_file_rows(cur, files)
            clicked = (
                sql.clicked_items(cur, dataset_id, columns, [r[0] for r in rows], DEFAULT_CLICKS)
                if dataset_id is not None
                else {}
            )
        exposures = [
            replay.Exposure(r[0], r[1], r[2], r[3], list(r[4]), clicked.get(r[0])) for r in rows
        ]
        if shares is None:
            counts: dict[str, int] = {}
            for e in exposures:
                counts[e.variant] = counts.get(e.variant, 0) + 1
            shares = {v: c / len(exposures) for v, c in counts.items()}
        else:
            bad = [v for v, s in shares.items() if not (isinstance(s, int | float) and 0 < s <= 1)]
            if bad:
                raise InvalidInputException(f"trafficShares of {bad} must be in (0, 1]")
        return exposures, dict(shares), group

    def _candidate_model(
        self, campaign_arn: str | None, version_arn: str | None, group: Resource
    ) -> loaded.LoadedModel:
        if campaign_arn is not None:
            model = self.campaign_model(campaign_arn)  # type: ignore[attr-defined]
        else:
            version = self._active_version(version_arn)  # type: ignore[attr-defined]
            version_group = self.catalog.require(version.spec["datasetGroupArn"], "dataset-group")
            found = {
                d.spec["datasetType"]: d for d in self.catalog.list("dataset", version_group.arn)
            }
            items = found.get("ITEMS")
            model = loaded.load(
                self.store,
                self.store.data_dir / "artifacts",
                version.arn,
                version.spec["artifactId"],
                version_group.id,
                {kind: d.id for kind, d in found.items()},
                group_arn=version_group.arn,
                items_have_created=items is not None
                and any(
                    f.name == "CREATION_TIMESTAMP"
                    for f in self.dataset_fields(items)  # type: ignore[attr-defined]
                ),
            )
        if model.group_arn != group.arn:
            raise InvalidInputException(
                f"{campaign_arn or version_arn} belongs to dataset group {model.group_arn}, "
                f"not to the log's {group.arn}"
            )
        return model
