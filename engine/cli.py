"""The `tailor` command: start the server, initialise a data directory, make sample data."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from engine.config import Settings, default_data_dir
from engine.errors import DataDirectoryLocked
from engine.store.connection import DB_FILE

app = typer.Typer(
    help="Tailor: Amazon Personalize's API on your own machine, with a dashboard.",
    no_args_is_help=True,
)
sample_app = typer.Typer(help="The synthetic sample store in data/sample.", no_args_is_help=True)
app.add_typer(sample_app, name="sample")
console = Console(stderr=True)

DataDirOption = typer.Option(
    None,
    "--data-dir",
    "-d",
    envvar="TAILOR_DATA_DIR",
    help="Data directory (default ./.tailor-data).",
)


def _open_engine(data_dir: Path | None):
    from engine.engine import Engine

    try:
        return Engine(data_dir or default_data_dir(), Settings.from_env())
    except DataDirectoryLocked as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _load_sample_with_progress(engine, sample_dir: Path | None) -> None:
    from engine.sample_data import SAMPLE_DIR, load_sample

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        tasks: dict[str, int] = {}

        def on_progress(job: str, fraction: float) -> None:
            if job not in tasks:
                tasks[job] = bar.add_task(f"import {job}", total=1.0)
            bar.update(tasks[job], completed=fraction)

        load_sample(engine, sample_dir or SAMPLE_DIR, on_progress=on_progress)


@app.command()
def init(
    data_dir: Path | None = DataDirOption,
    sample: bool = typer.Option(
        False,
        "--sample",
        help="Create dataset group 'sample' from data/sample through import jobs.",
    ),
    sample_dir: Path | None = typer.Option(None, help="Where the sample files are."),
) -> None:
    """Create a data directory (and optionally the sample dataset group)."""
    engine = _open_engine(data_dir)
    try:
        if sample:
            groups = engine.list_dataset_groups()["datasetGroups"]
            if any(g["name"] == "sample" for g in groups):
                console.print("dataset group 'sample' exists already; nothing to do")
            else:
                _load_sample_with_progress(engine, sample_dir)
        _credentials(engine.data_dir)
        console.print(f"data directory ready: {engine.data_dir.resolve()}")
    finally:
        engine.close()


def _credentials(directory: Path) -> None:
    from engine.auth.bootstrap import ensure_credentials

    _, path = ensure_credentials(Path(directory))
    if path is not None:
        console.print(
            f"API credentials (admin): export AWS_SHARED_CREDENTIALS_FILE={path.resolve()}"
        )


def _start(data_dir: Path | None, host: str, port: int, dashboard: bool, sample: bool) -> None:
    from engine.server import serve

    directory = data_dir or default_data_dir()
    is_new = not (Path(directory) / DB_FILE).exists()
    engine = _open_engine(directory)
    _credentials(directory)
    if sample and is_new:
        console.print("new data directory: loading the sample store from data/sample")
        _load_sample_with_progress(engine, None)
    where = f"http://{'localhost' if host in ('0.0.0.0', '127.0.0.1') else host}:{port}"
    console.print(
        f"Tailor {'dashboard at ' + where + '/ and ' if dashboard else ''}"
        f"API at {where}/api (data: {Path(directory).resolve()})"
    )
    serve(engine, host, port, dashboard=dashboard)


@app.command()
def up(
    data_dir: Path | None = DataDirOption,
    host: str = typer.Option("127.0.0.1", envvar="TAILOR_HOST"),
    port: int = typer.Option(8501, envvar="TAILOR_PORT"),
    sample: bool = typer.Option(
        False,
        "--sample",
        help="On first start (a new data directory) load the sample store from data/sample.",
    ),
) -> None:
    """Serve the dashboard (/) and the API (/api) from one process."""
    _start(data_dir, host, port, dashboard=True, sample=sample)


@app.command()
def api(
    data_dir: Path | None = DataDirOption,
    host: str = typer.Option("127.0.0.1", envvar="TAILOR_HOST"),
    port: int = typer.Option(8501, envvar="TAILOR_PORT"),
) -> None:
    """Serve the API alone, at /api."""
    _start(data_dir, host, port, dashboard=False, sample=False)


keys_app = typer.Typer(help="Access keys for the API (AWS SigV4).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    name: str = typer.Option(..., "--name"),
    role: str = typer.Option("admin", "--role", help="admin, runtime (recommendations) or events"),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Issue a key; its secret is shown once."""
    from engine.auth.keys import KeyStore

    try:
        key = KeyStore(data_dir or default_data_dir()).create(name, role)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    typer.echo(f"aws_access_key_id = {key.access_key_id}")
    typer.echo(f"aws_secret_access_key = {key.secret_access_key}")


@keys_app.command("list")
def keys_list(data_dir: Path | None = DataDirOption) -> None:
    """The keys (never their secrets)."""
    from engine.auth.keys import KeyStore

    for info in KeyStore(data_dir or default_data_dir()).list():
        typer.echo("\t".join(info.to_dict().values()))


@keys_app.command("revoke")
def keys_revoke(access_key_id: str, data_dir: Path | None = DataDirOption) -> None:
    """Revoke a key at once (a running server refuses it from the next request)."""
    from engine.auth.keys import KeyStore

    if not KeyStore(data_dir or default_data_dir()).revoke(access_key_id):
        console.print(f"[red]error:[/red] no key {access_key_id}")
        raise typer.Exit(2)
    typer.echo(f"revoked {access_key_id}")


@sample_app.command("generate")
def sample_generate(
    out: Path = typer.Option(Path("data/sample"), help="Output folder."),
    seed: int = typer.Option(42, help="Random seed (42 makes the committed files)."),
) -> None:
    """Write the synthetic sample store (CSV + schemas); the same seed gives identical bytes."""
    from engine.sample import generate

    paths = generate(out, seed=seed)
    for name, path in paths.items():
        console.print(f"{name}: {path}")


def main() -> None:
    """Entry point for `python -m engine.cli`."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    sys.exit(main())
