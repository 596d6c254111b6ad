"""What the benchmarks share: services on loopback ports, percentiles, machine facts, result files.

Services run as processes of their own (`shopbot mock-bedrock`, `shopbot storefront`,
`shopbot serve`), each on a free port of 127.0.0.1, started in an empty working
directory (no `.env` is read) with an environment cleaned of shopbot's, AWS's and
the backend's variables, logging to a file that is shown if the process fails to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "RESULTS",
    "Service",
    "chat_service",
    "cpu_seconds",
    "emit",
    "free_port",
    "http_client",
    "load_clients",
    "machine",
    "machine_cpu_seconds",
    "mock_bedrock",
    "model_stats",
    "percentile",
    "rss_bytes",
    "spawn",
    "storefront",
    "summary",
    "table",
    "write_result",
]

RESULTS = Path(__file__).parent / "results"
STARTUP_SECONDS = 30.0
_CLEAN_PREFIXES = ("SHOPBOT_", "BEDROCK_", "BACKEND_", "AWS_", "SERVER_", "LOG_LEVEL")


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(ordered: Sequence[float], p: float) -> float:
    """The nearest-rank `p`th percentile of already sorted samples."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(samples_ms: Sequence[float]) -> dict[str, float]:
    """Count, p50, p95, p99, mean and max of latencies in milliseconds, rounded to 0.01 ms."""
    ordered = sorted(samples_ms)
    if not ordered:
        return {"n": 0}
    stats = {f"p{p}": percentile(ordered, p) for p in (50, 95, 99)}
    stats |= {"mean": statistics.fmean(ordered), "max": ordered[-1]}
    return {"n": len(ordered), **{k: round(v, 2) for k, v in stats.items()}}


def rss_bytes(pid: int | str = "self") -> int:
    """The resident set size of a process (this one by default), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU seconds a process has used so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, over all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


def machine() -> dict[str, Any]:
    """What the numbers were measured on (the load average shows how busy the machine was)."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def write_result(name: str, report: dict[str, Any]) -> Path:
    """Write `report` with the machine and the time to bench/results/<name>-<UTC timestamp>.json."""
    now = datetime.datetime.now(datetime.UTC)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}-{now:%Y%m%dT%H%M%SZ}.json"
    document = {"benchmark": name, "utc": now.isoformat(timespec="seconds"), "machine": machine(), **report}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table: the first column left-aligned, the others right-aligned."""
    cells = [[_cell(v) for v in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def emit(name: str, report: dict[str, Any], text: str) -> Path:
    """Print the human table, write the JSON file, and print the JSON as the last line."""
    print(text)
    path = write_result(name, report)
    print(f"written to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    print(json.dumps({"benchmark": name, "result_file": str(path), **report}))
    return path


def http_client(connections: int = 16, *, base_url: str = "", timeout: float = 60.0) -> httpx.AsyncClient:
    """A pooled client: `connections` kept-alive connections, no proxies from the environment."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout, trust_env=False)


@contextlib.asynccontextmanager
async def load_clients(base_url: str, shoppers: int, *, per_client: int = 16) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Enough pooled clients for `shoppers` concurrent shoppers, at most `per_client` connections each.

    Several small pools rather than one big one: httpcore's pool does work quadratic in
    its connections on every request (1.0.x: `_assign_requests_to_connections` counts
    the idle connections once per connection), which at 256 connections costs the load
    generator ~15 ms of CPU per turn and makes it the bottleneck.
    """
    async with contextlib.AsyncExitStack() as stack:
        count = max(1, math.ceil(shoppers / per_client))
        yield [await stack.enter_async_context(http_client(per_client, base_url=base_url)) for _ in range(count)]


class Service:
    """A process serving HTTP on a loopback port."""

    def __init__(self, name: str, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.name = name
        self.url = url
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def cpu_seconds(self) -> float:
        """CPU seconds the process has used so far."""
        return cpu_seconds(self.pid)

    def rss_bytes(self) -> int:
        """The process's resident memory now."""
        return rss_bytes(self.pid)


@contextlib.asynccontextmanager
async def spawn(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    ready_path: str,
    env: dict[str, str] | None = None,
    module: str = "shopbot.cli",
) -> AsyncIterator[Service]:
    """Run `python -m <module> <argv>` until the block ends; yield it once `ready_path` answers 200."""
    workdir = Path(tempfile.mkdtemp(prefix=f"shopbot-bench-{name}-"))
    log = workdir / "output.log"
    process = _start([sys.executable, "-m", module, *argv], workdir, log, env or {})
    service = Service(name, f"http://127.0.0.1:{port}", process, log)
    try:
        await _wait_ready(service, ready_path)
        yield service
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


def _start(argv: list[str], workdir: Path, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(_CLEAN_PREFIXES)}
    with log.open("wb") as output:
        return subprocess.Popen(argv, cwd=workdir, env={**clean, **env}, stdout=output, stderr=subprocess.STDOUT)


async def _wait_ready(service: Service, path: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(trust_env=False, timeout=2) as http:
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(service.url + path)).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    tail = service.log.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"{service.name} did not start (exit status {service.process.poll()}):\n{tail}")


def mock_bedrock(latency_ms: float = 0.0) -> contextlib.AbstractAsyncContextManager[Service]:
    """`shopbot mock-bedrock`: the local Converse endpoint with the offline model, `latency_ms` before each answer."""
    port = free_port()
    argv = ["mock-bedrock", "--host", "127.0.0.1", "--port", str(port), "--latency-ms", str(latency_ms)]
    return spawn("mock-bedrock", argv, port=port, ready_path="/_mock/latency")


def storefront() -> contextlib.AbstractAsyncContextManager[Service]:
    """`shopbot storefront --db :memory:`: the reference shop with the demo catalog."""
    port = free_port()
    argv = ["storefront", "--host", "127.0.0.1", "--port", str(port), "--db", ":memory:"]
    return spawn("storefront", argv, port=port, ready_path="/health")


def chat_service(model: Service, shop: Service, **env: str) -> contextlib.AbstractAsyncContextManager[Service]:
    """`shopbot serve` (one worker) on Bedrock's protocol against `model`, with `shop` as its backend.

    No auth, no rate limits, memory sessions, WARNING logs; `env` adds or overrides variables.
    """
    port = free_port()
    settings = {
        "SHOPBOT_AUTH": "none",
        "SHOPBOT_MODEL_PROVIDER": "bedrock",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": model.url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "BACKEND_API_URL": shop.url,
        "SHOPBOT_RATE_LIMIT_PER_USER": "0",
        "SHOPBOT_RATE_LIMIT_PER_ADDRESS": "0",
        "SHOPBOT_SHUTDOWN_DRAIN_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    argv = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    return spawn("serve", argv, port=port, ready_path="/api/v1/health/ready", env=settings)


async def model_stats(model: Service, *, reset: bool = False) -> dict[str, Any]:
    """The local Converse endpoint's counters (`/_mock/stats`); `reset` zeroes them afterwards."""
    async with httpx.AsyncClient(trust_env=False) as http:
        stats = (await http.get(model.url + "/_mock/stats")).json()
        if reset:
            (await http.delete(model.url + "/_mock/stats")).raise_for_status()
    return stats
