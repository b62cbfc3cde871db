"""What batch inference and batch segment jobs share: the catalog row, the run, progress.

A job is recorded `CREATE PENDING` and queued on the Engine's background pool. Its run marks
it `CREATE IN_PROGRESS`, loads the solution version's model (as a campaign would, but for
this job only), counts the input lines, answers them in blocks and publishes one `.out` file
per input file; then `ACTIVE`, or `CREATE FAILED` with the reason. A bad input line is not
a failure: it gets an `error` in the output and the job goes on. A process killed mid-job
leaves no output file (only a hidden temporary one, removed by the next run) and the job is
failed when the data directory is opened again.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from engine.base import summary
from engine.batch import io
from engine.errors import InvalidInputException, ResourceInUseException
from engine.recipes import recipe_name
from engine.serving import loaded
from engine.serving.filter_ops import FILTER
from engine.serving.recommend import RecommendOps
from engine.solutions.solutions import VERSION
from engine.store import Resource

#: Lines answered together (one matrix product per block; fewer for very large catalogues).
BLOCK = 512
#: Upper bound on the cells of one block's score matrix (float64: 64 MB).
BLOCK_CELLS = 8_000_000
DEFAULT_RESULTS = 25
#: Blocks answered at once by a job (numpy, BLAS and sparse products release the GIL).
THREADS = max(1, min(4, os.cpu_count() or 1))


def block_size(width: int) -> int:
    """Lines per block when each line scores `width` items or users."""
    return max(1, min(BLOCK, BLOCK_CELLS // max(1, width)))


@dataclass
class BatchProgress:
    """What a running batch job is doing, for progress bars."""

    step: str = "queued"
    lines: int = 0
    total_lines: int = 0
    errors: int = 0

    def snapshot(self) -> dict[str, Any]:
        """`fraction`, `step`, input `lines` read so far of `total_lines`, lines with `errors`."""
        if self.step == "done":
            fraction = 1.0
        else:
            fraction = min(1.0, self.lines / self.total_lines) if self.total_lines else 0.0
        return {
            "fraction": fraction,
            "step": self.step,
            "lines": self.lines,
            "total_lines": self.total_lines,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class BatchPlan:
    """Everything a run needs, fixed when the job is created."""

    job_arn: str
    version: Resource
    input_path: str
    output_path: str
    filter_arn: str | None
    num_results: int
    config: dict[str, Any] = field(default_factory=dict)


#: Answers one block of input lines with one output line each.
Answer = Callable[[list[bytes]], list[bytes]]


class BatchJobBase(RecommendOps):
    """Shared by the batch inference and batch segment operations."""

    def _batch_version(self, version_arn: str) -> tuple[Resource, str]:
        """The ACTIVE solution version a job uses, and its trained recipe's ARN."""
        version = self.catalog.require(version_arn, VERSION)
        if version.status != "ACTIVE":
            raise ResourceInUseException(
                f"solutionVersionArn {version_arn} is {version.status}; a batch job needs an "
                "ACTIVE solution version"
            )
        recipe = version.spec.get("trainedRecipeArn") or version.spec["solution"].get("recipeArn")
        return version, recipe

    def _batch_filter(self, filter_arn: str | None, version: Resource, target: str) -> None:
        """InvalidInputException unless the filter is of the version's group and `target`."""
        if not filter_arn:
            return
        resource = self.catalog.require(filter_arn, FILTER)
        expression = self._filter_expression(filter_arn, version.spec["datasetGroupArn"])
        if expression.target != target:
            raise InvalidInputException(
                f"filterArn {filter_arn} filters {expression.target}s; this job needs a "
                f"filter on {target} ({resource.spec['filterExpression']!r})"
            )

    @staticmethod
    def _num_results(value: int | None, maximum: int) -> int:
        n = DEFAULT_RESULTS if value is None else value
        if not 1 <= n <= maximum:
            raise InvalidInputException(f"numResults {n} must be from 1 to {maximum:,}")
        return n

    def _insert_batch_job(
        self,
        kind: str,
        arn: str,
        name: str,
        version_arn: str,
        spec: dict[str, Any],
        tags: list[dict[str, str]] | None,
    ) -> None:
        with self.store.transaction() as cur:
            self.catalog.insert(
                kind,
                arn,
                name,
                parent_arn=version_arn,
                status="CREATE PENDING",
                spec=spec,
                cursor=cur,
            )
            self.catalog.add_tags(arn, tags, cur)

    def _run_batch(
        self,
        plan: BatchPlan,
        progress: BatchProgress,
        prepare: Callable[[loaded.LoadedModel], tuple[Answer, int]],
    ) -> None:
        """Run a job: `prepare(model)` returns the block answerer and the block size."""
        self.catalog.update(plan.job_arn, status="CREATE IN_PROGRESS")
        progress.step = "loading the model"
        try:
            model = self.version_model(plan.version)
            answer, size = prepare(model)
            with io.input_files(plan.input_path, self.store.data_dir, self.settings) as files:
                progress.step = "counting input lines"
                progress.total_lines = sum(io.count_lines(f) for f in files)
                progress.step = "answering"
                for path in files:
                    self._answer_file(plan, path, answer, size, progress)
        except InvalidInputException as exc:
            self._fail_batch(plan, progress, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - any failure must end the job visibly
            self._fail_batch(
                plan, progress, f"internal error while running: {type(exc).__name__}: {exc}"
            )
            return
        progress.step = "done"
        self.catalog.update(
            plan.job_arn,
            status="ACTIVE",
            spec_updates={"lines": progress.lines, "errors": progress.errors},
        )

    def _answer_file(
        self, plan: BatchPlan, path: Any, answer: Answer, size: int, progress: BatchProgress
    ) -> None:
        """Answer one input file into its `.out` file. Blocks are answered on `THREADS`
        threads (the numpy work releases the GIL) and written in input order."""
        name = path.name + io.OUTPUT_SUFFIX
        pending: deque[tuple[int, Future]] = deque()

        def write_oldest() -> None:
            read, future = pending.popleft()
            written = future.result()
            progress.errors += sum(1 for w in written if not w.endswith(io.ANSWERED))
            out.write(b"".join(written))
            progress.lines += read

        with (
            io.published(plan.output_path, name, self.store.data_dir, self.settings) as temporary,
            open(temporary, "wb") as out,
            ThreadPoolExecutor(THREADS, thread_name_prefix="tailor-batch") as pool,
        ):
            for read, lines in io.blocks(path, size):
                pending.append((read, pool.submit(answer, lines)))
                if len(pending) > THREADS:
                    write_oldest()
            while pending:
                write_oldest()

    def _fail_batch(self, plan: BatchPlan, progress: BatchProgress, reason: str) -> None:
        progress.step = "failed"
        self.catalog.update(plan.job_arn, status="CREATE FAILED", failure_reason=reason)


def describe(job: Resource, arn_key: str, **extra: Any) -> dict[str, Any]:
    """A batch job's describe fields in Personalize's names."""
    spec = job.spec
    return summary(
        job,
        arn_key,
        "jobName",
        filterArn=spec.get("filterArn"),
        solutionVersionArn=job.parent_arn,
        numResults=spec["numResults"],
        jobInput=spec["jobInput"],
        jobOutput=spec["jobOutput"],
        roleArn=spec["roleArn"],
        **extra,
    )


def listed(job: Resource, arn_key: str, **extra: Any) -> dict[str, Any]:
    """A batch job's list-summary fields."""
    return summary(job, arn_key, "jobName", solutionVersionArn=job.parent_arn, **extra)


def not_for(recipe_arn: str, what: str) -> InvalidInputException:
    return InvalidInputException(
        f"solutionVersionArn: {recipe_name(recipe_arn)} solution versions {what}"
    )
