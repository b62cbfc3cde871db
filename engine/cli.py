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


experiments_app = typer.Typer(
    help="A/B tests of campaigns: create, review, offline replay.", no_args_is_help=True
)
app.add_typer(experiments_app, name="experiments")


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {getattr(exc, 'message', exc)}")
    raise typer.Exit(2) from None


def _variant_option(text: str, engine) -> dict:
    """`NAME`, `NAME=CAMPAIGN` or `NAME=CAMPAIGN@SHARE` (CAMPAIGN: a name or an ARN)."""
    name, eq, campaign = text.partition("=")
    share = None
    head, at, tail = (campaign if eq else name).rpartition("@")
    if at:
        share = tail
        if eq:
            campaign = head
        else:
            name = head
    variant: dict = {"name": name}
    if campaign:
        variant["campaignArn"] = (
            campaign if campaign.startswith("arn:") else engine.arns.make("campaign", campaign)
        )
    if share is not None:
        try:
            variant["trafficShare"] = float(share)
        except ValueError:
            raise typer.BadParameter(f"--variant {text!r}: {share!r} is not a share") from None
    return variant


def _pct(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def _num(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _p(value) -> str:
    return "-" if value is None else f"{value:.2g}"


def _with_ci(metric: dict, fmt) -> str:
    if metric.get("value") is None:
        return "-"
    return f"{fmt(metric['value'])} [{fmt(metric['ciLow'])}, {fmt(metric['ciHigh'])}]"


@experiments_app.command("create")
def experiments_create(
    name: str = typer.Argument(..., help="Experiment name."),
    group: str = typer.Option(..., "--group", "-g", help="Dataset group name or ARN."),
    variant: list[str] = typer.Option(
        ...,
        "--variant",
        "-v",
        help="NAME=CAMPAIGN[@SHARE], two or more; the first is the control. CAMPAIGN is a "
        "campaign name or ARN (omit it for a past test reviewed from an imported log); "
        "without shares the split is equal.",
    ),
    metric: str = typer.Option(
        "CLICK_THROUGH", "--metric", help="CLICK_THROUGH, CONVERSION or REVENUE_PER_USER."
    ),
    guardrail: list[str] = typer.Option(
        [], "--guardrail", help="METRIC:MAX_DROP, e.g. CONVERSION:0.05 (repeatable)."
    ),
    start: str | None = typer.Option(None, "--start", help="Start (ISO 8601; default now)."),
    end: str | None = typer.Option(None, "--end", help="End (ISO 8601; default: until stopped)."),
    click_types: str | None = typer.Option(
        None, "--click-types", help="Comma-separated click event types (default click,view)."
    ),
    conversion_types: str | None = typer.Option(
        None, "--conversion-types", help="Comma-separated conversion event types (purchase)."
    ),
    exposures: Path | None = typer.Option(
        None, "--exposures", help="Also import this historical exposure log (CSV)."
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Create an experiment (and optionally load a past A/B test's exposure log)."""
    from engine.errors import PersonalizeError

    engine = _open_engine(data_dir)
    try:
        rules = []
        for text in guardrail:
            metric_name, _, drop = text.partition(":")
            rules.append({"metricName": metric_name, "maxRelativeDrop": drop})
        arn = engine.create_experiment(
            name=name,
            datasetGroupArn=group if group.startswith("arn:") else engine.arns.dataset_group(group),
            variants=[_variant_option(v, engine) for v in variant],
            primaryMetric=metric,
            guardrails=rules or None,
            startTime=start,
            endTime=end,
            clickEventTypes=click_types.split(",") if click_types else None,
            conversionEventTypes=conversion_types.split(",") if conversion_types else None,
        )["experimentArn"]
        typer.echo(arn)
        if exposures is not None:
            found = engine.import_experiment_log(
                experimentArn=arn, dataLocation=str(exposures.resolve())
            )
            typer.echo(f"imported {found['exposures']:,} exposures")
    except PersonalizeError as exc:
        _fail(exc)
    finally:
        engine.close()


@experiments_app.command("import-log")
def experiments_import_log(
    name: str,
    location: str = typer.Argument(..., help="Exposure log CSV (path, file:// or s3://)."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Load a historical exposure log into an experiment (RECOMMENDATION_ID, USER_ID,
    TIMESTAMP, VARIANT, ITEM_IDS)."""
    from engine.errors import PersonalizeError

    engine = _open_engine(data_dir)
    try:
        where = str(Path(location).resolve()) if "://" not in location else location
        found = engine.import_experiment_log(
            experimentArn=engine.experiment_arn(name), dataLocation=where
        )
        typer.echo(f"imported {found['exposures']:,} exposures ({found['replaced']:,} replaced)")
    except PersonalizeError as exc:
        _fail(exc)
    finally:
        engine.close()


@experiments_app.command("list")
def experiments_list(
    group: str | None = typer.Option(None, "--group", "-g", help="Dataset group name or ARN."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """The experiments, newest first."""
    from rich.table import Table

    from engine.errors import PersonalizeError

    engine = _open_engine(data_dir)
    try:
        group_arn = None
        if group:
            group_arn = group if group.startswith("arn:") else engine.arns.dataset_group(group)
        found = engine.list_experiments(datasetGroupArn=group_arn)["experiments"]
    except PersonalizeError as exc:
        _fail(exc)
    finally:
        engine.close()
    table = Table("Name", "Status", "Variants", "Primary metric", "Start", "End")
    for e in found:
        table.add_row(
            e["name"],
            e["status"],
            ", ".join(e["variants"]),
            e["primaryMetric"],
            f"{e['startTime']:%Y-%m-%d %H:%M}",
            f"{e['endTime']:%Y-%m-%d %H:%M}" if e.get("endTime") else "-",
        )
    Console().print(table)


@experiments_app.command("show")
def experiments_show(name: str, data_dir: Path | None = DataDirOption) -> None:
    """One experiment: variants, shares, campaigns, metrics and window."""
    from rich.table import Table

    from engine.errors import PersonalizeError

    engine = _open_engine(data_dir)
    try:
        e = engine.describe_experiment(experimentArn=engine.experiment_arn(name))["experiment"]
    except PersonalizeError as exc:
        _fail(exc)
    finally:
        engine.close()
    out = Console()
    end = f"{e['endTime']:%Y-%m-%d %H:%M}" if e.get("endTime") else "until stopped"
    out.print(f"[bold]{e['name']}[/bold] ({e['status']})  {e['experimentArn']}")
    out.print(f"window: {e['startTime']:%Y-%m-%d %H:%M} to {end} UTC")
    out.print(f"primary metric: {e['primaryMetric']}")
    for g in e["guardrails"]:
        out.print(f"guardrail: {g['metricName']} may drop at most {g['maxRelativeDrop']:.0%}")
    table = Table("Variant", "Share", "Campaign")
    for i, v in enumerate(e["variants"]):
        label = v["name"] + (" (control)" if i == 0 else "")
        table.add_row(label, f"{v['trafficShare']:.0%}", v.get("campaignArn", "-"))
    out.print(table)


@experiments_app.command("stop")
def experiments_stop(name: str, data_dir: Path | None = DataDirOption) -> None:
    """Stop an experiment now (users go back to the control's campaign)."""
    from engine.errors import PersonalizeError

    engine = _open_engine(data_dir)
    try:
        engine.stop_experiment(experimentArn=engine.experiment_arn(name))
        typer.echo(f"stopped {name}")
    except PersonalizeError as exc:
        _fail(exc)
    finally:
        engine.close()


@experiments_app.command("results")
def experiments_results(
    name: str,
    alpha: float = typer.Option(0.05, help="Significance level (intervals are 1 - alpha)."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole review as JSON."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """The review: metrics per variant, lift against the control, guardrails, verdict."""
    import json

    from rich.table import Table

    from engine.errors import PersonalizeError

    engine = _open_engine(data_dir)
    try:
        r = engine.get_experiment_results(experimentArn=engine.experiment_arn(name), alpha=alpha)
    except PersonalizeError as exc:
        _fail(exc)
    finally:
        engine.close()
    if as_json:
        typer.echo(json.dumps(r, default=str, indent=2))
        return
    out = Console()
    level = f"{1 - alpha:.0%}"
    out.print(f"[bold]{r['name']}[/bold] ({r['status']}), primary metric {r['primaryMetric']}")
    table = Table(
        "Variant",
        "Users",
        "Impressions",
        "Clicks",
        f"Click-through [{level}]",
        f"Conversion [{level}]",
        f"Revenue/user [{level}]",
        title="Variants",
    )
    for v in r["variants"]:
        m = v["metrics"]
        table.add_row(
            v["name"] + (" (control)" if v["name"] == r["control"] else ""),
            f"{v['users']:,}",
            f"{v['impressions']:,}",
            f"{v['clicks']:,}",
            _with_ci(m["CLICK_THROUGH"], _pct),
            _with_ci(m["CONVERSION"], _pct),
            _with_ci(m["REVENUE_PER_USER"], _num),
        )
    out.print(table)
    table = Table(
        "Variant",
        "Metric",
        "Control",
        "Variant",
        f"Lift [{level}]",
        "p",
        "Sequential p",
        title=f"Against the control ({r['control']})",
    )
    for c in r["comparisons"]:
        fmt = _num if c["metric"] == "REVENUE_PER_USER" else _pct
        lift = c["lift"]
        mark = " *" if c["significant"] else ""
        table.add_row(
            c["variant"],
            c["metric"],
            fmt(c["controlValue"]),
            fmt(c["value"]),
            _with_ci(lift, lambda x: f"{x:+.1%}"),
            _p(c["pValue"]) + mark,
            _p(c["sequential"]["pValue"]),
        )
    out.print(table)
    if r["guardrails"]:
        table = Table("Variant", "Guardrail", "Max drop", "Lift", "Status", title="Guardrails")
        for g in r["guardrails"]:
            table.add_row(
                g["variant"],
                g["metricName"],
                f"{g['maxRelativeDrop']:.0%}",
                "-" if g["lift"] is None else f"{g['lift']:+.1%}",
                g["status"],
            )
        out.print(table)
    srm = r["sampleRatio"]
    flag = "[red]MISMATCH[/red]" if srm["mismatch"] else "ok"
    out.print(f"sample ratio (users): {srm['observed']} p = {_p(srm['pValue'])} {flag}")
    verdict = r["verdict"]
    out.print(f"[bold]verdict: {verdict['decision']}[/bold] {verdict['reason']}")


@experiments_app.command("offline")
def experiments_offline(
    name: str,
    campaign: str | None = typer.Option(None, "--campaign", help="Campaign name or ARN."),
    solution_version: str | None = typer.Option(
        None, "--solution-version", help="Solution version ARN."
    ),
    k: int = typer.Option(10, "--k", help="List length of the candidate."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Estimate a campaign's or solution version's click-through on the experiment's logged
    lists (replay, IPS, SNIPS with bootstrap intervals)."""
    from rich.table import Table

    from engine.errors import PersonalizeError

    engine = _open_engine(data_dir)
    try:
        if campaign and not campaign.startswith("arn:"):
            campaign = engine.arns.make("campaign", campaign)
        r = engine.estimate_offline(
            experimentArn=engine.experiment_arn(name),
            campaignArn=campaign,
            solutionVersionArn=solution_version,
            numResults=k,
        )
    except PersonalizeError as exc:
        _fail(exc)
    finally:
        engine.close()
    table = Table("Estimate", "Click-through [95%]", "Based on", title=r["candidate"])
    table.add_row(
        "logged (all variants)", _with_ci(r["logged"]["clickThrough"], _pct), f"{r['exposures']:,}"
    )
    table.add_row(
        "replay (per slot)",
        _with_ci(r["replay"]["clickThrough"], _pct),
        f"{r['replay']['matchedSlots']:,} agreeing slots",
    )
    table.add_row("IPS", _with_ci(r["ips"]["clickThrough"], _pct), f"{r['exposures']:,} exposures")
    table.add_row(
        "SNIPS",
        _with_ci(r["snips"]["clickThrough"], _pct),
        f"support {_pct(r['snips']['support'])}",
    )
    Console().print(table)


def main() -> None:
    """Entry point for `python -m engine.cli`."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    sys.exit(main())
