"""The HTTP API's handlers: each reads its input, calls one method, and shapes the answer."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, JSONBody, Parameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from shopbot import __version__
from shopbot.engine.conversations import ChatEvent, ChatReply
from shopbot.engine.loop import ToolStarted
from shopbot.messages import TextDelta, TextPart
from shopbot.ratelimit import RateLimiter
from shopbot.runtime import Runtime
from shopbot.tools.specs import TOOL_LABELS
from shopbot.web.auth import Authenticator, Caller
from shopbot.web.errors import error_body
from shopbot.web.schemas import (
    CartLineView,
    CartView,
    ChatRequest,
    ChatResponse,
    ErrorResponse,
    Health,
    NotReady,
    Ready,
    ServiceInfo,
    SessionTranscript,
    ToolUse,
    TranscriptEntry,
    TurnUsage,
)

__all__ = ["ChatController", "SessionController", "health", "readiness", "record_turn", "service_info"]

log = logging.getLogger("shopbot.web")

ERRORS = {
    400: ResponseSpec(ErrorResponse, generate_examples=False, description="Invalid request: the `error` says which field and why."),
    401: ResponseSpec(ErrorResponse, generate_examples=False, description="Missing or invalid credential."),
    403: ResponseSpec(ErrorResponse, generate_examples=False, description="The body names a user the credential does not prove."),
    404: ResponseSpec(ErrorResponse, generate_examples=False, description="No such session for this caller."),
    409: ResponseSpec(ErrorResponse, generate_examples=False, description="Another turn of this session is still running."),
    413: ResponseSpec(ErrorResponse, generate_examples=False, description="The request body is over the size limit."),
    415: ResponseSpec(ErrorResponse, generate_examples=False, description="The body is not `application/json`."),
    422: ResponseSpec(ErrorResponse, generate_examples=False, description="The Idempotency-Key was used with a different request."),
    429: ResponseSpec(ErrorResponse, generate_examples=False, description="Too many requests; see the Retry-After header."),
    500: ResponseSpec(ErrorResponse, generate_examples=False, description="Unexpected error (logged with the request id)."),
    503: ResponseSpec(ErrorResponse, generate_examples=False, description="The model or the shop backend is unavailable."),
}
RuntimeDep = NamedDependency[Runtime]
CallerDep = NamedDependency[Caller]
AuthenticatorDep = NamedDependency[Authenticator]
LimiterDep = NamedDependency[RateLimiter]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        pattern=r"^[\x20-\x7e]{1,200}$",
        description="Makes a retried request safe: a repeat with the same body replays the first reply.",
    ),
]
SessionIdPath = Annotated[str, Parameter(pattern=r"^[A-Za-z0-9._-]{1,100}$", description="The conversation's id.")]
UserIdQuery = Annotated[
    str | None,
    Parameter(pattern=r"^[A-Za-z0-9._:@-]{1,128}$", description="The conversation's owner, if not a guest."),
]


def _errors(*statuses: int) -> dict[int, ResponseSpec]:
    return {status: ERRORS[status] for status in statuses}


class ChatController(Controller):
    """Talking to the assistant."""

    path = "/api/v1/chat"
    tags = ["chat"]

    @post(
        operation_id="chat",
        summary="Send a shopper's message and get the assistant's answer",
        status_code=200,
        responses=_errors(400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503),
    )
    async def chat(
        self,
        data: JSONBody[ChatRequest],
        request: Request[Any, Any, Any],
        runtime: RuntimeDep,
        caller: CallerDep,
        authenticator: AuthenticatorDep,
        limiter: LimiterDep,
        idempotency_key: IdempotencyKey = None,
    ) -> ChatResponse:
        """Without `session_id` a new conversation starts; its id comes back in the reply."""
        started = time.perf_counter()
        shopper = await _admit(data, request, caller, authenticator, limiter)
        reply = await runtime.conversations.chat(
            data.message,
            session_id=data.session_id,
            user_id=shopper,
            idempotency_key=idempotency_key,
            caller=caller.identity,
        )
        _log_turn(reply, started)
        record_turn(request, "success")
        return chat_response(reply)

    @post(
        "/stream",
        operation_id="chatStream",
        summary="Send a shopper's message and stream the answer (Server-Sent Events)",
        status_code=200,
        media_type="text/event-stream",
        response_description="`text`, `tool`, `done` and `error` events (see the description)",
        responses=_errors(400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503),
    )
    async def chat_stream(
        self,
        data: JSONBody[ChatRequest],
        request: Request[Any, Any, Any],
        runtime: RuntimeDep,
        caller: CallerDep,
        authenticator: AuthenticatorDep,
        limiter: LimiterDep,
        idempotency_key: IdempotencyKey = None,
    ) -> ServerSentEvent:
        """The turn as `text/event-stream`, with the same rules as `/api/v1/chat`. Events:

        - `text`: `{"text": <delta>}` as the answer is written;
        - `tool`: `{"id", "name", "status": "running" | "success" | "error", "label"}` as tools run;
        - `done`: the object `/api/v1/chat` returns (its `response` is the whole, final answer);
        - `error`: the error body, when the turn fails after the stream has started.

        A failure before the first event answers with its own status and error body, as `/chat` does.
        """
        started = time.perf_counter()
        shopper = await _admit(data, request, caller, authenticator, limiter)
        events = runtime.conversations.chat_events(
            data.message,
            session_id=data.session_id,
            user_id=shopper,
            idempotency_key=idempotency_key,
            caller=caller.identity,
        )
        first = await anext(events)  # a turn that cannot start keeps its HTTP status
        return ServerSentEvent(_stream(request, first, events, started))


async def _admit(
    data: ChatRequest,
    request: Request[Any, Any, Any],
    caller: Caller,
    authenticator: Authenticator,
    limiter: RateLimiter,
) -> str | None:
    """The shopper the request acts for, once auth and the rate limits let it through."""
    request.state.session_id = data.session_id or ""
    shopper = authenticator.shopper(caller, data.user_id)
    await limiter.check(user=shopper or caller.user_id, address=request.client.host if request.client else None)
    request.state.turn_started = time.perf_counter()
    return shopper


def record_turn(request: Request[Any, Any, Any], outcome: str) -> None:
    """Count a chat request's outcome (`success` or its error code), with its latency once admitted."""
    started = request.scope.get("state", {}).get("turn_started")
    request.app.state.metrics.chat_turn(
        outcome,
        stream=request.url.path.endswith("/stream"),
        seconds=None if started is None else time.perf_counter() - started,
    )


