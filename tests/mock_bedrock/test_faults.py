"""Injected faults, model failures, latency, and the /_mock/ admin routes."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from botocore.exceptions import ClientError

from shopbot.engine.scripted import ScriptedModel
from shopbot.errors import ModelRequestRejected, ModelUnavailable
from shopbot.mock_bedrock import Fault, FaultPlan

MODEL_ID = "us.amazon.nova-lite-v1:0"
HI = [{"role": "user", "content": [{"text": "hi"}]}]

CODES = {
    Fault.THROTTLE: ("ThrottlingException", 429),
    Fault.UNAVAILABLE: ("ServiceUnavailableException", 503),
    Fault.INTERNAL: ("InternalServerException", 500),
    Fault.ACCESS_DENIED: ("AccessDeniedException", 403),
    Fault.MODEL_TIMEOUT: ("ModelTimeoutException", 408),
    Fault.STREAM_INTERRUPT: ("InternalServerException", 500),
}


async def error_of(call) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        await call
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


@pytest.mark.parametrize("fault", list(Fault))
async def test_each_scripted_fault_fails_exactly_one_call(start, fault):
    running = await start(faults=FaultPlan().fail_next(fault))

    code, status, message = await error_of(running.bedrock.converse(modelId=MODEL_ID, messages=HI))

    assert (code, status) == CODES[fault]
    assert message
    out = await running.bedrock.converse(modelId=MODEL_ID, messages=HI)
    assert out["stopReason"] == "end_turn"


@pytest.mark.parametrize("fault", [f for f in Fault if f is not Fault.STREAM_INTERRUPT])
async def test_faults_before_a_stream_are_http_errors(start, fault):
    running = await start(faults=FaultPlan().fail_next(fault))

    code, status, _ = await error_of(running.bedrock.converse_stream(modelId=MODEL_ID, messages=HI))

    assert (code, status) == CODES[fault]


async def test_scripted_faults_target_exact_calls(start):
    plan = FaultPlan().fail_next(Fault.THROTTLE, times=2).fail_next(Fault.UNAVAILABLE)
    running = await start(faults=plan)
    outcomes = []
    for _ in range(5):
        try:
            await running.bedrock.converse(modelId=MODEL_ID, messages=HI)
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    assert outcomes == ["ThrottlingException", "ThrottlingException", "ServiceUnavailableException", "ok", "ok"]


async def test_invalid_requests_do_not_consume_scripted_faults(start):
    running = await start(faults=FaultPlan().fail_next(Fault.THROTTLE))

    code, _, _ = await error_of(running.bedrock.converse(modelId=MODEL_ID, messages=HI * 2))
    assert code == "ValidationException"
    code, _, _ = await error_of(running.bedrock.converse(modelId=MODEL_ID, messages=HI))
    assert code == "ThrottlingException"


async def test_certain_probability_fails_every_call(start):
    running = await start(faults=FaultPlan(unavailable=1.0))

    for _ in range(3):
        code, _, _ = await error_of(running.bedrock.converse(modelId=MODEL_ID, messages=HI))
        assert code == "ServiceUnavailableException"


def draws(plan: FaultPlan, n: int) -> list[Fault | None]:
    return [plan.next_fault() for _ in range(n)]


def test_fault_plan_draws_are_seeded_and_follow_the_probabilities():
    knobs = {"throttle": 0.2, "unavailable": 0.1, "stream_interrupt": 0.05}

    first = draws(FaultPlan(**knobs, seed=42), 20_000)

    assert first == draws(FaultPlan(**knobs, seed=42), 20_000)
    assert first != draws(FaultPlan(**knobs, seed=43), 20_000)
    counts = Counter(first)
    assert abs(counts[Fault.THROTTLE] / 20_000 - 0.2) < 0.02
    assert abs(counts[Fault.UNAVAILABLE] / 20_000 - 0.1) < 0.015
    assert abs(counts[Fault.STREAM_INTERRUPT] / 20_000 - 0.05) < 0.01
    assert counts[Fault.MODEL_TIMEOUT] == 0
    assert draws(FaultPlan(), 100) == [None] * 100


@pytest.mark.parametrize("knobs", [{"throttle": 1.5}, {"throttle": -0.1}, {"throttle": 0.6, "unavailable": 0.6}])
def test_fault_plan_rejects_impossible_probabilities(knobs):
    with pytest.raises(ValueError):
        FaultPlan(**knobs)


@pytest.mark.parametrize(
    ("raised", "code", "status"),
    [
        (ModelUnavailable("bedrock is down"), "ServiceUnavailableException", 503),
        (ModelRequestRejected("prompt too long"), "ValidationException", 400),
        (RuntimeError("secret detail"), "InternalServerException", 500),
    ],
)
async def test_model_failures_map_to_bedrock_errors(start, raised, code, status):
    running = await start(ScriptedModel([raised]))

    got_code, got_status, message = await error_of(running.bedrock.converse(modelId=MODEL_ID, messages=HI))

    assert (got_code, got_status) == (code, status)
    assert "secret" not in message and "Traceback" not in message


async def test_latency_delays_answers_that_reach_the_model(start):
    running = await start(latency_ms=150, jitter_ms=50)

    began = time.perf_counter()
    out = await running.bedrock.converse(modelId=MODEL_ID, messages=HI)
    elapsed = time.perf_counter() - began

    assert 0.15 <= elapsed < 2.0
    assert out["metrics"]["latencyMs"] >= 150


async def test_front_door_faults_skip_the_latency(start):
    running = await start(latency_ms=400, faults=FaultPlan().fail_next(Fault.THROTTLE))

    began = time.perf_counter()
    code, _, _ = await error_of(running.bedrock.converse(modelId=MODEL_ID, messages=HI))

    assert code == "ThrottlingException"
    assert time.perf_counter() - began < 0.4


async def test_admin_routes_change_faults_at_run_time(start):
    running = await start()

    plan = {"script": [{"fault": "throttle", "times": 2}], "seed": 5}
    response = await running.http.post("/_mock/faults", json=plan)
    assert response.status_code == 200
    assert response.json()["script"] == [{"fault": "throttle", "times": 2}]

    code, _, _ = await error_of(running.bedrock.converse(modelId=MODEL_ID, messages=HI))
    assert code == "ThrottlingException"
    assert (await running.http.get("/_mock/faults")).json()["script"] == [{"fault": "throttle", "times": 1}]

    await running.http.post("/_mock/faults", json={"model_timeout": 1.0})
    code, _, _ = await error_of(running.bedrock.converse(modelId=MODEL_ID, messages=HI))
    assert code == "ModelTimeoutException"

    await running.http.post("/_mock/faults", json={})
    assert (await running.bedrock.converse(modelId=MODEL_ID, messages=HI))["stopReason"] == "end_turn"


async def test_admin_routes_change_latency_at_run_time(start):
    running = await start()

    response = await running.http.post("/_mock/latency", json={"latency_ms": 200})
    assert response.json() == {"latency_ms": 200.0, "jitter_ms": 0.0, "stream_chunk_ms": 0.0, "seed": 0}
    began = time.perf_counter()
    await running.bedrock.converse(modelId=MODEL_ID, messages=HI)
    assert time.perf_counter() - began >= 0.2

    await running.http.post("/_mock/latency", json={})
    assert (await running.http.get("/_mock/latency")).json()["latency_ms"] == 0


async def test_admin_stats_count_calls_errors_faults_and_tokens(start):
    running = await start(faults=FaultPlan().fail_next(Fault.THROTTLE))

    await error_of(running.bedrock.converse(modelId=MODEL_ID, messages=HI))
    await running.bedrock.converse(modelId=MODEL_ID, messages=HI)
    response = await running.bedrock.converse_stream(modelId=MODEL_ID, messages=HI)
    _ = [event async for event in response["stream"]]
    await error_of(running.bedrock.converse(modelId=MODEL_ID, messages=[]))

    stats = (await running.http.get("/_mock/stats")).json()
    assert stats["calls"] == {"converse": 3, "converse_stream": 1}
    assert stats["errors"] == {"ThrottlingException": 1, "ValidationException": 1}
    assert stats["faults"] == {"throttle": 1}
    assert stats["input_tokens"] > 0 and stats["output_tokens"] > 0
    assert stats["in_flight"] == 0 and stats["max_in_flight"] == 1

    assert (await running.http.delete("/_mock/stats")).status_code == 204
    stats = (await running.http.get("/_mock/stats")).json()
    assert stats["calls"] == {} and stats["input_tokens"] == 0


@pytest.mark.parametrize(
    "body", [{"throttle": 2}, {"throttle": 0.7, "internal": 0.7}, {"unknown": 1}, {"script": [{"fault": "boom"}]}]
)
async def test_admin_rejects_bad_fault_plans(start, body):
    running = await start()

    response = await running.http.post("/_mock/faults", json=body)

    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"].startswith("ValidationException:")
    assert response.json()["message"]


async def test_unknown_routes_are_bedrock_style_errors(start):
    running = await start()

    for method, path in [("POST", f"/model/{MODEL_ID}/invoke-nothing"), ("GET", "/nowhere")]:
        response = await running.http.request(method, path)
        assert response.status_code == 404
        assert response.headers["x-amzn-ErrorType"].startswith("UnknownOperationException:")
