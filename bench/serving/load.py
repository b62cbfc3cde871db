"""The benchmark's load generator: one process, one asyncio loop, N persistent connections.

Each connection keeps one request in flight (a closed loop, as N application threads calling
boto3 would). Requests are built and SigV4-signed by botocore before the clock starts
(`signing.Signer`) and sent as raw HTTP/1.1 bytes; a response is read by its
`content-length`. The process reports its own CPU time and the server's over the measured
window, so one can see which side the two shared cores went to.

Run by bench/serving/run.py with a JSON config file; it prints JSON lines on stdout:
`{"event": "measuring"}`, `{"event": "progress", "done": n}` and one `{"event": "result"}`.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from signing import Signer  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU ticks of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def user_ids(rng: np.random.Generator, n: int, n_users: int, unknown_share: float) -> list[str]:
    """Known users uniformly, plus a share of users the model has never seen."""
    known = rng.integers(0, n_users, n)
    unknown = rng.random(n) < unknown_share
    fresh = rng.integers(0, 10**9, n)
    return [f"new-{f}" if u else f"u{k:05d}" for k, u, f in zip(known, unknown, fresh, strict=True)]


def build_pool(cfg: dict[str, Any]) -> list[bytes]:
    """`cfg["pool"]` distinct signed requests for the phase's target."""
    signer = Signer(cfg["endpoint"], cfg["key_id"], cfg["secret"])
    rng = np.random.default_rng(cfg["seed"])
    n = cfg["pool"]
    users = user_ids(rng, n, cfg["n_users"], cfg["unknown_share"])
    kind = cfg["kind"]
    pool = []
    if kind in ("bare", "real"):
        for user in users:
            params = {"campaignArn": cfg["campaign_arn"], "userId": user, "numResults": 25}
            if kind == "real":
                pool.append(signer.operation("personalize-runtime", "GetRecommendations", params))
            else:  # the same body, signed the same way, to the bare route
                body = json.dumps(params).encode()
                pool.append(signer.raw("POST", cfg["bare_path"], body))
    elif kind == "events":
        per = cfg["events_per_request"]
        items = np.minimum(
            (cfg["n_items"] * rng.random((n, per)) ** 3).astype(np.int64), cfg["n_items"] - 1
        )
        now = datetime.now(UTC)
        for r, user in enumerate(users):
            events = [
                {
                    "eventType": "view",
                    "sentAt": now,
                    "itemId": f"i{int(items[r, e]):05d}",
                    "eventId": f"bench-{cfg['seed']}-{r}-{e}",
                }
                for e in range(per)
            ]
            params = {
                "trackingId": cfg["tracking_id"],
                "userId": user,
                "sessionId": f"session-{user}",
                "eventList": events,
            }
            pool.append(signer.operation("personalize-events", "PutEvents", params))
    else:
        raise ValueError(kind)
    return pool


class Driver:
    """Sends the pool round-robin over `concurrency` connections until a deadline."""

    def __init__(self, pool: list[bytes]) -> None:
        self.pool = pool
        self.next = 0
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.sample: bytes | None = None
        self.record = False

    async def connection(self, host: str, port: int, deadline: float) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                request = self.pool[self.next % len(self.pool)]
                self.next += 1
                start = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                lower = head.lower()
                at = lower.find(b"\r\ncontent-length:")
                if at < 0:
                    raise RuntimeError(f"no content-length in {head!r}")
                end = lower.find(b"\r\n", at + 2)
                body = await reader.readexactly(int(lower[at + 17 : end]))
                elapsed = time.perf_counter() - start
                if self.record:
                    self.latencies.append(elapsed)
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                if self.sample is None or status != 200:
                    self.sample = head + body
        finally:
            writer.close()

    async def run(self, host: str, port: int, concurrency: int, seconds: float) -> float:
        """Drive for `seconds`; the wall time until the last in-flight request answered."""
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(*(self.connection(host, port, deadline) for _ in range(concurrency)))
        return time.perf_counter() - start


async def progress(driver: Driver, stop: asyncio.Event) -> None:
    while not stop.is_set():
        print(json.dumps({"event": "progress", "done": len(driver.latencies)}), flush=True)
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except TimeoutError:
            pass


async def phase(cfg: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    pool = build_pool(cfg)
    sign_seconds = time.perf_counter() - started
    host, port = cfg["host"], cfg["port"]
    driver = Driver(pool)
    if cfg["warmup"] > 0:
        await driver.run(host, port, cfg["concurrency"], cfg["warmup"])
    driver.record = True
    print(json.dumps({"event": "measuring"}), flush=True)
    stop = asyncio.Event()
    reporter = asyncio.create_task(progress(driver, stop))
    cpu0, server0, busy0 = self_cpu(), process_cpu(cfg["server_pid"]), machine_busy()
    sent0 = driver.next
    wall = await driver.run(host, port, cfg["concurrency"], cfg["duration"])
    cpu1, server1, busy1 = self_cpu(), process_cpu(cfg["server_pid"]), machine_busy()
    stop.set()
    await reporter
    return {
        "event": "result",
        "kind": cfg["kind"],
        "wall": wall,
        "latencies": driver.latencies,
        "statuses": {str(k): v for k, v in driver.statuses.items()},
        "client_cpu": cpu1 - cpu0,
        "server_cpu": server1 - server0,
        "machine_busy": (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
        "sent": driver.next - sent0,
        "pool": len(pool),
        "sign_seconds": sign_seconds,
        "sample": (driver.sample or b"").decode("utf-8", "replace")[:2000],
    }


def main() -> None:
    cfg = json.loads(Path(sys.argv[1]).read_text())
    result = asyncio.run(phase(cfg))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
