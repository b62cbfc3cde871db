"""The README's five-minute tour runs as written against a real server (keeps the docs true)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import TEST_KEY_ID, TEST_SECRET
from tests.test_server import free_port, start, stop, wait_until_up

ROOT = Path(__file__).resolve().parent.parent


def tour_code() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## A five-minute tour", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_boto3_tour_runs_as_written(tmp_path):
    data_dir = tmp_path / "d"
    port = free_port()
    proc = start("api", data_dir, port)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/health", proc)
        result = subprocess.run(
            [sys.executable, "-c", tour_code()],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={
                **os.environ,
                "TAILOR_URL": f"http://127.0.0.1:{port}/api",
                "TAILOR_DATA_DIR": str(data_dir),
                "AWS_ACCESS_KEY_ID": TEST_KEY_ID,
                "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
            },
        )
    finally:
        stop(proc)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ACTIVE")
    assert lines[1].startswith("CREATE FAILED 1 of 2 rows are invalid")
    assert "broken.csv line 3, column TIMESTAMP" in lines[1]
    assert lines[2].startswith("ACTIVE NDCG@10 0.")
    assert lines[3].startswith("for u00042: ['")
    first = ast.literal_eval(lines[3].split(": ", 1)[1])
    after = ast.literal_eval(lines[4].split(": ", 1)[1])
    assert lines[4].startswith("after one view:") and len(after) == 5
    assert first[0] not in after
    assert lines[5].startswith("as expected:")
