"""Batch segment jobs: CreateBatchSegmentJob, DescribeBatchSegmentJob, ListBatchSegmentJobs.

For aws-item-affinity and aws-item-attribute-affinity solution versions: each input line
names a set of items and gets the `numResults` users with the most affinity for it (the
model's `segment_scores`, best first), optionally only users a `UserID` filter lets through:

- aws-item-affinity: `{"itemId": "i1"}`;
- aws-item-attribute-affinity: `{"itemAttributes": "ITEMS.CATEGORY = \\"shoes\\""}` (see
  `engine.batch.attributes` for the query language).

Output lines are `{"input": <the line>, "output": {"usersList": [...]}, "error": null}`; a
line naming an item the model does not know, or a query no known item matches, gets an
`error` and the job goes on. Lines are scored in blocks (one product per block).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.batch import io
from engine.batch.attributes import matching, parse_query
from engine.batch.filtering import UserFilter
from engine.batch.jobs import (
    Answer,
    BatchJobBase,
    BatchPlan,
    BatchProgress,
    block_size,
    describe,
    listed,
)
from engine.errors import InvalidInputException
from engine.operations import operation, paginate
from engine.recipes import recipe_name
from engine.recipes.base import top_n
from engine.serving.filter_grammar import INTERACTION_DATASETS
from engine.serving.loaded import LoadedModel

BATCH_SEGMENT_JOB = "batch-segment-job"
ITEM_AFFINITY = "arn:aws:personalize:::recipe/aws-item-affinity"
ATTRIBUTE_AFFINITY = "arn:aws:personalize:::recipe/aws-item-attribute-affinity"
SEGMENT_RECIPES = (ITEM_AFFINITY, ATTRIBUTE_AFFINITY)
#: Personalize's limit on users per segment.
MAX_USERS = 5_000_000


class SegmentAnswerer:
    """Answers blocks of input lines for one segment job."""

    def __init__(self, engine: Any, model: LoadedModel, plan: BatchPlan) -> None:
        self.engine = engine
        self.model = model
        self.recipe = model.recipe
        self.n = plan.num_results
        self.attributes = self.recipe.recipe_arn == ATTRIBUTE_AFFINITY
        self.filter = UserFilter(engine, plan.filter_arn, model) if plan.filter_arn else None
        self.fields: dict[str, Any] = {}
        self.columns: dict[str, np.ndarray] = {}
        if self.attributes and model.items_dataset is not None:
            dataset = engine.catalog.list("dataset", model.group_arn)
            items = next(d for d in dataset if d.id == model.items_dataset)
            self.fields = {f.name: f for f in engine.dataset_fields(items)}
            _, self.columns = engine._item_columns(
                model.group_id, model.group_arn, self.recipe.n_items
            )

    @property
    def block(self) -> int:
        return block_size(self.recipe.n_users)

    def answer(self, lines: list[bytes]) -> list[bytes]:
        """One output line per input line, in order."""
        out: list[bytes | None] = [None] * len(lines)
        wanted: list[tuple[int, dict[str, Any], bytes, np.ndarray]] = []
        for k, line in enumerate(lines):
            given, echo, error = io.parse_line(line)
            items = None
            if error is None:
                try:
                    items = self._items(given)
                except InvalidInputException as exc:
                    error = str(exc)
            if error is not None:
                out[k] = io.output_line(echo, None, error)
            else:
                wanted.append((k, given, echo, items))
        if not wanted:
            return out  # type: ignore[return-value]
        scores = self.recipe.segment_scores([items for _, _, _, items in wanted])
        scores = np.array(scores, np.float32)  # a copy: the filter writes into it
        failed = set()
        if self.filter is not None:
            for r, (k, given, echo, _) in enumerate(wanted):
                try:
                    allow = self.filter.mask(self._filter_values(given))
                except InvalidInputException as exc:
                    out[k] = io.output_line(echo, None, str(exc))
                    failed.add(r)
                    continue
                scores[r, ~allow[: scores.shape[1]]] = -np.inf
        users, _ = top_n(scores, self.n)
        external = self.model.users.external
        for r, (k, _, echo, _) in enumerate(wanted):
            if r not in failed:
                row = users[r]
                result = {"usersList": external(row[row >= 0])}
                out[k] = io.output_line(echo, result, None)
        return out  # type: ignore[return-value]

    @staticmethod
    def _filter_values(given: dict[str, Any]) -> dict[str, str] | None:
        values = given.get("filterValues")
        if values is not None and not isinstance(values, dict):
            raise InvalidInputException("filterValues must be an object")
        return values

    def _items(self, given: dict[str, Any]) -> np.ndarray:
        """The dense ids (known to the model) of the line's item set."""
        n_items = self.recipe.n_items
        if not self.attributes:
            item_id = given.get("itemId")
            if not isinstance(item_id, str) or not item_id:
                raise InvalidInputException(
                    "itemId (a non-empty string) is required: aws-item-affinity makes one "
                    "segment per item"
                )
            dense = self.model.items.dense(item_id)
            if dense is None or dense >= n_items:
                raise InvalidInputException(
                    f"item {item_id} is unknown to the model: it had no interactions before "
                    "the solution version was trained"
                )
            return np.array([dense], np.int64)
        if "itemAttributes" not in given:
            raise InvalidInputException(
                "itemAttributes is required: aws-item-attribute-affinity makes one segment "
                'per attribute query, e.g. "ITEMS.CATEGORY = \\"shoes\\""'
            )
        if not self.fields:
            raise InvalidInputException("itemAttributes: the dataset group has no Items dataset")
        query = parse_query(given["itemAttributes"], self.fields)
        items = np.flatnonzero(matching(query, self.columns, n_items))
        if not len(items):
            raise InvalidInputException("itemAttributes: no item the model knows matches the query")
        return items


