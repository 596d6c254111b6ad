"""What the local Converse endpoint does for one call, without any HTTP.

`ConverseEndpoint` takes the model id and the raw body, and returns the
answer's bytes (``converse``) or an async iterator of its event-stream
messages (``converse-stream``); anything Bedrock would refuse is raised as
`BedrockError`. The order of a call:

1. unknown model id → 404, invalid body → 400 (no fault is drawn for these);
2. the fault plan's draw: front-door faults (throttle, unavailable, internal,
   access denied) answer at once;
3. the latency knob's wait;
4. model timeout → 408; otherwise the model answers (`ModelUnavailable` →
   503, `ModelRequestRejected` → 400, anything else → 500 with a generic
   message);
5. the answer's generation time: a stream sends its events
   `Latency.stream_chunk_ms` apart; ``converse`` waits as long as its stream
   would have taken, (events − 1) × `stream_chunk_ms`, before answering, so
   the two operations take comparable time;
6. a stream interrupt cuts the event stream after its first events.

Usage: the model's token counts pass through. A model that reports zero input
tokens gets an estimate of one token per 4 bytes of the request body, and zero
output tokens one per 4 bytes of the answer message's JSON, so that benchmarks
see plausible numbers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from typing import Any

import msgspec

from shopbot.engine.converse import (
    message_to_wire,
    request_from_wire,
    response_to_wire,
    usage_to_wire,
)
from shopbot.engine.model import ModelClient
from shopbot.errors import ModelRequestRejected, ModelUnavailable
from shopbot.messages import ModelRequest, ModelResponse, TextPart, ToolCall, Usage
from shopbot.mock_bedrock.cache import PromptCache
from shopbot.mock_bedrock.errors import BedrockError
from shopbot.mock_bedrock.eventstream import encode_event, encode_exception
from shopbot.mock_bedrock.faults import Fault, FaultPlan, Latency, fault_error
from shopbot.mock_bedrock.validation import validate_request

__all__ = ["ConverseEndpoint", "Stats", "message_events", "metadata_event", "stream_events"]

logger = logging.getLogger(__name__)

TEXT_CHUNK = 16
TOOL_INPUT_CHUNK = 16
INTERRUPT_AFTER = 2  # events sent before an injected stream interruption

UNKNOWN_MODEL = "Could not resolve the foundation model from the provided model identifier."

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class Stats(msgspec.Struct, kw_only=True):
    """Counts since the endpoint started (or since the last reset): ``GET /_mock/stats``.

    `calls` by operation, `errors` by error code (in-stream exceptions by their
    event name, e.g. ``throttlingException``), `faults` by injected kind, the
    tokens answered, and the calls in flight now and at most.
    """

    calls: dict[str, int] = msgspec.field(default_factory=dict)
    errors: dict[str, int] = msgspec.field(default_factory=dict)
    faults: dict[str, int] = msgspec.field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


class ConverseEndpoint:
    """Serves a `ModelClient` with Bedrock's behaviour; the knobs are public attributes.

    `faults` and `latency` may be replaced at any time (the admin routes do);
    `model_ids`, when given, is the set of model ids that exist.
    """

    def __init__(
        self,
        model: ModelClient,
        *,
        latency: Latency | None = None,
        faults: FaultPlan | None = None,
        model_ids: Iterable[str] | None = None,
    ) -> None:
        self.model = model
        self.latency = latency or Latency()
        self.cache = PromptCache()
        self.faults = faults or FaultPlan()
        self.model_ids = frozenset(model_ids) if model_ids is not None else None
        self._calls: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._tokens = Usage()
        self._in_flight = 0
        self._max_in_flight = 0

    def stats(self) -> Stats:
        """A snapshot of the counters."""
        return Stats(
            calls=dict(self._calls),
            errors=dict(self._errors),
            faults=dict(self._faults),
            input_tokens=self._tokens.input_tokens,
            output_tokens=self._tokens.output_tokens,
            in_flight=self._in_flight,
            max_in_flight=self._max_in_flight,
        )

    def reset_stats(self) -> None:
        """Zero the counters (calls in flight stay counted)."""
        self._calls.clear()
        self._errors.clear()
        self._faults.clear()
        self._tokens = Usage()
        self._max_in_flight = self._in_flight

    async def converse(self, model_id: str, body: bytes) -> bytes:
        """The JSON answer of ``converse``, once its stream would have ended."""
        started = time.perf_counter()
        self._enter("converse")
        try:
            response, fault = await self._call(model_id, body)
            if fault is Fault.STREAM_INTERRUPT:
                # A call that does not stream cannot break mid-way; it fails whole.
                raise fault_error(fault)
            generation = len(message_events(response)) * self.latency.chunk_seconds()
            if generation > 0:
                await asyncio.sleep(generation)
            return _encode(response_to_wire(response, latency_ms=_elapsed_ms(started)))
        except BedrockError as exc:
            self._errors[exc.code] += 1
            raise
        finally:
            self._in_flight -= 1

    async def converse_stream(self, model_id: str, body: bytes) -> AsyncIterator[bytes]:
        """The event-stream messages of ``converse-stream``, each yielded when it is due.

        Errors before the first event are raised (they become HTTP errors); the
        events then come `stream_chunk_ms` apart, and an injected interruption
        ends them with an exception event. The call stays in flight until its
        last event is sent or the client goes away.
        """
        started = time.perf_counter()
        self._enter("converse_stream")
        streaming = False
        try:
            response, fault = await self._call(model_id, body)
            pause = self.latency.chunk_seconds()
            events = message_events(response)
            if fault is Fault.STREAM_INTERRUPT:
                error = self.faults.interrupt_error
                self._errors[error] += 1
                events = [*events[:INTERRUPT_AFTER], encode_exception(error, _STREAM_MESSAGES[error])]
            else:
                # Bedrock's latencyMs covers the whole invocation: the stream's remaining events included.
                latency_ms = _elapsed_ms(started) + round(len(events) * pause * 1000)
                events.append(metadata_event(response, latency_ms=latency_ms))
            streaming = True
            return self._send(events, pause)
        except BedrockError as exc:
            self._errors[exc.code] += 1
            raise
        finally:
            if not streaming:
                self._in_flight -= 1

    async def _send(self, events: list[bytes], pause: float) -> AsyncIterator[bytes]:
        try:
            for k, event in enumerate(events):
                if k and pause:
                    await asyncio.sleep(pause)
                yield event
        finally:
            self._in_flight -= 1

    def _enter(self, operation: str) -> None:
        self._calls[operation] += 1
        self._in_flight += 1
        self._max_in_flight = max(self._max_in_flight, self._in_flight)

    async def _call(self, model_id: str, body: bytes) -> tuple[ModelResponse, Fault | None]:
        """Steps 1-4 of a call: the model's response (usage filled in) and a pending stream fault."""
        if not model_id:
            raise BedrockError.constraint("", "modelId", "Member must have length greater than or equal to 1")
        if self.model_ids is not None and model_id not in self.model_ids:
            raise BedrockError("ResourceNotFoundException", UNKNOWN_MODEL)
        request, wire = _parse(body, model_id)
        fault = self.faults.next_fault()
        if fault is not None:
            self._faults[fault.value] += 1
            if fault not in (Fault.MODEL_TIMEOUT, Fault.STREAM_INTERRUPT):
                raise fault_error(fault)
        wait = self.latency.seconds()
        if wait > 0:
            await asyncio.sleep(wait)
        if fault is Fault.MODEL_TIMEOUT:
            raise fault_error(fault)
        response = await self._respond(request)
        usage = _estimate_usage(response, len(body))
        if b'"cachePoint"' in body:
            usage = self.cache.account(wire, usage)
        self._tokens = self._tokens + usage
        return msgspec.structs.replace(response, usage=usage), fault

    async def _respond(self, request: ModelRequest) -> ModelResponse:
        try:
            return await self.model.respond(request)
        except ModelUnavailable:
            raise BedrockError("ServiceUnavailableException", "Bedrock is unable to process your request.") from None
        except ModelRequestRejected as exc:
            raise BedrockError.validation(f"The model returned the following errors: {exc}") from None
        except Exception:
            logger.exception("the model behind the local Converse endpoint failed")
            raise BedrockError(
                "InternalServerException", "The server encountered an internal error. Try again later."
            ) from None