async def _stream(
    request: Request[Any, Any, Any], first: ChatEvent, events: AsyncIterator[ChatEvent], started: float
) -> AsyncIterator[ServerSentEventMessage]:
    try:
        async with contextlib.aclosing(events):
            event = first
            while True:
                yield _event_message(event)
                if isinstance(event, ChatReply):
                    _log_turn(event, started)
                    record_turn(request, "success")
                    return
                event = await anext(events)
    except Exception as exc:
        _, body = error_body(request, exc)
        record_turn(request, body.error.partition(":")[0])
        yield ServerSentEventMessage(event="error", data=_json(body))


def _event_message(event: ChatEvent) -> ServerSentEventMessage:
    if isinstance(event, TextDelta):
        return ServerSentEventMessage(event="text", data=_json({"text": event.text}))
    if isinstance(event, ChatReply):
        return ServerSentEventMessage(event="done", data=_json(chat_response(event)))
    status = "running" if isinstance(event, ToolStarted) else event.status
    tool = {"id": event.id, "name": event.name, "status": status, "label": TOOL_LABELS.get(event.name, event.name)}
    return ServerSentEventMessage(event="tool", data=_json(tool))


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _log_turn(reply: ChatReply, started: float) -> None:
    log.info(
        "chat turn",
        extra={
            "session_id": reply.session_id,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            "model_calls": reply.model_calls,
            "tools": [f"{t.name}:{t.status}" for t in reply.tool_calls],
            "input_tokens": reply.usage.input_tokens,
            "output_tokens": reply.usage.output_tokens,
        },
    )


