"""Runs one dataset import job: check the files, load them in one transaction, or import nothing.

Either every row of every file lands (and the job becomes ACTIVE in the same transaction) or
nothing does and the job is CREATE FAILED with a report of the bad rows. A process killed
mid-import leaves the transaction uncommitted, so DuckDB discards it on the next open.
"""

from __future__ import annotations

import csv
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.datasets import sources
from engine.datasets.avro import SchemaField
from engine.datasets.rules import ValueRule, rules_for
from engine.errors import InvalidInputException
from engine.store import data_tables, id_map
from engine.store.data_tables import EXAMPLES, BadRow

ID_FIELD = {"INTERACTIONS": None, "USERS": "USER_ID", "ITEMS": "ITEM_ID"}


class ImportRejected(Exception):
    """The data breaks the schema's rules; the message is the job's failureReason."""


@dataclass
class ImportPlan:
    """Everything a run needs, read from the catalog before the background work starts."""

    job_arn: str
    job_id: int
    dataset_id: int
    dataset_type: str
    group_id: int
    fields: list[SchemaField]
    location: str
    mode: str


@dataclass
class ImportProgress:
    """What a running import is doing, for progress bars."""

    step: str = "queued"
    files_done: int = 0
    files_total: int = 0
    rows: int = 0
    cursor: Any = field(default=None, repr=False)

    def fraction(self) -> float:
        """Share of the work done, 0..1 (DuckDB's own progress inside the current file)."""
        if self.step == "done":
            return 1.0
        if not self.files_total:
            return 0.0
        current = 0.0
        if self.cursor is not None:
            try:
                current = max(0.0, float(self.cursor.query_progress())) / 100.0
            except Exception:  # noqa: BLE001 - progress is best effort
                current = 0.0
        return min(1.0, (self.files_done + current) / self.files_total)

    def snapshot(self) -> dict[str, Any]:
        """`fraction`, `step` and `rows` for progress displays."""
        return {"fraction": self.fraction(), "step": self.step, "rows": self.rows}


def check_header(path: Path, header: list[str], fields: list[SchemaField]) -> None:
    """The file's columns must be schema fields, once each, with every required field present."""
    names = {f.name for f in fields}
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise ImportRejected(f"{path.name}: column {column!r} appears twice in the header")
        seen.add(column)
        if column not in names:
            hint = [n for n in names if n.upper() == column.upper()]
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ImportRejected(
                f"{path.name}: column {column!r} is not a field of the dataset's schema{extra}; "
                f"fields: {', '.join(f.name for f in fields)}"
            )
    missing = [f.name for f in fields if not f.nullable and f.name not in seen]
    if missing:
        raise ImportRejected(
            f"{path.name}: required column(s) {', '.join(missing)} missing from the header"
        )


def find_rule_violations(path: Path, header: list[str], rules: list[ValueRule]) -> list[BadRow]:
    """The first lines of a CSV file that break a value rule (failure report only)."""
    positions = {name: i for i, name in enumerate(header)}
    active = [(positions[r.field], r) for r in rules if r.field in positions]
    found: list[BadRow] = []
    with sources.open_text(path) as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for row in reader:
            if len(row) != len(header):
                continue  # reported by DuckDB's reader
            for index, rule in active:
                value = row[index]
                if rule.is_bad(value):
                    shown = value if len(value) <= 40 else value[:37] + "..."
                    found.append(
                        BadRow(
                            str(path), reader.line_num, rule.field, f"value {shown!r} {rule.rule}"
                        )
                    )
                    break
            if len(found) >= EXAMPLES:
                break
    return found


def failure_report(bad_rows: int, total_rows: int, examples: list[BadRow]) -> str:
    """The failureReason of a rejected import."""
    shown = "; ".join(e.describe() for e in examples[:EXAMPLES])
    return (
        f"{bad_rows} of {total_rows} rows are invalid, so nothing was imported. "
        f"First problems: {shown}"
    )


