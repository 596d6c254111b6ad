"""The Bedrock adapter: shopbot's `ModelClient` on the Converse API through aioboto3.

One aioboto3 session and one long-lived `bedrock-runtime` client per process,
opened with `open_bedrock_model()` and closed with it. The standard AWS
credential chain applies (environment keys, profile, IAM role). botocore's own
retry modes handle throttling and transient errors; whatever still fails is
translated here, once, into shopbot's `ModelError`s.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import aioboto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
)

from shopbot.engine.converse import request_to_wire, response_from_wire
from shopbot.errors import ModelRequestRejected, ModelUnavailable
from shopbot.messages import ModelRequest, ModelResponse
from shopbot.settings import Settings

__all__ = ["BedrockModel", "open_bedrock_model", "map_client_error"]

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
    ) -> None:
        self.client = client
        self.model_id = model_id
        self.inference = {"maxTokens": max_tokens, "temperature": temperature}
        self.additional_fields = _additional_fields(model_id, greedy_decoding)

    async def respond(self, request: ModelRequest) -> ModelResponse:
        """One Converse call."""
        kwargs = request_to_wire(
            request, model_id=self.model_id, inference=self.inference, additional_fields=self.additional_fields
        )
        try:
            response = await self.client.converse(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise map_client_error(exc) from exc
        return response_from_wire(response)


def _additional_fields(model_id: str, greedy_decoding: bool | None) -> dict[str, Any] | None:
    is_nova = "amazon.nova" in model_id
    # Nova's documented advice for tool use is greedy decoding, in Nova's own nesting.
    if greedy_decoding if greedy_decoding is not None else is_nova:
        return {"inferenceConfig": {"topK": 1}} if is_nova else {"top_k": 1}
    return None


def map_client_error(exc: ClientError | BotoCoreError) -> ModelUnavailable | ModelRequestRejected:
    """The shopbot error for a botocore failure."""
    if isinstance(exc, (ConnectionError, HTTPClientError)):
        return ModelUnavailable(f"model endpoint unreachable: {exc}")
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
        )
