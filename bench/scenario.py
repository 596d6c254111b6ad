"""The benchmark scenario: realistic multi-turn shopping conversations, defined once.

`CONVERSATIONS` are four sessions (33 turns) covering every kind of request the
shop's tools serve: search, details, add, update, remove, view the cart,
categories, recommendations, comparisons, clearing the cart, and small talk. The
first is the seed's example. Each `Turn` records what the offline model does for
it against the reference storefront's demo catalog: the tools it calls (in order)
and its model calls (tool rounds + 1), so a benchmark can check that the turns it
timed really did that work.

`LONG_CONVERSATION` is one 32-turn session (a 10-turn cycle that leaves the cart
empty each time round), for how requests grow with history; from turn 20 the
history window (`SHOPBOT_HISTORY_MAX_TURNS`, 20) is full.

`drive` runs conversations over the HTTP API from any number of concurrent
shoppers, bounded in time and turns.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import httpx

from bench._common import Service, cpu_seconds, machine_cpu_seconds

__all__ = [
    "COMPARE_TURN",
    "CONVERSATIONS",
    "LONG_CONVERSATION",
    "ONE_TOOL_TURN",
    "Sample",
    "Turn",
    "chat",
    "drive",
    "load_level",
    "scenario_turns",
]


class Turn(NamedTuple):
    """One shopper message and what answering it takes."""

    text: str
    tools: tuple[str, ...]
    model_calls: int


def _t(text: str, *tools: str, calls: int = 0) -> Turn:
    return Turn(text, tools, calls or (2 if tools else 1))


ONE_TOOL_TURN = "Show me laptops under $1000"
COMPARE_TURN = "Compare Dell XPS 13 and MacBook Air M2"

CONVERSATIONS: tuple[tuple[Turn, ...], ...] = (
    (  # the seed's example, and the rest of a laptop purchase
        _t(ONE_TOOL_TURN, "search_products"),
        _t("Tell me more about the Dell XPS 13", "get_product"),
        _t("Add the HP Pavilion 15 to my cart", "add_to_cart"),
        _t("What's in my cart?", "view_cart"),
        _t("What accessories go with my laptop?", "get_recommendations"),
        _t(COMPARE_TURN, "get_product", "search_products"),
        _t("Change the quantity of HP Pavilion 15 to 2", "update_cart_item"),
        _t("Remove the HP Pavilion 15 from my cart", "remove_from_cart"),
    ),
    (  # headphones: compare first, then buy two and change the mind
        _t("Do you have wireless headphones under $300?", "search_products"),
        _t("Compare Sony WH-1000XM4 and Bose QuietComfort 45", "get_product", "search_products"),
        _t("Add 2 Sony WH-1000XM4 to my cart", "add_to_cart"),
        _t("What's in my cart?", "view_cart"),
        _t("Make it 1", "update_cart_item"),
        _t("Recommend something to go with the Sony WH-1000XM4", "get_recommendations"),
        _t("Thanks!"),
    ),
    (  # a desk set-up, browsing by category
        _t("Hi"),
        _t("What categories do you have?", "list_categories"),
        _t("Find a 4k monitor over $500", "search_products"),
        _t("Tell me about the Dell UltraSharp U2723QE", "get_product"),
        _t("Add it to my cart", "add_to_cart"),
        _t("Show me mechanical keyboards under $200", "search_products"),
        _t("Add the Logitech MX Mechanical to my cart", "add_to_cart"),
        _t("What's in my cart?", "view_cart"),
        _t("Remove the Logitech MX Mechanical", "remove_from_cart"),
        _t("Clear my cart", "view_cart", "remove_from_cart", calls=3),
    ),
    (  # phones: a product named before any search, then a cart of two
        _t("Tell me about the iPhone 15 Pro", "search_products", "get_product", calls=3),
        _t("Add it to my cart", "add_to_cart"),
        _t("Compare iPhone 15 Pro and Google Pixel 8 Pro", "get_product", "search_products"),
        _t("Show me phones under $800", "search_products"),
        _t("Add the Google Pixel 8 to my cart", "add_to_cart"),
        _t("Update the iPhone 15 Pro to 2", "update_cart_item"),
        _t("What's in my cart?", "view_cart"),
        _t("Empty my cart", "view_cart", "remove_from_cart", "remove_from_cart", calls=3),
    ),
)

_CYCLE = (
    *CONVERSATIONS[0],
    _t("Show me wireless headphones under $300", "search_products"),
    _t("Thanks!"),
)
LONG_CONVERSATION: tuple[Turn, ...] = tuple(itertools.islice(itertools.cycle(_CYCLE), 32))


def scenario_turns() -> Iterator[Turn]:
    """Every turn of `CONVERSATIONS`, in order."""
    return (turn for conversation in CONVERSATIONS for turn in conversation)


class Sample(NamedTuple):
    """One turn as the client saw it."""

    started: float  # time.perf_counter() when sent
    latency_ms: float
    status: int
    model_calls: int
    expected_calls: int
    tools_as_expected: bool
    cache_read_tokens: int


async def chat(client: httpx.AsyncClient, text: str, session_id: str | None = None) -> tuple[float, httpx.Response]:
    """One `POST /api/v1/chat`; its latency in ms and the response."""
    body = {"message": text} if session_id is None else {"message": text, "session_id": session_id}
    started = time.perf_counter()
    response = await client.post("/api/v1/chat", json=body)
    return (time.perf_counter() - started) * 1000, response


def _sample(started: float, latency_ms: float, response: httpx.Response, turn: Turn) -> Sample:
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    usage = body.get("usage") or {}
    tools = tuple(t["name"] for t in body.get("tools", ()))
    return Sample(started, latency_ms, response.status_code, usage.get("model_calls", 0), turn.model_calls,
                  tools == turn.tools, usage.get("cache_read_tokens", 0))


async def drive(
    clients: Sequence[httpx.AsyncClient], *, shoppers: int, seconds: float, max_turns: int, pause: float = 0.0
) -> list[Sample]:
    """`shoppers` concurrent shoppers, each playing `CONVERSATIONS` in turn (a new session for each).

    Shopper k starts at conversation k mod 4 and uses `clients[k % len(clients)]`
    (see `bench._common.load_clients`). No turn starts after `seconds` or once
    `max_turns` have started; turns in flight then finish. `pause` is a think time
    between a shopper's turns.
    """
    samples: list[Sample] = []
    deadline = time.perf_counter() + seconds
    budget = itertools.count()

    async def shopper(k: int) -> None:
        client = clients[k % len(clients)]
        for n in itertools.count(k):
            session = f"bench-{uuid.uuid4().hex[:16]}"
            for turn in CONVERSATIONS[n % len(CONVERSATIONS)]:
                if time.perf_counter() >= deadline or next(budget) >= max_turns:
                    return
                started = time.perf_counter()
                try:
                    latency_ms, response = await chat(client, turn.text, session)
                except httpx.HTTPError:
                    samples.append(Sample(started, (time.perf_counter() - started) * 1000, 0, 0, turn.model_calls,
                                          False, 0))
                    break  # this session's history is unknown now: start the next conversation
                samples.append(_sample(started, latency_ms, response, turn))
                if response.status_code != 200:
                    break
                if pause:
                    await asyncio.sleep(pause)

    await asyncio.gather(*(shopper(k) for k in range(shoppers)))
    return samples


async def load_level(
    clients: Sequence[httpx.AsyncClient],
    processes: list[Service],
    *,
    shoppers: int,
    seconds: float,
    warm_up: float = 0.0,
) -> tuple[list[Sample], dict[str, Any]]:
    """`drive` for `seconds`, and what it cost: the turns that started after `warm_up` seconds, and
    the CPU each process (and the machine) spent over the whole run (`cpu_ms_per_turn`,
    `cpu_utilisation` in cores, `machine_cores_busy`: ours = these processes + this one)."""
    before = {p.name: p.cpu_seconds() for p in processes} | {"load generator": cpu_seconds()}
    machine_before = machine_cpu_seconds()
    started = time.perf_counter()
    samples = await drive(clients, shoppers=shoppers, seconds=seconds, max_turns=100_000)
    elapsed = time.perf_counter() - started
    machine_after = machine_cpu_seconds()
    after = {p.name: p.cpu_seconds() for p in processes} | {"load generator": cpu_seconds()}
    ours = sum(after.values()) - sum(before.values())
    busy = machine_after[0] - machine_before[0]
    done = sum(1 for s in samples if s.status == 200)
    costs = {
        "elapsed_s": round(elapsed, 2),
        "cpu_ms_per_turn": {k: round((after[k] - before[k]) * 1000 / max(1, done), 2) for k in before},
        "cpu_utilisation": {k: round((after[k] - before[k]) / elapsed, 2) for k in before},
        "machine_cores_busy": {"ours": round(ours / elapsed, 2), "other": round((busy - ours) / elapsed, 2)},
    }
    return [s for s in samples if s.started >= started + warm_up], costs
