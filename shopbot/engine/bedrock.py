"""The Bedrock adapter: shopbot's `ModelClient` on the Converse API through aioboto3.

One aioboto3 session and one long-lived `bedrock-runtime` client per process,
opened with `open_bedrock_model()` and closed with it. The standard AWS
credential chain applies (environment keys, profile, IAM role). botocore's own
retry modes handle throttling and transient errors; whatever still fails is
translated here, once, into shopbot's `ModelError`s.

`BedrockModel.respond` is one ``converse`` call; `BedrockModel.stream` is one
``converse_stream`` call, read event by event. botocore retries a stream only
until its HTTP response starts; an error inside the stream (an exception event,
a dropped connection) ends the generator with the mapped error.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aioboto3
import aiohttp
from botocore.config import Config
from botocore.eventstream import ParserError as EventStreamParserError
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
)

from shopbot.engine.converse import request_to_wire, response_from_wire, usage_from_wire
from shopbot.errors import ModelRequestRejected, ModelUnavailable
from shopbot.messages import (
    Message,
    ModelRequest,
    ModelResponse,
    Part,
    StopReason,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    Usage,
)
from shopbot.settings import Settings

__all__ = ["BedrockModel", "map_client_error", "open_bedrock_model"]

log = logging.getLogger(__name__)

# Worth answering 503 for: the model may answer a later request. botocore has
# already retried the throttling and 5xx ones among them.
UNAVAILABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelTimeoutException",
        "ModelErrorException",
        "ServiceQuotaExceededException",
        "ModelStreamErrorException",
    }
)

# What reading a ConverseStream raises: exception events (`EventStreamError`, a `ClientError`) and, as
# aiobotocore reads the body straight from aiohttp, a dropped connection (`ClientPayloadError`), a read
# timeout (`ServerTimeoutError`) or broken framing (botocore's event-stream `ParserError`).
STREAM_ERRORS = (ClientError, BotoCoreError, aiohttp.ClientError, EventStreamParserError)
STOP_REASONS = frozenset(reason.value for reason in StopReason)


class BedrockModel:
    """A `ModelClient` that calls Converse on an open `bedrock-runtime` client."""

    def __init__(
        self,
        client: Any,
        *,
        model_id: str,
        temperature: float = 0.7,
        max_tokens: int = 2048,
        greedy_decoding: bool | None = None,
        prompt_caching: bool | None = None,
    ) -> None:
        self.client = client
        self.model_id = model_id
        self.inference = {"maxTokens": max_tokens, "temperature": temperature}
        self.additional_fields = _additional_fields(model_id, greedy_decoding)
        self.cache_min_tokens = _cache_min_tokens(model_id, prompt_caching)

    async def respond(self, request: ModelRequest) -> ModelResponse:
        """One Converse call."""
        try:
            response = await self.client.converse(**self._wire(request))
        except (ClientError, BotoCoreError) as exc:
            raise map_client_error(exc) from exc
        return response_from_wire(response)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """One ConverseStream call: text deltas as they arrive, then the whole `ModelResponse`.

        Closing the generator early (a consumer that stops, a cancelled turn)
        closes the HTTP response, so no connection is left half-read.
        """
        try:
            response = await self.client.converse_stream(**self._wire(request))
        except (ClientError, BotoCoreError) as exc:
            raise map_client_error(exc) from exc
        events = response["stream"]
        answer = _StreamedAnswer()
        try:
            async for event in events:
                if text := answer.add(event):
                    yield TextDelta(text)
        except STREAM_ERRORS as exc:
            raise map_client_error(exc) from exc
        finally:
            events.close()
        yield answer.response()

    def _wire(self, request: ModelRequest) -> dict[str, Any]:
        return request_to_wire(
            request,
            model_id=self.model_id,
            inference=self.inference,
            additional_fields=self.additional_fields,
            cache_min_tokens=self.cache_min_tokens,
        )


class _StreamedAnswer:
    """A ConverseStream answer put together from its events, block by block."""

    def __init__(self) -> None:
        self.texts: dict[int, list[str]] = {}
        self.tool_uses: dict[int, tuple[str, str, list[str]]] = {}  # index → (id, name, input pieces)
        self.parts: dict[int, Part] = {}
        self.stop_reason: StopReason | None = None
        self.malformed_tool_use = False
        self.usage = Usage()

    def add(self, event: dict[str, Any]) -> str:
        """Take one event; return the text it adds to the message ("" if none)."""
        if "contentBlockDelta" in event:
            index, delta = event["contentBlockDelta"]["contentBlockIndex"], event["contentBlockDelta"]["delta"]
            if "text" in delta:
                self.texts.setdefault(index, []).append(delta["text"])
                return delta["text"]
            if "toolUse" in delta and index in self.tool_uses:
                self.tool_uses[index][2].append(delta["toolUse"].get("input", ""))
        elif "contentBlockStart" in event:
            start = event["contentBlockStart"]
            if use := start["start"].get("toolUse"):
                self.tool_uses[start["contentBlockIndex"]] = (use["toolUseId"], use["name"], [])
        elif "contentBlockStop" in event:
            self._finish(event["contentBlockStop"]["contentBlockIndex"])
        elif "messageStop" in event:
            reason = event["messageStop"]["stopReason"]
            # A stop reason newer than shopbot: treat it like a malformed answer.
            self.stop_reason = StopReason(reason) if reason in STOP_REASONS else StopReason.MALFORMED_MODEL_OUTPUT
        elif "metadata" in event:
            self.usage = usage_from_wire(event["metadata"].get("usage"))
        return ""

    def _finish(self, index: int) -> None:
        if index in self.texts:
            self.parts[index] = TextPart("".join(self.texts.pop(index)))
        elif index in self.tool_uses:
            tool_use_id, name, pieces = self.tool_uses.pop(index)
            try:
                tool_input = json.loads("".join(pieces) or "{}")
            except ValueError:
                tool_input = None
            if isinstance(tool_input, dict):
                self.parts[index] = ToolCall(tool_use_id, name, tool_input)
            else:
                self.malformed_tool_use = True

    def response(self) -> ModelResponse:
        """The whole answer; a stream that ended without ``messageStop`` is unavailable."""
        if self.stop_reason is None:
            raise ModelUnavailable("model stream ended before the message did")
        for index in [*self.texts, *self.tool_uses]:  # blocks the stream never closed
            self._finish(index)
        stop_reason = StopReason.MALFORMED_TOOL_USE if self.malformed_tool_use else self.stop_reason
        message = Message("assistant", tuple(self.parts[index] for index in sorted(self.parts)))
        return ModelResponse(message, stop_reason, self.usage)


# The shortest prefix each family caches (tokens); families not listed do not take cache points.
CACHE_MIN_TOKENS = {"amazon.nova": 1000, "anthropic.claude": 1024}


def _cache_min_tokens(model_id: str, prompt_caching: bool | None) -> int | None:
    if prompt_caching is False:
        return None
    return next((tokens for family, tokens in CACHE_MIN_TOKENS.items() if family in model_id), None)


def _additional_fields(model_id: str, greedy_decoding: bool | None) -> dict[str, Any] | None:
    is_nova = "amazon.nova" in model_id
    # Nova's documented advice for tool use is greedy decoding, in Nova's own nesting.
    if greedy_decoding if greedy_decoding is not None else is_nova:
        return {"inferenceConfig": {"topK": 1}} if is_nova else {"top_k": 1}
    return None


def map_client_error(
    exc: ClientError | BotoCoreError | aiohttp.ClientError | EventStreamParserError,
) -> ModelUnavailable | ModelRequestRejected:
    """The shopbot error for a botocore failure, or for a stream that broke while being read."""
    if isinstance(exc, (ConnectionError, HTTPClientError)):
        return ModelUnavailable(f"model endpoint unreachable: {exc}")
    if isinstance(exc, (aiohttp.ClientError, EventStreamParserError)):
        return ModelUnavailable(f"model stream broken: {type(exc).__name__}: {exc}")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        # Errors inside a ConverseStream arrive with lower-case codes.
        normalised = code[:1].upper() + code[1:]
        if normalised in UNAVAILABLE_CODES:
            return ModelUnavailable(f"model unavailable: {normalised}")
        log.error("Bedrock refused the request (%s): %s", code, exc)
        return ModelRequestRejected(f"model request rejected: {code}")
    log.error("Bedrock client misconfigured: %s", exc)
    return ModelRequestRejected(f"model client error: {type(exc).__name__}")


def client_config(settings: Settings) -> Config:
    """botocore's configuration: explicit retry mode, pool size and timeouts."""
    return Config(
        # botocore's `max_attempts` counts retries only; `total_max_attempts` counts every attempt.
        retries={"mode": settings.bedrock_retry_mode, "total_max_attempts": settings.bedrock_max_attempts},
        max_pool_connections=settings.bedrock_max_connections,
        connect_timeout=settings.bedrock_connect_timeout,
        read_timeout=settings.bedrock_read_timeout,
        tcp_keepalive=True,
        # The request is built from validated structs; botocore's re-check costs CPU on every call.
        parameter_validation=False,
    )


