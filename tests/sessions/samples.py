"""A typical conversation to store: text, tool calls and tool results."""

from __future__ import annotations

from shopbot.messages import Message, TextPart, ToolCall, ToolResult
from shopbot.sessions import Session

PRODUCTS = (
    '[{"id":"sku-1042","name":"Trail Runner 3","price":"89.00","currency":"EUR","stock":12},'
    '{"id":"sku-2210","name":"Road Glide","price":"119.00","currency":"EUR","stock":3},'
    '{"id":"sku-3307","name":"Featherlight Racer","price":"139.50","currency":"EUR","stock":0}]'
)


def turn(n: int) -> tuple[Message, ...]:
    """One shopper turn: a question, a tool call and its result, an answer."""
    call = ToolCall(f"call-{n}", "search_products", {"query": "running shoes", "max_price": 150, "page": n})
    return (
        Message.user(f"Do you have running shoes under 150 euros? (question {n})"),
        Message("assistant", (TextPart("Let me look."), call)),
        Message("user", (ToolResult(call.id, PRODUCTS),)),
        Message.assistant(
            "I found three: the Trail Runner 3 at 89.00 EUR, the Road Glide at 119.00 EUR "
            "(3 left) and the Featherlight Racer at 139.50 EUR, which is out of stock."
        ),
    )


def conversation(session_id: str = "s-1", *, turns: int = 5, owner: str = "alice") -> Session:
    """A session of `turns` shopper turns, one tool result of them an error."""
    history = tuple(message for n in range(turns) for message in turn(n))
    if turns:
        failed = Message("user", (ToolResult("call-0", "storefront unavailable", is_error=True),))
        history = (*history[:2], failed, *history[3:])
    return Session(session_id, owner, history, created_at=1_700_000_000.5, updated_at=1_700_000_100.25)
