"""The generation-time knob: stream events `stream_chunk_ms` apart, and converse as slow as its stream."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from shopbot.engine.scripted import ScriptedModel, text_response
from shopbot.mock_bedrock import Latency
from shopbot.mock_bedrock.endpoint import stream_events

MODEL_ID = "us.amazon.nova-lite-v1:0"
HI = [{"role": "user", "content": [{"text": "hi"}]}]
# Three text deltas of 16 characters: seven events in all, so six gaps.
ANSWER = text_response("Three pairs fit: the Trail 2, Ridge and the Mesa")
EVENTS = len(stream_events(ANSWER))


async def test_stream_events_leave_the_server_one_by_one(start):
    running = await start(ScriptedModel([ANSWER]), stream_chunk_ms=100)

    began = time.perf_counter()
    response = await running.bedrock.converse_stream(modelId=MODEL_ID, messages=HI)
    arrivals = [time.perf_counter() - began async for _ in response["stream"]]

    assert len(arrivals) == EVENTS == 7
    assert arrivals[0] < 0.1
    assert arrivals[-1] >= 0.6 * 0.9
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert all(gap >= 0.08 for gap in gaps), gaps


async def test_the_latency_stays_the_time_to_the_first_event(start):
    running = await start(ScriptedModel([ANSWER]), latency_ms=200, stream_chunk_ms=50)

    began = time.perf_counter()
    response = await running.bedrock.converse_stream(modelId=MODEL_ID, messages=HI)
    arrivals = [time.perf_counter() - began async for _ in response["stream"]]

    assert 0.2 <= arrivals[0] < 0.35
    assert arrivals[-1] - arrivals[0] >= 6 * 0.05 * 0.9


async def test_converse_takes_as_long_as_its_stream_would(start):
    running = await start(ScriptedModel([ANSWER]), latency_ms=100, stream_chunk_ms=50)

    began = time.perf_counter()
    out = await running.bedrock.converse(modelId=MODEL_ID, messages=HI)
    elapsed = time.perf_counter() - began

    expected = 0.1 + (EVENTS - 1) * 0.05
    assert expected <= elapsed < expected + 0.3
    assert out["metrics"]["latencyMs"] >= expected * 1000


async def test_stream_metadata_reports_the_whole_invocation(start):
    running = await start(ScriptedModel([ANSWER]), latency_ms=100, stream_chunk_ms=50)

    response = await running.bedrock.converse_stream(modelId=MODEL_ID, messages=HI)
    events = [event async for event in response["stream"]]

    assert events[-1]["metadata"]["metrics"]["latencyMs"] >= 100 + (EVENTS - 1) * 50


async def test_a_stream_is_in_flight_until_its_last_event(start):
    running = await start(ScriptedModel([ANSWER]), stream_chunk_ms=100)

    response = await running.bedrock.converse_stream(modelId=MODEL_ID, messages=HI)
    stream = aiter(response["stream"])
    await anext(stream)
    assert (await running.http.get("/_mock/stats")).json()["in_flight"] == 1
    _ = [event async for event in stream]
    assert (await running.http.get("/_mock/stats")).json()["in_flight"] == 0


async def test_a_stream_the_client_leaves_stops_being_in_flight(start):
    running = await start(ScriptedModel([ANSWER]), stream_chunk_ms=500)

    response = await running.bedrock.converse_stream(modelId=MODEL_ID, messages=HI)
    await anext(aiter(response["stream"]))
    response["stream"].close()

    for _ in range(100):
        if (await running.http.get("/_mock/stats")).json()["in_flight"] == 0:
            break
        await asyncio.sleep(0.01)
    assert (await running.http.get("/_mock/stats")).json()["in_flight"] == 0


async def test_admin_routes_set_the_chunk_delay(start):
    running = await start(ScriptedModel([ANSWER]))

    response = await running.http.post("/_mock/latency", json={"stream_chunk_ms": 40})
    assert response.json() == {"latency_ms": 0.0, "jitter_ms": 0.0, "stream_chunk_ms": 40.0, "seed": 0}
    assert (await running.http.get("/_mock/latency")).json()["stream_chunk_ms"] == 40

    began = time.perf_counter()
    await running.bedrock.converse(modelId=MODEL_ID, messages=HI)
    assert time.perf_counter() - began >= (EVENTS - 1) * 0.04

    assert (await running.http.post("/_mock/latency", json={"stream_chunk_ms": -1})).status_code == 400


def test_the_chunk_delay_cannot_be_negative():
    with pytest.raises(ValueError):
        Latency(stream_chunk_ms=-1)
    assert Latency(stream_chunk_ms=25).chunk_seconds() == 0.025
