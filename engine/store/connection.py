"""The DuckDB connection of a data directory: opening, migrations, cursors and transactions.

One process holds one connection; each thread or unit of work takes its own `cursor()`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import duckdb

from engine.config import Settings
from engine.store.lock import DataDirLock

DB_FILE = "tailor.duckdb"


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped in engine/store/migrations, in order."""
    folder = resources.files("engine.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text()))
    return sorted(found)


class Store:
    """Owns `<data_dir>/tailor.duckdb` (and the directory lock) for this process."""

    def __init__(self, data_dir: Path, settings: Settings) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "tmp").mkdir(exist_ok=True)
        self.lock = DataDirLock(self.data_dir)
        self.lock.acquire()
        try:
            self.connection = duckdb.connect(
                str(self.data_dir / DB_FILE), config=self._config(settings)
            )
        except BaseException:
            self.lock.release()
            raise
        self.write_lock = threading.RLock()
        # Held by every transaction that assigns dense ids (imports, events): two concurrent
        # transactions would otherwise each give the same new id a number.
        self.id_map_lock = threading.Lock()
        self.migrate()

    def _config(self, settings: Settings) -> dict[str, str]:
        config = {"temp_directory": str(self.data_dir / "tmp")}
        if settings.memory_limit:
            config["memory_limit"] = settings.memory_limit
        if settings.threads:
            config["threads"] = str(settings.threads)
        return config

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction; return their versions."""
        with self.cursor() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at DOUBLE NOT NULL)"
            )
            done = {
                row[0] for row in cur.execute("SELECT version FROM schema_migrations").fetchall()
            }
        applied = []
        for version, name, sql in migration_files():
            if version in done:
                continue
            with self.transaction() as cur:
                cur.execute(sql)
                cur.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, time.time()]
                )
            applied.append(version)
        return applied

    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of the process's connection, closed afterwards."""
        cur = self.connection.cursor()
        try:
            yield cur
        finally:
            cur.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside BEGIN ... COMMIT; any exception rolls everything back."""
        with self.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def close(self) -> None:
        """Checkpoint and close the database, then release the directory lock."""
        try:
            self.connection.close()
        finally:
            self.lock.release()
