"""`tailor up` and `tailor api` as real processes on a free port (issue 2)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import TEST_KEY_ENV

TAILOR = str(Path(sys.executable).parent / "tailor")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"{url} did not answer 200 within {timeout}s")


def start(command: str, data_dir: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [TAILOR, command, "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **TEST_KEY_ENV},
    )


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_tailor_up_serves_dashboard_and_api_from_one_process(tmp_path):
    port = free_port()
    proc = start("up", tmp_path / "d", port)
    try:
        api = wait_until_up(f"http://127.0.0.1:{port}/api/health", proc)
        body = api.json()
        assert body["status"] == "ok"
        assert body["dataDir"] == str(tmp_path / "d")
        assert body["datasetGroups"] == 0
        st = httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=5)
        assert st.status_code == 200 and st.text == "ok"
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and '<div id="root">' in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/api/health/ready").status_code == 200
        # the same data directory cannot be opened by a second server
        second = start("api", tmp_path / "d", free_port())
        assert second.wait(timeout=60) == 2
        assert f"process {proc.pid}" in " ".join(second.stderr.read().split())
    finally:
        stop(proc)
    assert proc.returncode is not None
    assert (tmp_path / "d" / "tailor.duckdb").exists()


@pytest.mark.slow
def test_tailor_api_serves_the_api_alone(tmp_path):
    port = free_port()
    proc = start("api", tmp_path / "d", port)
    try:
        assert wait_until_up(f"http://127.0.0.1:{port}/api/health", proc).json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/_stcore/health").status_code == 404
        assert "Tailor API" in httpx.get(f"http://127.0.0.1:{port}/api/openapi.json").text
    finally:
        stop(proc)