_STREAM_MESSAGES = {
    "throttlingException": "Too many requests, please wait before trying again.",
    "serviceUnavailableException": "Bedrock is unable to process your request.",
    "internalServerException": "The server encountered an internal error. Try again later.",
    "modelStreamErrorException": "The model stream failed. Try your request again.",
    "validationException": "The model produced output that could not be streamed.",
}


def _parse(body: bytes, model_id: str) -> tuple[ModelRequest, Any]:
    try:
        wire = _decode(body)
    except msgspec.DecodeError:
        raise BedrockError.validation("Malformed input request, please reformat your input and try again.") from None
    validate_request(wire, model_id)
    return request_from_wire(wire), wire


def _estimate_usage(response: ModelResponse, body_size: int) -> Usage:
    usage = response.usage
    if usage.input_tokens and usage.output_tokens:
        return usage
    input_tokens = usage.input_tokens or max(1, body_size // 4)
    output_tokens = usage.output_tokens or max(1, len(_encode(message_to_wire(response.message))) // 4)
    return msgspec.structs.replace(usage, input_tokens=input_tokens, output_tokens=output_tokens)


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _chunks(text: str, size: int) -> list[str]:
    return [text[k : k + size] for k in range(0, len(text), size)] or [text]


def stream_events(response: ModelResponse, *, latency_ms: int = 0) -> list[bytes]:
    """A response as ``converse-stream`` events, in Bedrock's order.

    ``messageStart``; per content block either text deltas or a tool use's
    ``contentBlockStart`` and input-JSON deltas, then ``contentBlockStop``;
    ``messageStop``; ``metadata`` with usage and latency. Empty text parts are
    skipped, as Bedrock sends no empty blocks.
    """
    return [*message_events(response), metadata_event(response, latency_ms=latency_ms)]


def message_events(response: ModelResponse) -> list[bytes]:
    """The events of `stream_events` up to ``messageStop``: all but the ``metadata``."""
    events = [encode_event("messageStart", {"role": "assistant"})]
    index = 0
    for part in response.message.parts:
        if isinstance(part, TextPart):
            if not part.text:
                continue
            events.extend(
                encode_event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": chunk}})
                for chunk in _chunks(part.text, TEXT_CHUNK)
            )
        elif isinstance(part, ToolCall):
            start = {"toolUse": {"toolUseId": part.id, "name": part.name}}
            events.append(encode_event("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            events.extend(
                encode_event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": chunk}}})
                for chunk in _chunks(_encode(part.input).decode(), TOOL_INPUT_CHUNK)
            )
        else:
            continue  # an assistant never sends tool results
        events.append(encode_event("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    events.append(encode_event("messageStop", {"stopReason": response.stop_reason.value}))
    return events


def metadata_event(response: ModelResponse, *, latency_ms: int) -> bytes:
    """The stream's last event: usage and latency."""
    return encode_event("metadata", {"usage": usage_to_wire(response.usage), "metrics": {"latencyMs": latency_ms}})
