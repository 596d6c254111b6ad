"""Soak the chat service with faults on both sides: throttled model calls and a flaky storefront.

    python bench/fault_soak.py [--conversations 40] [--turns-per-conversation 15] [--seed 7]
                               [--store redis://127.0.0.1:6379/12 | memory] [--time-cap 100]

The service runs as `shopbot serve` in a process of its own, so the load generator does
not share its event loop. Its model is Bedrock: aioboto3 against the local Converse
endpoint serving the offline model, which throttles 20 % of calls (botocore's standard
retry mode, 4 attempts) and waits 20-100 ms before answering. The reference storefront
sits behind `FlakyShop`, a seeded ASGI middleware that fails 12 % of requests - half with
a 503 before the shop sees them, half with a 502 after the shop has answered (a mutation
applied that the client never heard of) - and adds 0-30 ms to each. The endpoint and the
shop run in this process, each on a thread and event loop of its own
(`serve_in_background`), so the middleware's records can be read directly.

All conversations run at once, each in its own session, playing shopping scripts; every
turn carries an Idempotency-Key and is retried with it after a 503, up to twice. With a
Redis store (its database is FLUSHED before and after) every stored session is decoded
and checked: `check_stored` passes and its user turns are exactly the turns answered 200.
Exit status 1 unless: no 500, no bad history, no cart mutation freshly applied twice under
one Idempotency-Key, and >= 99 % of the turns that did not exhaust their deadline (a 503
`turn_timeout`) answered 200. Prints a table and a JSON line, also written to
bench/results/fault_soak-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import logging
import math
import os
import platform
import random
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import msgspec
from redis import Redis

from shopbot.engine.history import check_stored
from shopbot.engine.offline import OfflineModel
from shopbot.errors import HistoryError
from shopbot.mock_bedrock import FaultPlan, create_converse_app
from shopbot.serving import serve_in_background
from shopbot.sessions.store import Session
from shopbot.shop.app import create_storefront_app

RESULTS = Path(__file__).parent / "results"
CLIENT_RETRIES = 2  # after a 503, with the same Idempotency-Key, as a well-behaved frontend does
RETRY_BACKOFF_SECONDS = 0.25
DRAIN_SECONDS = 10.0  # how long turns in flight at the time cap may still finish
SUCCESS_BAR = 0.99

SCRIPTS = (
    (
        "Hi there", "Show me laptops under $1000", "Add the HP Pavilion 15 to my cart", "What's in my cart?",
        "What accessories go with my laptop?", "Compare Dell XPS 13 and MacBook Air M2", "Add the Dell XPS 13 to my cart",
        "Change the quantity of the HP Pavilion 15 to 2", "Remove the Dell XPS 13 from my cart",
        "Show me headphones under $200", "Tell me more about the Jabra Elite 85t", "Add 2 Jabra Elite 85t to my cart",
        "What categories do you have?", "What's in my cart?", "Thanks!",
    ),
    (
        "Do you have any wireless mice?", "Tell me more about the Logitech MX Master 3S", "Add it to my cart",
        "Make it 3", "Show me Logitech keyboards", "Add the Logitech MX Keys to my cart", "What's in my cart?",
        "Compare Logitech MX Keys vs Keychron K2", "Remove the Logitech MX Master 3S from my cart",
        "Show me monitors between $200 and $400", "Add the Gigabyte M27Q to my cart", "What goes with the Gigabyte M27Q?",
        "Set the Gigabyte M27Q to 2", "Empty my cart", "What's in my cart?",
    ),
    (
        "Show me phones", "How much is the Google Pixel 8?", "Compare iPhone 15 and Samsung Galaxy S24",
        "Add the Google Pixel 8 to my cart", "Any tablets under $500?", "Recommend accessories for the Google Pixel 8",
        "What's in my cart?", "Update the Google Pixel 8 to 2", "Show me laptops under $1000",
        "Add the HP Pavilion 15 to my cart", "Delete the Google Pixel 8 from my cart", "What's in my cart?",
        "What can you do?", "Compare Dell XPS 13 and MacBook Air M2", "Thanks, that's all",
    ),
)


@dataclass(frozen=True)
class Mutation:
    """A cart mutation that reached the shop: its key, and whether the shop applied it now."""

    route: str
    key: str | None
    fresh: bool  # 2xx and not `Idempotent-Replayed`
    replayed: bool
    unheard: bool  # its answer was replaced by an injected 502


class FlakyShop:
    """ASGI middleware: seeded 5xx and latency in front of the storefront; records every mutation that reached it."""

    def __init__(self, app: Any, *, fault_rate: float, max_delay_ms: float, seed: int) -> None:
        self.app = app
        self.fault_rate = fault_rate
        self.max_delay = max_delay_ms / 1000
        self.requests = 0
        self.injected: Counter[str] = Counter()
        self.mutations: list[Mutation] = []
        self._rng = random.Random(seed)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.requests += 1
        draw = self._rng.random()
        await asyncio.sleep(self._rng.uniform(0, self.max_delay))
        if draw < self.fault_rate / 2:
            self.injected["503_before_shop"] += 1
            await _answer(send, 503, "injected before the shop")
            return
        unheard = draw < self.fault_rate
        start: dict[str, Any] = {}

        async def relay(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            if not unheard:
                await send(message)

        await self.app(scope, receive, relay)
        if scope["method"] in ("POST", "PUT", "DELETE"):
            key = dict(scope["headers"]).get(b"idempotency-key")
            replayed = dict(start.get("headers", [])).get(b"idempotent-replayed") == b"true"
            fresh = 200 <= start.get("status", 0) < 300 and not replayed
            route = f"{scope['method']} {scope['path']}"
            self.mutations.append(Mutation(route, key and key.decode("latin-1"), fresh, replayed, unheard))
        if unheard:
            self.injected["502_after_shop"] += 1
            await _answer(send, 502, "injected after the shop answered")

    def report(self) -> dict[str, Any]:
        """Requests, injected faults, and what the mutations that reached the shop did."""
        fresh = Counter((m.route, m.key) for m in self.mutations if m.fresh)
        replayed = {(m.route, m.key) for m in self.mutations if m.replayed}
        unheard = [(m.route, m.key) for m in self.mutations if m.fresh and m.unheard]
        return {
            "requests": self.requests,
            "injected": dict(self.injected),
            "injected_share": round(sum(self.injected.values()) / max(1, self.requests), 4),
            "mutations": len(self.mutations),
            "fresh": sum(fresh.values()),
            "replayed": sum(m.replayed for m in self.mutations),
            "refused": sum(not m.fresh and not m.replayed for m in self.mutations),
            "without_key": sum(m.key is None for m in self.mutations),
            # Applied, the answer lost to a 502; then a retry with the same key got the replay.
            "applied_unheard": len(unheard),
            "applied_unheard_then_replayed": sum(k in replayed for k in unheard),
            "applied_twice": [{"route": r, "key": k, "applied": n} for (r, k), n in fresh.items() if n > 1],
        }


async def _answer(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": "unavailable", "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def chat_service(env: dict[str, str], log: IO[str]) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """`shopbot serve` in a process of its own, configured by `env` alone; yields its URL and the process."""
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPBOT_", "BEDROCK_", "BACKEND_", "AWS_"))}
    command = [sys.executable, "-m", "shopbot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryDirectory() as cwd:  # so that no `.env` is read
        process = await asyncio.create_subprocess_exec(*command, env={**inherited, **env}, cwd=cwd, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient() as client:
                for _ in range(300):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{url}/api/v1/health")).status_code == 200:
                            break
                    if process.returncode is not None:
                        raise RuntimeError(f"the service exited at start-up with status {process.returncode}")
                    await asyncio.sleep(0.05)
                else:
                    raise RuntimeError("the service did not start in 15 s")
            yield url, process
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
                    await process.wait()


@dataclass(frozen=True)
class Turn:
    """One shopper message: its outcome (status, error) at the first attempt and after the client's retries."""

    first: tuple[int, str]
    final: tuple[int, str]
    attempts: int
    latency_ms: float


