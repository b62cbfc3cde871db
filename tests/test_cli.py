"""The `tailor` command line: init with the sample store, sample generation (issue 2)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from engine import Engine

TAILOR = str(Path(sys.executable).parent / "tailor")
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([TAILOR, *args], capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_init_with_sample_creates_a_ready_dataset_group(tmp_path):
    first = run("init", "--data-dir", str(tmp_path / "d"), "--sample")
    assert first.returncode == 0, first.stderr
    assert "data directory ready" in first.stderr
    assert "import sample-interactions-initial" in first.stderr  # the progress bar's label
    again = run("init", "--data-dir", str(tmp_path / "d"), "--sample")
    assert again.returncode == 0 and "exists already" in again.stderr
    with Engine(tmp_path / "d") as engine:
        groups = engine.list_dataset_groups()["datasetGroups"]
        assert [g["name"] for g in groups] == ["sample"]
        report = engine.get_data_readiness(datasetGroupArn=groups[0]["datasetGroupArn"])
        jobs = engine.list_dataset_import_jobs()["datasetImportJobs"]
    assert report["readyToTrain"]
    assert sorted(report["datasets"]) == ["INTERACTIONS", "ITEMS", "USERS"]
    assert {j["status"] for j in jobs} == {"ACTIVE"} and len(jobs) == 3


@pytest.mark.slow
def test_sample_generate_reproduces_the_committed_files(tmp_path):
    result = run("sample", "generate", "--out", str(tmp_path), "--seed", "42")
    assert result.returncode == 0, result.stderr
    for name in ("users.csv", "items.csv", "interactions.csv", "interactions.schema.json"):
        made = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
        committed = hashlib.sha256((SAMPLE / name).read_bytes()).hexdigest()
        assert made == committed, name


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("up", "api", "init", "sample"):
        assert command in result.stdout


def test_first_start_writes_admin_credentials_and_keys_can_be_managed(tmp_path):
    import configparser
    import os
    import stat

    env_free = {k: v for k, v in os.environ.items() if not k.startswith("TAILOR_")}
    first = subprocess.run(
        [TAILOR, "init", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env_free,
    )
    assert first.returncode == 0, first.stderr
    credentials = tmp_path / "d" / "credentials"
    assert "AWS_SHARED_CREDENTIALS_FILE=" in " ".join(first.stderr.split())
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    profile = configparser.ConfigParser()
    profile.read(credentials)
    admin = profile["default"]["aws_access_key_id"]
    created = run(
        "keys", "create", "--name", "app", "--role", "runtime", "--data-dir", str(tmp_path / "d")
    )
    assert created.returncode == 0, created.stderr
    runtime_id = created.stdout.split()[2]
    listed = run("keys", "list", "--data-dir", str(tmp_path / "d")).stdout
    assert admin in listed and runtime_id in listed and "runtime" in listed
    assert profile["default"]["aws_secret_access_key"] not in listed  # secrets never listed
    assert run("keys", "revoke", runtime_id, "--data-dir", str(tmp_path / "d")).returncode == 0
    assert runtime_id not in run("keys", "list", "--data-dir", str(tmp_path / "d")).stdout
    bad = run(
        "keys", "create", "--name", "x", "--role", "superuser", "--data-dir", str(tmp_path / "d")
    )
    assert bad.returncode == 2