def chat_response(reply: ChatReply) -> ChatResponse:
    """The API's view of a chat reply."""
    usage = reply.usage
    return ChatResponse(
        response=reply.reply,
        session_id=reply.session_id,
        tools=tuple(ToolUse(t.name, t.status) for t in reply.tool_calls),
        usage=TurnUsage(
            model_calls=reply.model_calls,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            estimated_cost_usd=reply.cost_usd,
        ),
    )


class SessionController(Controller):
    """Reading and forgetting a conversation, for its owner."""

    path = "/api/v1/sessions/{session_id:str}"
    tags = ["sessions"]

    @get(operation_id="getSession", summary="The conversation so far", responses=_errors(400, 401, 403, 404, 500))
    async def transcript(
        self,
        session_id: SessionIdPath,
        runtime: RuntimeDep,
        caller: CallerDep,
        authenticator: AuthenticatorDep,
        request: Request[Any, Any, Any],
        user_id: UserIdQuery = None,
    ) -> SessionTranscript:
        """User and assistant text turns, oldest first (tool calls are left out)."""
        request.state.session_id = session_id
        shopper = authenticator.shopper(caller, user_id)
        session = await runtime.conversations.history(session_id, user_id=shopper)
        entries = tuple(
            TranscriptEntry(message.role, message.text)
            for message in session.history
            if any(isinstance(part, TextPart) for part in message.parts) and not message.tool_calls
        )
        return SessionTranscript(session_id, entries)

    @get(
        "/cart",
        operation_id="getSessionCart",
        summary="The cart of the conversation's shopper",
        responses=_errors(400, 401, 403, 404, 500, 503),
    )
    async def cart(
        self,
        session_id: SessionIdPath,
        runtime: RuntimeDep,
        caller: CallerDep,
        authenticator: AuthenticatorDep,
        request: Request[Any, Any, Any],
        user_id: UserIdQuery = None,
    ) -> CartView:
        """What the assistant has put in the shopper's cart so far (as the shop reports it now)."""
        request.state.session_id = session_id
        session = await runtime.conversations.history(session_id, user_id=authenticator.shopper(caller, user_id))
        cart = await runtime.storefront.get_cart(session.owner)
        lines = tuple(
            CartLineView(line.product_id, line.name, str(line.unit_price), line.quantity, str(line.line_total))
            for line in cart.items
        )
        return CartView(cart.currency, cart.item_count, str(cart.subtotal), lines)

    @delete(operation_id="deleteSession", summary="Forget the conversation", responses=_errors(400, 401, 403, 404, 500))
    async def forget(
        self,
        session_id: SessionIdPath,
        runtime: RuntimeDep,
        caller: CallerDep,
        authenticator: AuthenticatorDep,
        request: Request[Any, Any, Any],
        user_id: UserIdQuery = None,
    ) -> None:
        """The conversation's history is deleted; the shopper's cart is not touched."""
        request.state.session_id = session_id
        await runtime.conversations.forget(session_id, user_id=authenticator.shopper(caller, user_id))


@get("/api/v1/health", operation_id="health", summary="Liveness", tags=["health"])
async def health() -> Health:
    """The process is up."""
    return Health()


@get(
    "/api/v1/health/ready",
    operation_id="readiness",
    summary="Readiness: the engine, the storefront and the session store answer",
    tags=["health"],
    responses={503: ResponseSpec(NotReady, generate_examples=False, description="Not ready; `detail` names what is not.")},
)
async def readiness(runtime: RuntimeDep, request: Request[Any, Any, Any]) -> Response[Ready | NotReady]:
    """200 when ready; 503 naming what is not (or that the instance is shutting down)."""
    if getattr(request.app.state, "draining", False):
        return Response(NotReady("Service not ready - shutting down"), status_code=503)
    problems = await runtime.not_ready()
    if problems:
        return Response(NotReady(f"Service not ready - {', '.join(problems)}"), status_code=503)
    return Response(Ready())


@get("/", operation_id="serviceInfo", summary="What this service is", tags=["health"])
async def service_info() -> ServiceInfo:
    """The service's name, version and where its docs and health check are."""
    return ServiceInfo(version=__version__)