@dataclass
class Run:
    """What the load generator saw."""

    turns: list[Turn] = field(default_factory=list)
    answered: dict[str, list[str]] = field(default_factory=dict)  # session -> its messages answered 200, in order
    examples: dict[str, str] = field(default_factory=dict)  # one request for each unexpected outcome
    in_flight: dict[str, str] = field(default_factory=dict)  # session -> the message of its unfinished turn


async def send_turn(client: httpx.AsyncClient, session: str, message: str, key: str) -> tuple[int, str]:
    """POST one turn; its status and error ("" for a good 200)."""
    body = {"message": message, "session_id": session}
    try:
        response = await client.post("/api/v1/chat", json=body, headers={"Idempotency-Key": key})
        answer = response.json()
    except httpx.HTTPError as exc:
        return 0, f"transport: {type(exc).__name__}"
    except ValueError:
        return response.status_code, "body is not JSON"
    if response.status_code == 200:
        return (200, "") if answer.get("session_id") == session else (200, "wrong session_id")
    return response.status_code, str(answer.get("error", "?"))


async def converse(client: httpx.AsyncClient, run: Run, session: str, script: list[str], deadline: float) -> None:
    """Play `script` in `session`, a turn at a time, until it ends or the time cap passes."""
    run.answered[session] = []
    for index, message in enumerate(script):
        if time.monotonic() >= deadline:
            return
        key = f"{session}-t{index}"
        started = time.perf_counter()
        run.in_flight[session] = message
        outcomes = [await send_turn(client, session, message, key)]
        while outcomes[-1][0] == 503 and len(outcomes) <= CLIENT_RETRIES:
            await asyncio.sleep(RETRY_BACKOFF_SECONDS * len(outcomes) * random.uniform(0.5, 1.5))
            outcomes.append(await send_turn(client, session, message, key))
        del run.in_flight[session]
        run.turns.append(Turn(outcomes[0], outcomes[-1], len(outcomes), (time.perf_counter() - started) * 1000))
        if outcomes[-1] == (200, ""):
            run.answered[session].append(message)
        else:
            label = "{} {}".format(*outcomes[-1])
            run.examples.setdefault(label, f"session {session}, turn {index} {message!r}, key {key}")


