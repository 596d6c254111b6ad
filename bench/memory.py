"""What idle sessions cost in memory and in Redis, and whether the store's bounds free them.

    python bench/memory.py [--sessions 10000] [--real 240] [--churn 50000] [--redis redis://127.0.0.1:6379/0]

Each measurement runs in a fresh process of its own (`--child`), so its RSS (VmRSS from
/proc) starts from the imports alone.

sessions  The engine runs for real - the offline model, the reference storefront
          in-process - for `--real` sessions of 5 turns (the first five turns of the
          scenario's conversations, in turn), kept in a `MemorySessionStore`. Their size
          is measured by walking the objects they hold (shared objects counted once).
          Then each is encoded with msgpack, the engine and its store are dropped, and
          `--sessions` copies are decoded into a new `MemorySessionStore` under new ids:
          every copy's strings and structs are objects of its own (msgspec shares only
          its cache of short dict keys, as any decoding would). Bytes per session = the
          RSS growth (and, for 1,000 more, tracemalloc's count) / sessions. The real
          sessions are then saved to Redis under a key prefix of this run's own
          (deleted afterwards): `STRLEN` and `MEMORY USAGE` per session key.
churn     `--churn` sessions go through a `MemorySessionStore(max_sessions=1000)`:
          RSS every 5,000 must stay flat. Then the TTL: on a store with a 60 s TTL and
          a fake clock, 10,000 sessions are saved, the clock moves 120 s on and 10,000
          more are saved: how many expired sessions does the store still hold?

Target: <= 10 KB per idle 5-turn session in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import tracemalloc
import uuid
from typing import Any

import httpx
import msgspec

from bench._common import emit, rss_bytes, table
from bench.scenario import CONVERSATIONS
from shopbot.engine import (
    Conversations,
    MemorySessionStore,
    StorefrontClient,
    create_engine,
)
from shopbot.engine.offline import OfflineModel
from shopbot.sessions.store import Session
from shopbot.shop.app import create_storefront_app

TARGET_BYTES = 10 * 1024
TURNS = 5
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Session).decode


async def real_sessions(count: int) -> list[Session]:
    """`count` sessions of 5 turns each, made by the engine with the offline model and the reference shop."""
    store = MemorySessionStore()
    transport = httpx.ASGITransport(app=create_storefront_app(":memory:"))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as http:
        engine = create_engine(OfflineModel(), StorefrontClient("http://shop", http=http, backoff=0))
        conversations = Conversations(engine, store)
        for n in range(count):
            for turn in CONVERSATIONS[n % len(CONVERSATIONS)][:TURNS]:
                await conversations.chat(turn.text, session_id=f"mem-{n:05d}")
    return [session for n in range(count) if (session := await store.load(f"mem-{n:05d}")) is not None]


def deep_size(roots: list[Any]) -> int:
    """Bytes of every object reachable from `roots` through structs, tuples, lists and dicts, each counted once."""
    seen: set[int] = set()
    total = 0
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, msgspec.Struct):
            stack.extend(getattr(obj, field) for field in obj.__struct_fields__)
        elif isinstance(obj, (tuple, list)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
    return total


def _copies(encoded: list[bytes], count: int, prefix: str) -> list[Session]:
    return [msgspec.structs.replace(_decode(encoded[n % len(encoded)]), id=f"{prefix}-{n:06d}") for n in range(count)]


async def _fill(store: MemorySessionStore, encoded: list[bytes], count: int, prefix: str) -> None:
    for n in range(count):
        await store.save(msgspec.structs.replace(_decode(encoded[n % len(encoded)]), id=f"{prefix}-{n:06d}"))


async def child_sessions(sessions: int, real: int, redis_url: str) -> dict[str, Any]:
    """The `sessions` measurement (run in a fresh process)."""
    made = await real_sessions(real)
    engine_made = deep_size(made) / len(made)
    encoded = [_encode(s) for s in made]
    gc.collect()
    before = rss_bytes()
    store = MemorySessionStore()
    await _fill(store, encoded, sessions, "idle")
    gc.collect()
    after = rss_bytes()
    tracemalloc.start()
    snapshot = tracemalloc.take_snapshot()
    more = MemorySessionStore()
    await _fill(more, encoded, 1000, "traced")
    traced = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(snapshot, "filename"))
    tracemalloc.stop()
    return {
        "sessions": sessions,
        "turns_per_session": TURNS,
        "real_sessions": len(made),
        "rss_before_mb": round(before / 2**20, 1),
        "rss_after_mb": round(after / 2**20, 1),
        "bytes_per_session_rss": round((after - before) / sessions),
        "bytes_per_session_tracemalloc": round(traced / 1000),
        "bytes_per_session_engine_made": round(engine_made),
        "msgpack_bytes_per_session": round(statistics.median(len(e) for e in encoded)),
        "redis": await _redis_sizes(made, redis_url),
    }


async def _redis_sizes(sessions: list[Session], url: str) -> dict[str, Any]:
    from redis.asyncio import Redis

    from shopbot.sessions import RedisSessionStore

    prefix = f"shopbot-bench-memory:{uuid.uuid4().hex}:"
    client = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        store = RedisSessionStore(client, prefix=prefix)
        for session in sessions:
            await store.save(session)
        keys = [key async for key in client.scan_iter(match=f"{prefix}session:*", count=1000)]
        strlen = [await client.strlen(key) for key in keys]
        usage = [await client.memory_usage(key) or 0 for key in keys]
        return {"sessions": len(keys), "strlen_bytes": round(statistics.median(strlen)),
                "memory_usage_bytes": round(statistics.median(usage))}
    except OSError as exc:  # includes redis's ConnectionError
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        try:
            stale = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
            if stale:
                await client.delete(*stale)
        finally:
            await client.aclose()


async def child_churn(churn: int, bound: int) -> dict[str, Any]:
    """The `churn` measurement (run in a fresh process)."""
    encoded = [_encode(s) for s in await real_sessions(40)]
    gc.collect()
    base = rss_bytes()
    store = MemorySessionStore(max_sessions=bound)
    curve = []
    for block in range(0, churn, 5000):
        for n in range(block, min(churn, block + 5000)):
            await store.save(msgspec.structs.replace(_decode(encoded[n % len(encoded)]), id=f"churn-{n:06d}"))
        curve.append([min(churn, block + 5000), round((rss_bytes() - base) / 2**20, 2)])
    held = len(store)
    del store
    gc.collect()

    now = [0.0]
    timed = MemorySessionStore(ttl_seconds=60, clock=lambda: now[0])
    await _fill(timed, encoded, 10_000, "early")
    now[0] += 120
    await _fill(timed, encoded, 10_000, "late")
    return {
        "churned": churn,
        "max_sessions": bound,
        "held_at_end": held,
        "rss_growth_mb_by_sessions_saved": curve,
        "ttl_seconds": 60,
        "expired_still_held": len(timed) - 10_000,
    }


def _child(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.memory", "--child", kind, "--sessions", str(args.sessions),
               "--real", str(args.real), "--churn", str(args.churn), "--redis", args.redis]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode:
        raise RuntimeError(f"memory child {kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def render(report: dict[str, Any]) -> str:
    """The report as text tables."""
    s, c = report["sessions"], report["churn"]
    redis = s["redis"]
    rows = [
        [f"{s['sessions']:,} idle sessions: RSS before -> after (MB)", f"{s['rss_before_mb']} -> {s['rss_after_mb']}"],
        ["bytes per session in memory (RSS growth / sessions)", s["bytes_per_session_rss"]],
        ["bytes per session in memory (tracemalloc, 1,000 more)", s["bytes_per_session_tracemalloc"]],
        [f"bytes per session, {s['real_sessions']} engine-made sessions (object walk)",
         s["bytes_per_session_engine_made"]],
        ["bytes per session as msgpack", s["msgpack_bytes_per_session"]],
        ["bytes per session in Redis (STRLEN)", redis.get("strlen_bytes", redis.get("error"))],
        ["bytes per session in Redis (MEMORY USAGE)", redis.get("memory_usage_bytes", redis.get("error"))],
    ]
    verdict = "met" if report["target_met"] else "MISSED"
    curve = ", ".join(f"{n // 1000}k: {mb:+.1f}" for n, mb in c["rss_growth_mb_by_sessions_saved"])
    return "\n".join([
        f"idle sessions of {s['turns_per_session']} turns",
        table(["", "value"], rows),
        f"target: <= {TARGET_BYTES:,} bytes per session in memory (RSS): {verdict}",
        "",
        (f"churn: {c['churned']:,} sessions through max_sessions={c['max_sessions']:,} "
         f"(held at the end: {c['held_at_end']:,}); RSS growth MB after n saved: {curve}"),
        (f"TTL: {c['expired_still_held']:,} of 10,000 sessions expired {c['ttl_seconds']} s ago are still held "
         "after 10,000 newer saves (the memory store drops an expired session when it is loaded or pushed "
         "out by max_sessions)") if c["expired_still_held"] else
        f"TTL: expired sessions are dropped (none of 10,000 expired {c['ttl_seconds']} s ago is held)",
    ])


def main() -> None:
    """Parse the options; as the parent, run both children and report; as a child, measure and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--real", type=int, default=240)
    parser.add_argument("--churn", type=int, default=50_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--child", choices=["sessions", "churn"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "sessions":
        print(json.dumps(asyncio.run(child_sessions(args.sessions, args.real, args.redis))))
        return
    if args.child == "churn":
        print(json.dumps(asyncio.run(child_churn(args.churn, 1000))))
        return
    sessions = _child("sessions", args)
    report = {"sessions": sessions, "churn": _child("churn", args),
              "target_bytes": TARGET_BYTES, "target_met": sessions["bytes_per_session_rss"] <= TARGET_BYTES}
    emit("memory", report, render(report))


if __name__ == "__main__":
    main()