@contextlib.asynccontextmanager
async def open_bedrock_model(
    settings: Settings, *, session: aioboto3.Session | None = None, **client_kwargs: Any
) -> AsyncIterator[BedrockModel]:
    """Open the process's Bedrock client for `settings`, and close it on exit.

    `client_kwargs` go to aioboto3's `client()` (for example explicit
    credentials for a local endpoint).
    """
    session = session or aioboto3.Session()
    if settings.aws_access_key_id and settings.aws_secret_access_key:
        # Keys from a .env file are not in the environment the credential chain reads.
        client_kwargs.setdefault("aws_access_key_id", settings.aws_access_key_id)
        client_kwargs.setdefault("aws_secret_access_key", settings.aws_secret_access_key)
        client_kwargs.setdefault("aws_session_token", settings.aws_session_token)
    if settings.bedrock_endpoint_url:
        client_kwargs.setdefault("endpoint_url", settings.bedrock_endpoint_url)
    async with session.client(
        "bedrock-runtime", region_name=settings.aws_region, config=client_config(settings), **client_kwargs
    ) as client:
        yield BedrockModel(
            client,
            model_id=settings.bedrock_model_id,
            temperature=settings.bedrock_temperature,
            max_tokens=settings.bedrock_max_tokens,
            greedy_decoding=settings.bedrock_greedy_decoding,
            prompt_caching=settings.bedrock_prompt_caching,
        )