def check_sessions(redis_url: str, run: Run) -> dict[str, Any]:
    """Decode each stored session: valid for Converse, and holding exactly the turns answered 200
    (and perhaps the turn abandoned at the time cap, which the service may have finished)."""
    corrupted, mismatched, missing = [], [], []
    with contextlib.closing(Redis.from_url(redis_url)) as redis:
        for session_id, messages in run.answered.items():
            raw = redis.get(f"shopbot:session:{session_id}")
            if raw is None:
                missing.extend([session_id] if messages else [])
                continue
            history = msgspec.msgpack.decode(raw, type=Session).history
            try:
                check_stored(history)
            except HistoryError as exc:
                corrupted.append({"session": session_id, "problem": str(exc)})
            stored = [m.text for m in history if m.role == "user" and not m.tool_results]
            if stored != messages and stored != [*messages, run.in_flight.get(session_id)]:
                mismatched.append({"session": session_id, "stored": stored, "answered_200": messages})
        stored_count = sum(1 for _ in redis.scan_iter("shopbot:session:*"))
    return {"checked": len(run.answered), "stored": stored_count, "corrupted": corrupted, "mismatched": mismatched,
            "missing": missing}


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile, `share` from 0 to 1."""
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 1) if ordered else 0.0


def summarise(run: Run, abandoned: int, shop: dict, model: dict, sessions: dict) -> dict[str, Any]:
    """The numbers, and what misses the bar."""
    turns = run.turns
    ok = sum(t.final == (200, "") for t in turns)
    timed_out = sum(t.final == (503, "turn_timeout") for t in turns)
    calls = sum(model["calls"].values())
    report = {
        "turns": len(turns),
        "abandoned_at_time_cap": abandoned,
        "ok": ok,
        "first_attempt_ok": sum(t.first == (200, "") for t in turns),
        "retried": sum(t.attempts > 1 for t in turns),
        "recovered_by_retry": sum(t.attempts > 1 and t.final == (200, "") for t in turns),
        "final_503": dict(Counter(t.final[1] for t in turns if t.final[0] == 503)),
        "first_attempt_503": dict(Counter(t.first[1] for t in turns if t.first[0] == 503)),
        "final_500": sum(t.final[0] == 500 for t in turns),
        "other": dict(Counter("{} {}".format(*t.final) for t in turns if t.final[0] not in (200, 500, 503) or
                              t.final[0] == 200 and t.final[1])),
        "success_rate": round(ok / max(1, len(turns)), 4),
        "turns_within_deadline": len(turns) - timed_out,
        "success_rate_within_deadline": round(ok / max(1, len(turns) - timed_out), 4),
        "latency_p50_ms": percentile([t.latency_ms for t in turns], 0.50),
        "latency_p99_ms": percentile([t.latency_ms for t in turns], 0.99),
        "sessions": sessions,
        "storefront": shop,
        "model": {**model, "total_calls": calls, "throttled_share": round(model["faults"].get("throttle", 0) / max(1, calls), 4)},
        "unexpected_outcome_examples": run.examples,
    }
    misses = []
    if report["final_500"]:
        misses.append("turns answered 500")
    if sessions.get("corrupted") or sessions.get("mismatched") or sessions.get("missing"):
        misses.append("stored histories corrupted, missing or not the turns answered 200")
    if shop["applied_twice"] or shop["without_key"]:
        misses.append("cart mutations applied twice under one key (or sent without a key)")
    if report["success_rate_within_deadline"] < SUCCESS_BAR or not turns:
        misses.append(f"success within deadline {report['success_rate_within_deadline']:.2%} < {SUCCESS_BAR:.0%}")
    return {**report, "bar_misses": misses, "passed": not misses}


def service_env(args: argparse.Namespace, model_url: str, shop_url: str) -> dict[str, str]:
    """The service's whole configuration."""
    env = {
        "SHOPBOT_AUTH": "none",
        "SHOPBOT_MODEL_PROVIDER": "bedrock",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": model_url,
        "AWS_ACCESS_KEY_ID": "soak",
        "AWS_SECRET_ACCESS_KEY": "soak",
        "AWS_REGION": "us-west-2",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "BEDROCK_RETRY_MODE": "standard",
        "BEDROCK_MAX_ATTEMPTS": str(args.bedrock_max_attempts),
        "BACKEND_API_URL": shop_url,
        "SHOPBOT_SESSION_STORE": args.store,
        # Nothing trimmed, so that every stored turn can be matched with the turns answered 200.
        "SHOPBOT_HISTORY_MAX_TURNS": str(max(20, args.turns_per_conversation + 1)),
        "SHOPBOT_RATE_LIMIT_PER_USER": "0",
        "SHOPBOT_RATE_LIMIT_PER_ADDRESS": "0",
        "SHOPBOT_SHUTDOWN_DRAIN_SECONDS": "0",
        "LOG_LEVEL": "ERROR",
    }
    if args.turn_timeout is not None:
        env["SHOPBOT_TURN_TIMEOUT_SECONDS"] = str(args.turn_timeout)
    return env