class BatchSegmentOps(BatchJobBase):
    """The batch segment job operations of the Engine."""

    @io.batch_operation("CreateBatchSegmentJob")
    def create_batch_segment_job(
        self,
        *,
        jobName: str,
        solutionVersionArn: str,
        jobInput: dict[str, Any],
        jobOutput: dict[str, Any],
        roleArn: str,
        filterArn: str | None = None,
        numResults: int | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Start making one user segment per line of `jobInput` (JSON lines) with an
        aws-item-affinity or aws-item-attribute-affinity solution version, written to
        `<jobOutput path>/<file>.out`. `numResults` users per segment (default 25, at most
        5,000,000); `filterArn` must be a UserID filter of the version's dataset group.
        """
        version, recipe_arn = self._batch_version(solutionVersionArn)
        if recipe_arn not in SEGMENT_RECIPES:
            raise InvalidInputException(
                f"solutionVersionArn: {recipe_name(recipe_arn)} does not make user segments; "
                "a batch segment job needs an aws-item-affinity or aws-item-attribute-affinity "
                "solution version"
            )
        n = self._num_results(numResults, MAX_USERS)
        self._batch_filter(filterArn, version, "UserID")
        if filterArn and recipe_arn == ATTRIBUTE_AFFINITY:
            expression = self._filter_expression(filterArn, version.spec["datasetGroupArn"])
            if any(
                c.dataset in INTERACTION_DATASETS
                for e in expression.expressions
                for c in e.conditions
            ):
                raise InvalidInputException(
                    f"filterArn {filterArn}: aws-item-attribute-affinity segments cannot be "
                    "filtered on Interactions"
                )
        path = jobInput["s3DataSource"]["path"]
        io.check_input(path, self.store.data_dir, self.settings)
        io.check_output(jobOutput["s3DataDestination"]["path"])
        arn = self.arns.make(BATCH_SEGMENT_JOB, jobName)
        spec = {
            "filterArn": filterArn,
            "numResults": n,
            "jobInput": {"s3DataSource": dict(jobInput["s3DataSource"])},
            "jobOutput": {"s3DataDestination": dict(jobOutput["s3DataDestination"])},
            "roleArn": roleArn,
        }
        self._insert_batch_job(BATCH_SEGMENT_JOB, arn, jobName, solutionVersionArn, spec, tags)
        plan = BatchPlan(arn, version, path, jobOutput["s3DataDestination"]["path"], filterArn, n)
        progress = BatchProgress()

        def prepare(model: LoadedModel) -> tuple[Answer, int]:
            answerer = SegmentAnswerer(self, model, plan)
            return answerer.answer, answerer.block

        self.jobs.submit(arn, lambda: self._run_batch(plan, progress, prepare), progress)
        return {"batchSegmentJobArn": arn}

    @operation("DescribeBatchSegmentJob")
    def describe_batch_segment_job(self, *, batchSegmentJobArn: str) -> dict[str, Any]:
        """Describe a batch segment job: its status, and failureReason if it failed."""
        job = self.catalog.require(batchSegmentJobArn, BATCH_SEGMENT_JOB)
        return {"batchSegmentJob": describe(job, "batchSegmentJobArn")}

    @operation("ListBatchSegmentJobs")
    def list_batch_segment_jobs(
        self,
        *,
        solutionVersionArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        """List batch segment jobs (of one solution version if given), newest first."""
        rows = [
            listed(j, "batchSegmentJobArn")
            for j in self.catalog.list(BATCH_SEGMENT_JOB, solutionVersionArn)
        ]
        return paginate(
            f"ListBatchSegmentJobs:{solutionVersionArn or ''}",
            rows,
            "batchSegmentJobs",
            nextToken,
            maxResults,
        )
