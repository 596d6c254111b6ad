"""The Litestar app of the local Converse endpoint: wiring only.

Routes::

    POST   /model/{modelId}/converse          Converse (JSON)
    POST   /model/{modelId}/converse-stream   ConverseStream (application/vnd.amazon.eventstream)
    GET    /_mock/stats                       call, error, fault and token counts
    DELETE /_mock/stats                       zero the counts
    GET    /_mock/faults                      the fault plan (pending scripted faults included)
    POST   /_mock/faults                      replace the fault plan (body: `FaultConfig`)
    GET    /_mock/latency                     the latency knobs
    POST   /_mock/latency                     replace the latency knobs (body: `LatencyConfig`)

The model id may be URL-encoded, ARNs with their ``/`` included. Every error
is answered in Bedrock's form (status, ``x-amzn-ErrorType``, ``{"message"}``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from litestar import Litestar, MediaType, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody
from litestar.response import Stream

from shopbot.engine.model import ModelClient
from shopbot.mock_bedrock.endpoint import ConverseEndpoint, Stats
from shopbot.mock_bedrock.errors import BedrockError
from shopbot.mock_bedrock.faults import FaultConfig, FaultPlan, Latency, LatencyConfig

__all__ = ["create_converse_app"]

logger = logging.getLogger(__name__)

EVENT_STREAM = "application/vnd.amazon.eventstream"


def _request_id() -> dict[str, str]:
    return {"x-amzn-RequestId": str(uuid.uuid4())}


# One catch-all route: an ARN model id arrives with its "/" decoded, so the operation is the last segment.
@post("/model/{target:path}", operation_id="Invoke", status_code=200)
async def invoke(target: FromPath[str], request: Request, state: State) -> Response[bytes] | Stream:
    """``converse`` or ``converse-stream``, told apart by the last path segment."""
    endpoint: ConverseEndpoint = state.endpoint
    model_id, _, operation = target.lstrip("/").rpartition("/")
    if operation == "converse":
        body = await endpoint.converse(model_id, await request.body())
        return Response(body, media_type=MediaType.JSON, headers=_request_id())
    if operation == "converse-stream":
        events = await endpoint.converse_stream(model_id, await request.body())
        return Stream(events, media_type=EVENT_STREAM, headers=_request_id())
    raise BedrockError("UnknownOperationException", f"Unknown operation: POST /model/{target.lstrip('/')}")


@get("/_mock/stats", operation_id="GetStats")
async def get_stats(state: State) -> Stats:
    """The endpoint's counters."""
    return state.endpoint.stats()


@delete("/_mock/stats", operation_id="ResetStats")
async def reset_stats(state: State) -> None:
    """Zero the counters."""
    state.endpoint.reset_stats()


@get("/_mock/faults", operation_id="GetFaults")
async def get_faults(state: State) -> FaultConfig:
    """The fault plan in force."""
    return state.endpoint.faults.config()


@post("/_mock/faults", operation_id="SetFaults", status_code=200)
async def set_faults(data: JSONBody[FaultConfig], state: State) -> FaultConfig:
    """Replace the fault plan (its random draws restart from the given seed)."""
    state.endpoint.faults = FaultPlan.from_config(data)
    return state.endpoint.faults.config()


@get("/_mock/latency", operation_id="GetLatency")
async def get_latency(state: State) -> LatencyConfig:
    """The latency knob in force."""
    return state.endpoint.latency.config()


@post("/_mock/latency", operation_id="SetLatency", status_code=200)
async def set_latency(data: JSONBody[LatencyConfig], state: State) -> LatencyConfig:
    """Replace the latency knob."""
    state.endpoint.latency = Latency.from_config(data)
    return data


def _error_response(error: BedrockError) -> Response[dict[str, str]]:
    return Response(
        {"message": error.message},
        status_code=error.status,
        headers={"x-amzn-ErrorType": error.error_type_header, **_request_id()},
    )


def _bedrock_error(request: Request, exc: BedrockError) -> Response[dict[str, str]]:
    return _error_response(exc)


def _http_error(request: Request, exc: HTTPException) -> Response[dict[str, str]]:
    if exc.status_code == 400:
        extra = f" {exc.extra}" if exc.extra else ""
        return _error_response(BedrockError.validation(f"{exc.detail}{extra}"))
    if exc.status_code in (404, 405):
        return _error_response(BedrockError("UnknownOperationException", exc.detail))
    return _unexpected_error(request, exc)


def _unexpected_error(request: Request, exc: Exception) -> Response[dict[str, str]]:
    logger.error("local Converse endpoint error", exc_info=exc)
    return _error_response(BedrockError("InternalServerException", "The server encountered an internal error."))


def create_converse_app(
    model: ModelClient,
    *,
    latency_ms: float = 0,
    jitter_ms: float = 0,
    stream_chunk_ms: float = 0,
    faults: FaultPlan | None = None,
    model_ids: Iterable[str] | None = None,
) -> Litestar:
    """A Litestar app speaking Bedrock Runtime's Converse protocol for `model`.

    `latency_ms` (plus up to `jitter_ms`) is waited before each answer that
    reaches the model, and `stream_chunk_ms` between its stream events (a
    ``converse`` answer waits as long as its stream would take); `faults`
    injects failures; `model_ids`, when given, is the set of model ids that
    exist (others get 404 ``ResourceNotFoundException``). The
    `ConverseEndpoint` behind it is ``app.state.endpoint``.
    """
    latency = Latency(latency_ms, jitter_ms, stream_chunk_ms=stream_chunk_ms)
    endpoint = ConverseEndpoint(model, latency=latency, faults=faults, model_ids=model_ids)
    return Litestar(
        route_handlers=[invoke, get_stats, reset_stats, get_faults, set_faults, get_latency, set_latency],
        state=State({"endpoint": endpoint}),
        exception_handlers={
            BedrockError: _bedrock_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
        openapi_config=None,
        logging_config=None,
    )