async def soak(args: argparse.Namespace, log: IO[str]) -> dict[str, Any]:
    """Start everything, drive the conversations, collect the numbers, stop everything."""
    faults = FaultPlan(throttle=args.throttle, seed=args.seed)
    model_app = create_converse_app(OfflineModel(), latency_ms=20, jitter_ms=80, faults=faults)
    logging.getLogger().setLevel(logging.WARNING)  # Litestar's default logging config (the endpoint's) says INFO
    shop = FlakyShop(create_storefront_app(":memory:"), fault_rate=args.shop_faults, max_delay_ms=30, seed=args.seed)
    redis_url = None if args.store == "memory" else args.store
    if redis_url:
        with contextlib.closing(Redis.from_url(redis_url)) as redis:
            redis.flushdb()
    run = Run()
    async with (
        serve_in_background(model_app) as model_url,
        serve_in_background(shop) as shop_url,
        chat_service(service_env(args, model_url, shop_url), log) as (url, process),
        httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=None)) as client,
    ):
        started = time.monotonic()
        tasks = []
        for number in range(args.conversations):
            script = SCRIPTS[number % len(SCRIPTS)]
            messages = [script[i % len(script)] for i in range(args.turns_per_conversation)]
            session = f"soak-{args.seed}-{number:03d}-{uuid.uuid4().hex[:8]}"
            tasks.append(asyncio.create_task(converse(client, run, session, messages, started + args.time_cap)))
        _, pending = await asyncio.wait(tasks, timeout=args.time_cap + DRAIN_SECONDS)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and task.exception():
                raise task.exception()
        elapsed = time.monotonic() - started
        model = (await client.get(f"{model_url}/_mock/stats")).json()
        service_died = process.returncode is not None
    sessions: dict[str, Any] = {"checked": 0, "skipped": "--store memory: the stored histories are out of reach"}
    if redis_url:
        sessions = check_sessions(redis_url, run)
        with contextlib.closing(Redis.from_url(redis_url)) as redis:
            redis.flushdb()
    report = summarise(run, len(pending), shop.report(), model, sessions)
    if service_died:
        report["bar_misses"].append("the service process died during the run")
        report["passed"] = False
    return {"elapsed_s": round(elapsed, 1), **report}


