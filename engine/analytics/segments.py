"""Segments: user cohorts from user metadata and from behaviour (recency, frequency, value),
what each cohort interacts with (category lift), and the user segments a trained
aws-item-affinity / aws-item-attribute-affinity model finds for items or attribute values.

Functions take the Engine (and a dataset group ARN) and return Polars frames; the SQL binds
every value, and field names come only from the group's schemas. Model segments load the
solution version's checksummed artifact with the group's id map, like a campaign does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from engine.analytics.popularity import (
    DAY,
    INTERACTIONS,
    ITEMS,
    NONE_VALUE,
    USERS,
    Breakdown,
    Filters,
    GroupData,
    entity_values_sql,
    events_sql,
    group_data,
    query_frame,
)
from engine.errors import InvalidInputException
from engine.serving import loaded

BEHAVIOUR = "BEHAVIOUR"
RECENCY, FREQUENCY, MONETARY = "RECENCY", "FREQUENCY", "MONETARY"
METRIC_NAMES = {
    RECENCY: "days since last interaction",
    FREQUENCY: "interactions",
    MONETARY: "value (sum of EVENT_VALUE)",
}
NO_VALUE = "no value"
ITEM_AFFINITY = "arn:aws:personalize:::recipe/aws-item-affinity"
ITEM_ATTRIBUTE_AFFINITY = "arn:aws:personalize:::recipe/aws-item-attribute-affinity"
SEGMENT_RECIPES = {
    ITEM_AFFINITY: "Item affinity",
    ITEM_ATTRIBUTE_AFFINITY: "Item-attribute affinity",
}


@dataclass(frozen=True)
class Cohort:
    """Users grouped by a categorical field of the Users dataset (source USERS), or by a
    behaviour band (source BEHAVIOUR, field RECENCY, FREQUENCY or MONETARY, in `bands`
    quantile bands over the filtered interactions)."""

    source: str
    field: str
    bands: int = 4

    @property
    def label(self) -> str:
        if self.source == BEHAVIOUR:
            return f"Behaviour · {self.field.title()} ({METRIC_NAMES[self.field]})"
        return f"User · {self.field}"


def cohorts(data: GroupData) -> list[Cohort]:
    """The cohorts this group's data allows: each Users categorical field, recency and
    frequency (with interactions), value (with EVENT_VALUE)."""
    out = [Cohort(USERS, name) for name in data.categorical(USERS)]
    if data.has(INTERACTIONS):
        out += [Cohort(BEHAVIOUR, RECENCY), Cohort(BEHAVIOUR, FREQUENCY)]
        if data.has(INTERACTIONS, "EVENT_VALUE"):
            out.append(Cohort(BEHAVIOUR, MONETARY))
    return out


def _as_cohort(by: Cohort | Breakdown) -> Cohort | Breakdown:
    if isinstance(by, Breakdown) and by.source == USERS:
        return Cohort(USERS, by.field)
    return by


# --- behaviour: recency, frequency, value ----------------------------------------------------


def _metrics_sql(engine: Any, data: GroupData, filters: Filters) -> tuple[str, dict[str, Any]]:
    """Per user over the filtered interactions: recency (whole days from their last one to the
    end of the window), frequency (count), monetary (sum of EVENT_VALUE, NULL if none)."""
    sql, params = events_sql(data, filters, value=True)
    _, hi = filters.bounds()
    if hi is None:
        with engine.store.cursor() as cur:
            ((last,),) = cur.sql(f"SELECT max(ts) FROM ({sql})", params=params).fetchall()
        hi = int(last or 0) + 1
    query = (
        "SELECT uid, CAST(($ref - max(ts)) // $day AS BIGINT) AS recency, "
        "count(*) AS frequency, sum(value) AS monetary "
        f"FROM ({sql}) GROUP BY uid"
    )
    return query, {**params, "ref": hi, "day": DAY}


def _number(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def _bands(
    engine: Any, data: GroupData, metric: str, filters: Filters, bands: int
) -> tuple[list[float], list[str]]:
    """Quantile breaks of a metric over users (upper bounds, inclusive) and a label per band
    (one more label than breaks: the last band is everything above)."""
    sql, params = _metrics_sql(engine, data, filters)
    column = metric.lower()
    qs = [i / bands for i in range(1, bands)]
    if metric == MONETARY:
        stats = f"quantile_cont({column}, $qs), min({column}), max({column})"
        where = f"WHERE {column} > 0"
    else:
        stats = f"quantile_disc({column}, $qs), min({column}), max({column})"
        where = ""
    with engine.store.cursor() as cur:
        ((quantiles, low, high),) = cur.sql(
            f"SELECT {stats} FROM ({sql}) {where}", params={**params, "qs": qs}
        ).fetchall()
    if low is None:
        return [], [NO_VALUE] if metric == MONETARY else []
    breaks = sorted({float(q) for q in quantiles if q < high})
    labels: list[str] = []
    unit = {RECENCY: " days", FREQUENCY: "", MONETARY: ""}[metric]
    if metric == MONETARY:
        previous = None
        for b in breaks:
            labels.append(
                f"up to {_number(b)}" if previous is None else f"{_number(previous)}–{_number(b)}"
            )
            previous = b
        labels.append(f"over {_number(previous)}" if previous is not None else "any value")
        return breaks, [NO_VALUE, *labels]
    lo = int(low)
    for b in breaks:
        labels.append(f"{lo}{unit}" if lo == int(b) else f"{lo}–{int(b)}{unit}")
        lo = int(b) + 1
    labels.append(f"{lo}{unit}" if lo == int(high) else f"{lo}+{unit}")
    return breaks, labels


def _band_case(metric: str, breaks: list[float], labels: list[str]) -> tuple[str, dict]:
    if not labels:  # no users in the window: the metrics query has no rows either
        return "CAST(NULL AS VARCHAR)", {}
    column = metric.lower()
    params: dict[str, Any] = {}
    whens = []
    if metric == MONETARY:
        whens.append(f"WHEN {column} IS NULL OR {column} <= 0 THEN $label_none")
        params["label_none"] = NO_VALUE
        labels = labels[1:]
        if not labels:  # nobody has a value
            return "CAST($label_none AS VARCHAR)", params
    for i, b in enumerate(breaks):
        whens.append(f"WHEN {column} <= $break_{i} THEN $label_{i}")
        params[f"break_{i}"], params[f"label_{i}"] = b, labels[i]
    params["label_last"] = labels[-1]
    if not whens:  # one band: everyone has the same value
        return "CAST($label_last AS VARCHAR)", params
    return f"CASE {' '.join(whens)} ELSE $label_last END", params


def cohort_relation(
    engine: Any, data: GroupData, cohort: Cohort, filters: Filters
) -> tuple[str, dict[str, Any], list[str]]:
    """A query with columns uid, grp (a user with `a|b` is in both groups) and the groups in
    their natural order (behaviour bands low to high; field values sorted)."""
    if cohort.source == USERS:
        if cohort.field not in data.categorical(USERS):
            raise InvalidInputException(
                f"{cohort.field} is not a categorical field of the group's Users dataset"
            )
        sql = entity_values_sql(data, USERS, cohort.field)
        with engine.store.cursor() as cur:
            order = [
                r[0] for r in cur.sql(f"SELECT DISTINCT grp FROM ({sql}) ORDER BY 1").fetchall()
            ]
        return f"SELECT id AS uid, grp FROM ({sql})", {}, order
    if cohort.source != BEHAVIOUR or cohort.field not in METRIC_NAMES:
        raise InvalidInputException(f"unknown cohort {cohort.source} {cohort.field}")
    if cohort.field == MONETARY and not data.has(INTERACTIONS, "EVENT_VALUE"):
        raise InvalidInputException("the Interactions dataset has no EVENT_VALUE field")
    if not 2 <= cohort.bands <= 10:
        raise InvalidInputException("behaviour cohorts need 2 to 10 bands")
    breaks, labels = _bands(engine, data, cohort.field, filters, cohort.bands)
    metrics, params = _metrics_sql(engine, data, filters)
    case, case_params = _band_case(cohort.field, breaks, labels)
    return f"SELECT uid, {case} AS grp FROM ({metrics})", {**params, **case_params}, labels


def cohort_sizes(engine: Any, group_arn: str, cohort: Cohort, filters: Filters) -> pl.DataFrame:
    """Users per cohort group: grp, users (in natural order). Users-field cohorts count every
    user of the Users dataset; behaviour cohorts the users active in the filtered window."""
    data = group_data(engine, group_arn)
    sql, params, order = cohort_relation(engine, data, cohort, filters)
    sizes = query_frame(
        engine, f"SELECT grp, count(DISTINCT uid) AS users FROM ({sql}) GROUP BY grp", params
    )
    return _in_order(sizes, order)


def _in_order(frame: pl.DataFrame, order: list[str], column: str = "grp") -> pl.DataFrame:
    rank = {g: i for i, g in enumerate(order)}
    return (
        frame.with_columns(
            pl.col(column)
            .replace_strict(rank, default=len(rank), return_dtype=pl.Int64)
            .alias("_o")
        )
        .sort(["_o", column], maintain_order=True)
        .drop("_o")
    )


def cohort_members(
    engine: Any, group_arn: str, cohort: Cohort, value: str, filters: Filters
) -> pl.DataFrame:
    """The users of one cohort group, for a CSV: USER_ID, interactions and last_interaction
    (UTC) in the filtered window (0 / empty for users without any), value where present."""
    data = group_data(engine, group_arn)
    sql, params, _ = cohort_relation(engine, data, cohort, filters)
    metrics, metric_params = _metrics_sql(engine, data, filters)
    events, event_params = events_sql(data, filters)
    query = f"""
        SELECT c.uid AS USER_ID, coalesce(m.frequency, 0) AS interactions,
            CAST(make_timestamp(l.last * 1000000) AS DATE) AS last_interaction,
            m.monetary AS value
        FROM (SELECT DISTINCT uid FROM ({sql}) WHERE grp = $value) c
        LEFT JOIN ({metrics}) m ON m.uid = c.uid
        LEFT JOIN (SELECT uid, max(ts) AS last FROM ({events}) GROUP BY uid) l ON l.uid = c.uid
        ORDER BY interactions DESC, USER_ID
    """
    frame = query_frame(engine, query, {**params, **metric_params, **event_params, "value": value})
    if not data.has(INTERACTIONS, "EVENT_VALUE"):
        frame = frame.drop("value")
    return frame


# --- what cohorts interact with ---------------------------------------------------------------


def category_lift(
    engine: Any,
    group_arn: str,
    by: Cohort | Breakdown,
    category: str,
    filters: Filters,
) -> pl.DataFrame:
    """For each group of `by` (a cohort, or a Users/Interactions breakdown) and each value of the
    Items field `category`: grp, category, interactions, group_interactions, share (of the
    group's interactions), overall_share (of all filtered interactions), lift = share /
    overall_share, users (in the group). An item in `a|b` counts in both categories."""
    data = group_data(engine, group_arn)
    if category not in data.categorical(ITEMS):
        raise InvalidInputException(
            f"{category} is not a categorical field of the group's Items dataset"
        )
    by = _as_cohort(by)
    cats = entity_values_sql(data, ITEMS, category)
    if isinstance(by, Breakdown):
        if by.source != INTERACTIONS:
            raise InvalidInputException("group by a Users field, a behaviour band or a context")
        events, params = events_sql(data, filters, context=by.field)
        grouped, order = events, None
    else:
        events, params = events_sql(data, filters)
        relation, rel_params, order = cohort_relation(engine, data, by, filters)
        params = {**params, **rel_params}
        grouped = f"SELECT e.*, r.grp FROM ({events}) e JOIN ({relation}) r ON r.uid = e.uid"
    query = f"""
        WITH g AS ({grouped}),
        cells AS (
            SELECT g.grp, c.grp AS category, count(*) AS interactions
            FROM g JOIN ({cats}) c ON c.id = g.item GROUP BY ALL
        ),
        totals AS (SELECT grp, count(*) AS group_interactions, count(DISTINCT uid) AS users
                   FROM g GROUP BY grp),
        overall AS (
            SELECT c.grp AS category, count(*) / (SELECT count(*) FROM ({events})) AS overall_share
            FROM ({events}) e JOIN ({cats}) c ON c.id = e.item GROUP BY ALL
        )
        SELECT cells.grp, cells.category, cells.interactions, totals.group_interactions,
            cells.interactions / totals.group_interactions AS share, overall.overall_share,
            share / overall.overall_share AS lift, totals.users
        FROM cells JOIN totals USING (grp) JOIN overall USING (category)
        ORDER BY cells.grp, cells.category
    """
    frame = query_frame(engine, query, params)
    if order is None:
        order = (
            frame.group_by("grp")
            .agg(pl.col("group_interactions").first())
            .sort("group_interactions", descending=True)["grp"]
            .to_list()
        )
    return _in_order(frame, order)


def rfm_grid(engine: Any, group_arn: str, filters: Filters, bands: int = 4) -> pl.DataFrame:
    """Users by recency band x frequency band: recency, frequency (band labels), users,
    mean_value (the users' mean total EVENT_VALUE, 0 for those without; null when the
    Interactions have no EVENT_VALUE field), recency_band and
    frequency_band (0 = most recent / fewest interactions)."""
    data = group_data(engine, group_arn)
    metrics, params = _metrics_sql(engine, data, filters)
    r_breaks, r_labels = _bands(engine, data, RECENCY, filters, bands)
    f_breaks, f_labels = _bands(engine, data, FREQUENCY, filters, bands)
    if not r_labels or not f_labels:  # nobody interacted in the window
        return pl.DataFrame(
            schema={
                "recency": pl.Utf8,
                "frequency": pl.Utf8,
                "users": pl.Int64,
                "mean_value": pl.Float64,
                "recency_band": pl.Int64,
                "frequency_band": pl.Int64,
            }
        )
    r_case, r_params = _band_case(RECENCY, r_breaks, r_labels)
    f_case, f_params = _band_case(FREQUENCY, f_breaks, f_labels)
    f_case = f_case.replace("$break_", "$fbreak_").replace("$label_", "$flabel_")
    f_params = {"f" + k: v for k, v in f_params.items()}
    has_value = data.has(INTERACTIONS, "EVENT_VALUE")
    mean = "avg(coalesce(monetary, 0))" if has_value else "CAST(NULL AS DOUBLE)"
    frame = query_frame(
        engine,
        f"SELECT {r_case} AS recency, {f_case} AS frequency, count(*) AS users, "
        f"{mean} AS mean_value FROM ({metrics}) GROUP BY ALL",
        {**params, **r_params, **f_params},
    )
    r_rank = {g: i for i, g in enumerate(r_labels)}
    f_rank = {g: i for i, g in enumerate(f_labels)}
    return frame.with_columns(
        pl.col("recency").replace_strict(r_rank, return_dtype=pl.Int64).alias("recency_band"),
        pl.col("frequency").replace_strict(f_rank, return_dtype=pl.Int64).alias("frequency_band"),
    ).sort("recency_band", "frequency_band")


# --- model segments --------------------------------------------------------------------------


def segment_models(engine: Any, group_arn: str) -> list[dict[str, Any]]:
    """ACTIVE solution versions of the group's item-affinity and item-attribute-affinity
    solutions, newest first: solutionVersionArn, solutionName, recipeArn, trained."""
    out = []
    for solution in _all(engine.list_solutions, "solutions", datasetGroupArn=group_arn):
        recipe = solution.get("recipeArn")
        if recipe not in SEGMENT_RECIPES:
            continue
        for version in _all(
            engine.list_solution_versions, "solutionVersions", solutionArn=solution["solutionArn"]
        ):
            if version["status"] == "ACTIVE":
                out.append(
                    {
                        "solutionVersionArn": version["solutionVersionArn"],
                        "solutionName": solution["name"],
                        "recipeArn": recipe,
                        "trained": version["lastUpdatedDateTime"],
                    }
                )
    return sorted(out, key=lambda v: v["trained"], reverse=True)


def _all(list_operation: Any, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    rows, token = [], None
    while True:
        page = list_operation(**kwargs, **({"nextToken": token} if token else {}))
        rows += page[key]
        token = page.get("nextToken")
        if not token:
            return rows


def train_segment_model(
    engine: Any,
    group_arn: str,
    recipe_arn: str = ITEM_AFFINITY,
    hyperparameters: dict[str, str] | None = None,
) -> str:
    """Create a solution of a segment recipe and start training a version; returns its ARN
    (follow it with `engine.job_progress`)."""
    if recipe_arn not in SEGMENT_RECIPES:
        raise InvalidInputException(f"{recipe_arn} does not make user segments")
    group = engine.catalog.require(group_arn, "dataset-group")
    name = f"{group.name[:30]}-{recipe_arn.rsplit('/', 1)[-1]}-{time.strftime('%Y%m%d-%H%M%S')}"
    config = {"algorithmHyperParameters": hyperparameters} if hyperparameters else None
    solution = engine.create_solution(
        name=name,
        datasetGroupArn=group_arn,
        recipeArn=recipe_arn,
        **({"solutionConfig": config} if config else {}),
    )["solutionArn"]
    return engine.create_solution_version(solutionArn=solution)["solutionVersionArn"]


def load_segment_model(engine: Any, version_arn: str) -> loaded.LoadedModel:
    """A segment recipe's trained model with its group's id maps."""
    version = engine.catalog.require(version_arn, "solution-version")
    recipe = version.spec["solution"].get("recipeArn")
    if version.status != "ACTIVE":
        raise InvalidInputException(f"solution version {version_arn} is {version.status}")
    if recipe not in SEGMENT_RECIPES:
        raise InvalidInputException(f"{version_arn} is a {recipe} model, not a segment model")
    group = engine.catalog.require(version.spec["datasetGroupArn"], "dataset-group")
    datasets = {d.spec["datasetType"]: d.id for d in engine.catalog.list("dataset", group.arn)}
    return loaded.load(
        engine.store,
        engine.store.data_dir / "artifacts",
        version_arn,
        version.spec["artifactId"],
        group.id,
        datasets,
        group_arn=group.arn,
    )


def items_matching(engine: Any, group_arn: str, field: str, value: str) -> list[str]:
    """Items whose categorical field `field` has `value` (one of its `a|b` values)."""
    data = group_data(engine, group_arn)
    if field not in data.categorical(ITEMS):
        raise InvalidInputException(f"{field} is not a categorical field of the Items dataset")
    sql = entity_values_sql(data, ITEMS, field)
    frame = query_frame(
        engine, f"SELECT id FROM ({sql}) WHERE grp = $value ORDER BY id", {"value": value}
    )
    return frame["id"].to_list()


def item_field_values(engine: Any, group_arn: str, field: str) -> pl.DataFrame:
    """The values of an Items categorical field with their item counts (value, items)."""
    data = group_data(engine, group_arn)
    if field not in data.categorical(ITEMS):
        raise InvalidInputException(f"{field} is not a categorical field of the Items dataset")
    sql = entity_values_sql(data, ITEMS, field)
    return query_frame(
        engine,
        f"SELECT grp AS value, count(*) AS items FROM ({sql}) WHERE grp <> '{NONE_VALUE}' "
        "GROUP BY grp ORDER BY items DESC, value",
        {},
    )


def segment(model: loaded.LoadedModel, items: list[str], size: int) -> pl.DataFrame:
    """The `size` users with the highest affinity for the item set: USER_ID, score, rank."""
    dense = model.items.dense_many(items)
    known = dense[(dense >= 0) & (dense < model.recipe.n_items)]
    if not len(known):
        raise InvalidInputException(
            "the model does not know "
            + (f"item {items[0]}" if len(items) == 1 else "these items")
            + ": it has no interactions from before the model was trained"
        )
    size = int(max(1, min(size, model.recipe.n_users)))
    users, scores = model.recipe.user_segments([known], n=size)
    keep = users[0] >= 0
    ids = users[0][keep]
    return pl.DataFrame(
        {
            "USER_ID": model.users.external(ids),
            "score": scores[0][keep].astype(np.float64),
            "rank": np.arange(1, int(keep.sum()) + 1, dtype=np.int64),
        }
    )


def overlap(segments: dict[str, list[str]]) -> pl.DataFrame:
    """Every ordered pair of named segments: a, b, a_users, b_users, shared, share_of_a (of
    a's users also in b), jaccard (shared / either)."""
    sets = {name: set(users) for name, users in segments.items()}
    rows = []
    for a, users_a in sets.items():
        for b, users_b in sets.items():
            shared = len(users_a & users_b)
            either = len(users_a | users_b)
            rows.append(
                {
                    "a": a,
                    "b": b,
                    "a_users": len(users_a),
                    "b_users": len(users_b),
                    "shared": shared,
                    "share_of_a": shared / len(users_a) if users_a else 0.0,
                    "jaccard": shared / either if either else 0.0,
                }
            )
    schema = {
        "a": pl.Utf8,
        "b": pl.Utf8,
        "a_users": pl.Int64,
        "b_users": pl.Int64,
        "shared": pl.Int64,
        "share_of_a": pl.Float64,
        "jaccard": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def profile(engine: Any, group_arn: str, users: list[str], field: str) -> pl.DataFrame:
    """Who is in a segment by a Users categorical field: value, segment_users, segment_share,
    all_users, overall_share, lift (segment share / share among all users)."""
    data = group_data(engine, group_arn)
    if field not in data.categorical(USERS):
        raise InvalidInputException(f"{field} is not a categorical field of the Users dataset")
    sql = entity_values_sql(data, USERS, field)
    query = f"""
        WITH v AS ({sql}),
        seg AS (SELECT DISTINCT unnest($users::VARCHAR[]) AS id)
        SELECT v.grp AS value,
            count(DISTINCT v.id) FILTER (WHERE seg.id IS NOT NULL) AS segment_users,
            count(DISTINCT v.id) AS all_users
        FROM v LEFT JOIN seg ON seg.id = v.id
        GROUP BY v.grp ORDER BY v.grp
    """
    frame = query_frame(engine, query, {"users": list(users)})
    in_segment = max(len(set(users)), 1)
    everyone = query_frame(engine, f"SELECT count(DISTINCT id) AS n FROM ({sql})", {})["n"][0] or 1
    return (
        frame.with_columns(
            (pl.col("segment_users") / in_segment).alias("segment_share"),
            (pl.col("all_users") / everyone).alias("overall_share"),
        )
        .with_columns((pl.col("segment_share") / pl.col("overall_share")).alias("lift"))
        .select("value", "segment_users", "segment_share", "all_users", "overall_share", "lift")
    )