class ImportRun:
    """One execution of an ImportPlan against the store."""

    def __init__(
        self, store: Any, catalog: Any, settings: Any, plan: ImportPlan, progress: ImportProgress
    ) -> None:
        self.store, self.catalog, self.settings = store, catalog, settings
        self.plan, self.progress = plan, progress
        self.rules = rules_for(plan.fields, plan.dataset_type)
        self.download_dir = Path(store.data_dir) / "tmp" / f"import-{plan.job_id}"

    def run(self) -> None:
        """Import everything or nothing; record ACTIVE or CREATE FAILED on the job."""
        try:
            self.progress.step = "reading"
            files = sources.files_at(
                self.plan.location, self.store.data_dir, self.settings, self.download_dir
            )
            self.progress.files_total = len(files)
            headers = self._headers(files)
            self._load(files, headers)
            self.progress.step = "done"
        except (ImportRejected, InvalidInputException) as exc:
            self._fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - any failure must end the job visibly
            self._fail(f"internal error while importing: {type(exc).__name__}: {exc}")
        finally:
            shutil.rmtree(self.download_dir, ignore_errors=True)

    def _headers(self, files: list[Path]) -> list[list[str]]:
        headers = []
        with self.store.cursor() as cur:
            for path in files:
                if sources.is_parquet(path):
                    header = data_tables.parquet_columns(cur, path)
                else:
                    header = sources.csv_header(path)
                check_header(path, header, self.plan.fields)
                headers.append(header)
        return headers

    def _load(self, files: list[Path], headers: list[list[str]]) -> None:
        plan = self.plan
        with self.store.id_map_lock, self.store.transaction() as cur:
            self.progress.cursor = cur
            self.progress.step = "loading"
            bad, total, examples = self._load_files(cur, files, headers)
            self.progress.cursor = None
            if bad:
                self.progress.step = "reporting"
                raise ImportRejected(failure_report(bad, total, examples))
            self.progress.step = "committing"
            self._apply_mode(cur)
            self._extend_ids(cur)
            self.catalog.update(plan.job_arn, status="ACTIVE", cursor=cur)
            self.catalog.update(
                self.catalog.get(plan.job_arn, cur).parent_arn,
                cursor=cur,
                spec_updates={"lastImportRows": total},
            )

    def _load_files(
        self, cur: Any, files: list[Path], headers: list[list[str]]
    ) -> tuple[int, int, list[BadRow]]:
        plan, now = self.plan, time.time()
        bad = total = 0
        examples: list[BadRow] = []
        for i, (path, header) in enumerate(zip(files, headers, strict=True)):
            if sources.is_parquet(path):
                count, rows, found = data_tables.parquet_problems(
                    cur, path, header, plan.fields, self.rules
                )
                if count:
                    bad, total = bad + count, total + rows
                    examples += found
                    continue
                total += data_tables.load_parquet(
                    cur, plan.dataset_id, path, header, plan.fields, plan.job_id, now
                )
            else:
                rejects = f"rejects_{plan.job_id}_{i}"
                loaded = data_tables.load_csv(
                    cur, plan.dataset_id, path, header, plan.fields, plan.job_id, rejects, now
                )
                count, found = data_tables.csv_rejects(cur, rejects, path)
                bad, total, examples = bad + count, total + loaded + count, examples + found
            self.progress.files_done = i + 1
            self.progress.rows = total
        violations = data_tables.rule_violations(cur, plan.dataset_id, self.rules, plan.job_id)
        if violations:
            bad += violations
            for path, header in zip(files, headers, strict=True):
                if not sources.is_parquet(path) and len(examples) < EXAMPLES:
                    examples += find_rule_violations(path, header, self.rules)
            examples.sort(key=lambda e: (e.file, e.line or 0))
        bad, examples = self._duplicates(cur, bad, examples)
        return bad, total, examples

    def _duplicates(self, cur: Any, bad: int, examples: list[BadRow]) -> tuple[int, list[BadRow]]:
        id_field = ID_FIELD[self.plan.dataset_type]
        if id_field is None:
            return bad, examples
        dupes = data_tables.duplicate_ids(cur, self.plan.dataset_id, id_field, self.plan.job_id)
        if dupes:
            bad += len(dupes)
            examples = examples + [
                BadRow(
                    self.plan.location,
                    None,
                    id_field,
                    f"value {d!r} appears more than once in this import",
                )
                for d in dupes
            ]
        return bad, examples

    def _apply_mode(self, cur: Any) -> None:
        plan = self.plan
        if plan.mode == "FULL":
            data_tables.delete_previous_imports(cur, plan.dataset_id, plan.job_id)
        id_field = ID_FIELD[plan.dataset_type]
        if id_field is not None:
            data_tables.replace_existing_ids(cur, plan.dataset_id, id_field, plan.job_id)

    def _extend_ids(self, cur: Any) -> None:
        plan = self.plan
        names = {f.name for f in plan.fields}
        for entity, column in (("USER", "USER_ID"), ("ITEM", "ITEM_ID")):
            if column in names:
                id_map.extend(cur, plan.group_id, entity, plan.dataset_id, column, plan.job_id)

    def _fail(self, reason: str) -> None:
        self.progress.step = "failed"
        self.progress.cursor = None
        self.catalog.update(self.plan.job_arn, status="CREATE FAILED", failure_reason=reason)