def print_table(args: argparse.Namespace, r: dict[str, Any]) -> None:
    def row(label: str, value: object, note: object = "") -> None:
        print(f"  {label:<32}{value!s:>12}   {note}".rstrip())

    shop, model, sessions = r["storefront"], r["model"], r["sessions"]
    print(f"fault soak: {args.conversations} conversations x {args.turns_per_conversation} turns at once, "
          f"seed {args.seed}, store {args.store}, {r['elapsed_s']} s of load")
    row("turns", r["turns"], f"{r['abandoned_at_time_cap']} abandoned in flight at the time cap")
    row("answered 200", r["ok"], f"{r['first_attempt_ok']} at the first attempt; {r['retried']} retried after 503, "
        f"{r['recovered_by_retry']} of them recovered")
    row("503 at the first attempt", sum(r["first_attempt_503"].values()), json.dumps(r["first_attempt_503"]))
    row("503 after the retries", sum(r["final_503"].values()), json.dumps(r["final_503"]))
    row("500", r["final_500"])
    row("other outcomes", sum(r["other"].values()), json.dumps(r["other"]) if r["other"] else "")
    row("success rate, all turns", f"{r['success_rate']:.2%}")
    row("success rate, within deadline", f"{r['success_rate_within_deadline']:.2%}",
        f"of {r['turns_within_deadline']} turns (not a 503 turn_timeout)")
    row("turn latency p50 / p99", f"{r['latency_p50_ms']:.0f} / {r['latency_p99_ms']:.0f} ms", "client retries included")
    if sessions["checked"]:
        row("sessions checked in Redis", sessions["checked"], f"{sessions['stored']} stored; check_stored failed "
            f"{len(sessions['corrupted'])}, not the 200s {len(sessions['mismatched'])}, missing {len(sessions['missing'])}")
    else:
        row("sessions checked", "skipped", sessions["skipped"])
    row("storefront requests", shop["requests"], f"5xx injected {shop['injected_share']:.1%}: {json.dumps(shop['injected'])}")
    row("cart mutations reaching the shop", shop["mutations"], f"fresh {shop['fresh']}, replayed {shop['replayed']}, "
        f"refused {shop['refused']}, without a key {shop['without_key']}")
    row("  applied, answer lost to a 502", shop["applied_unheard"], f"{shop['applied_unheard_then_replayed']} replayed "
        "to a retry with the same key")
    row("  applied twice under one key", len(shop["applied_twice"]))
    row("model calls", model["total_calls"], f"throttled {model['throttled_share']:.1%}; errors {json.dumps(model['errors'])}")
    for label, example in r["unexpected_outcome_examples"].items():
        row(f"  e.g. {label}", "", example)
    print(f"  {'bar':<32}{'PASS' if r['passed'] else 'FAIL':>12}   {'; '.join(r['bar_misses'])}".rstrip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=40, help="all running at once")
    parser.add_argument("--turns-per-conversation", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", default="redis://127.0.0.1:6379/12", help="memory, or a Redis URL: its db is FLUSHED")
    parser.add_argument("--time-cap", type=float, default=100.0, help="seconds after which no turn is sent")
    parser.add_argument("--throttle", type=float, default=0.2, help="share of model calls throttled")
    parser.add_argument("--bedrock-max-attempts", type=int, default=4)
    parser.add_argument("--shop-faults", type=float, default=0.12, help="share of storefront requests answered 5xx")
    parser.add_argument("--turn-timeout", type=float, default=None, help="the service's turn deadline, in seconds")
    args = parser.parse_args()
    if args.store != "memory" and not args.store.startswith(("redis://", "rediss://", "unix://")):
        parser.error("--store is memory or a Redis URL")

    with tempfile.NamedTemporaryFile("w+", prefix="fault_soak-service-", suffix=".log", delete=False) as log:
        report = asyncio.run(soak(args, log))
        log.seek(0)
        errors = [line.rstrip() for line in log if '"ERROR"' in line or "Traceback" in line]
    print_table(args, report)
    if errors:
        print(f"service errors ({len(errors)} lines; the whole log is {log.name}):")
        print("\n".join(f"    {line[:400]}" for line in errors[:10]))
    else:
        os.unlink(log.name)
    now = datetime.datetime.now(datetime.UTC)
    document = {
        "benchmark": "fault_soak",
        "when": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "config": vars(args),
        **report,
        "service_errors": errors[:20],
    }
    line = json.dumps(document)
    print(line)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"fault_soak-{now.strftime('%Y%m%dT%H%M%SZ')}.json").write_text(line + "\n")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
