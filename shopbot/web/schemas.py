"""The HTTP API's bodies: msgspec structs that are both the validation and the OpenAPI schema."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec

__all__ = [
    "CartLineView",
    "CartView",
    "ChatRequest",
    "ChatResponse",
    "ErrorResponse",
    "Health",
    "NotReady",
    "Ready",
    "ServiceInfo",
    "SessionTranscript",
    "ToolUse",
    "TranscriptEntry",
    "TurnUsage",
]

SERVICE_NAME = "shopping-assistant-chatbot"

SessionId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
        description="The conversation's id, as returned by an earlier reply.",
        examples=["3f2b8c1e-8a4d-4c57-9d36-1f0e4b7f2a10"],
    ),
]
UserId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9._:@-]{1,128}$",
        description="The shopper's id in the shop (for their cart); a guest of the session when absent.",
        examples=["user-123"],
    ),
]


class ChatRequest(msgspec.Struct, frozen=True):
    """A shopper's message."""

    message: Annotated[
        str,
        msgspec.Meta(
            min_length=1, max_length=2000, description="What the shopper typed.", examples=["a laptop under $1000"]
        ),
    ]
    session_id: SessionId | None = None
    user_id: UserId | None = None

    def __post_init__(self) -> None:
        if not self.message.strip():
            raise ValueError("message must not be empty or only whitespace")


class ToolUse(msgspec.Struct, frozen=True):
    """A tool the assistant used in the turn."""

    name: str
    status: Literal["success", "error"]


class TurnUsage(msgspec.Struct, frozen=True):
    """What the turn cost: model calls, tokens, and the estimated price (USD, a decimal string; null when unpriced)."""

    model_calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    estimated_cost_usd: Decimal | None = None


class ChatResponse(msgspec.Struct, frozen=True):
    """The assistant's answer."""

    response: str
    session_id: str
    status: Literal["success"] = "success"
    tools: tuple[ToolUse, ...] = ()
    usage: TurnUsage | None = None


class ErrorResponse(msgspec.Struct, frozen=True):
    """Every error of `/api/v1/*`."""

    response: str
    session_id: str
    error: str
    status: Literal["error"] = "error"


class Health(msgspec.Struct, frozen=True):
    """Liveness."""

    status: Literal["healthy"] = "healthy"
    service: str = SERVICE_NAME


class Ready(msgspec.Struct, frozen=True):
    """Readiness: the engine, the storefront and the session store all answer."""

    status: Literal["ready"] = "ready"
    service: str = SERVICE_NAME
    agent_initialized: bool = True


class NotReady(msgspec.Struct, frozen=True):
    """Not ready, and why."""

    detail: str


class ServiceInfo(msgspec.Struct, frozen=True):
    """What this service is and where to look next."""

    version: str
    service: str = "Shopping Assistant Chatbot"
    status: Literal["running"] = "running"
    docs: str = "/docs"
    health: str = "/api/v1/health"


class TranscriptEntry(msgspec.Struct, frozen=True):
    """One message of a conversation, as text."""

    role: Literal["user", "assistant"]
    text: str


class SessionTranscript(msgspec.Struct, frozen=True):
    """A conversation so far, as user and assistant text turns."""

    session_id: str
    messages: tuple[TranscriptEntry, ...]


class CartLineView(msgspec.Struct, frozen=True):
    """One line of the shopper's cart."""

    product_id: str
    name: str
    unit_price: str
    quantity: int
    line_total: str


class CartView(msgspec.Struct, frozen=True):
    """The cart of the conversation's shopper; money as decimal strings."""

    currency: str
    item_count: int
    subtotal: str
    items: tuple[CartLineView, ...]
