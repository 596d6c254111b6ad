"""The dispatcher: runs the model's tool calls against the storefront.

Every call of one assistant message runs concurrently (bounded), and every
call gets exactly one `ToolResult` — a failure of any kind becomes an error
result the model can act on, never an exception out of the turn. The shopper
is taken from the turn's `TurnContext`, which the server established; nothing
the model writes names a user.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import msgspec

from shopbot.errors import (
    CircuitOpen,
    StorefrontContractError,
    StorefrontRejected,
    StorefrontUnavailable,
)
from shopbot.messages import ToolCall, ToolResult, ToolSpec
from shopbot.observability.observer import NO_OBSERVER, Observer
from shopbot.storefront.client import StorefrontClient
from shopbot.tools import specs, views
from shopbot.tools.schema import tool_spec

__all__ = ["ToolActivity", "ToolRun", "Toolbox", "TurnContext"]

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()


class TurnContext(msgspec.Struct, frozen=True):
    """Who the turn acts for, and the turn's id (the root of its idempotency keys)."""

    user_id: str
    turn_id: str


class ToolActivity(msgspec.Struct, frozen=True):
    """What one tool call did, for the turn's report."""

    name: str
    status: Literal["success", "error"]
    duration_ms: float
    error: str | None = None


class ToolRun(msgspec.Struct, frozen=True):
    """A tool call's result for the model and its activity for the report."""

    result: ToolResult
    activity: ToolActivity


Handler = Callable[[StorefrontClient, Any, TurnContext, str], Awaitable[dict[str, Any]]]


async def _search_products(shop: StorefrontClient, args: specs.SearchProducts, ctx: TurnContext, key: str) -> dict:
    page = await shop.search_products(
        args.query, category=args.category, min_price=args.min_price, max_price=args.max_price, limit=args.limit
    )
    return views.product_page_view(page)


async def _get_product(shop: StorefrontClient, args: specs.GetProduct, ctx: TurnContext, key: str) -> dict:
    return views.product_detail_view(await shop.get_product(args.product_id))


async def _list_categories(shop: StorefrontClient, args: specs.ListCategories, ctx: TurnContext, key: str) -> dict:
    return views.categories_view(await shop.list_categories())


async def _add_to_cart(shop: StorefrontClient, args: specs.AddToCart, ctx: TurnContext, key: str) -> dict:
    cart = await shop.add_to_cart(ctx.user_id, args.product_id, args.quantity, idempotency_key=key)
    return views.cart_view(cart)


async def _view_cart(shop: StorefrontClient, args: specs.ViewCart, ctx: TurnContext, key: str) -> dict:
    return views.cart_view(await shop.get_cart(ctx.user_id))


async def _update_cart_item(shop: StorefrontClient, args: specs.UpdateCartItem, ctx: TurnContext, key: str) -> dict:
    cart = await shop.update_cart_item(ctx.user_id, args.product_id, args.quantity, idempotency_key=key)
    return views.cart_view(cart)


async def _remove_from_cart(shop: StorefrontClient, args: specs.RemoveFromCart, ctx: TurnContext, key: str) -> dict:
    cart = await shop.remove_from_cart(ctx.user_id, args.product_id, idempotency_key=key)
    return views.cart_view(cart)


async def _get_recommendations(
    shop: StorefrontClient, args: specs.GetRecommendations, ctx: TurnContext, key: str
) -> dict:
    found = await shop.recommendations(user_id=ctx.user_id, product_id=args.product_id, limit=args.limit)
    return views.recommendations_view(found)


HANDLERS: dict[str, Handler] = {
    "search_products": _search_products,
    "get_product": _get_product,
    "list_categories": _list_categories,
    "add_to_cart": _add_to_cart,
    "view_cart": _view_cart,
    "update_cart_item": _update_cart_item,
    "remove_from_cart": _remove_from_cart,
    "get_recommendations": _get_recommendations,
}


class Toolbox:
    """The tools offered to the model, and the dispatcher that runs them.

    `max_parallel` bounds how many calls of one message hit the storefront at
    once; calls past `max_calls` in one message are refused with an error
    result, so a runaway model cannot fan out without limit. `observer` is told as each call ends.
    """

    def __init__(
        self,
        storefront: StorefrontClient,
        *,
        max_parallel: int = 8,
        max_calls: int = 16,
        observer: Observer = NO_OBSERVER,
    ) -> None:
        self.storefront = storefront
        self.observer = observer
        self.max_parallel = max_parallel
        self.max_calls = max_calls
        self.specs: tuple[ToolSpec, ...] = tuple(tool_spec(name, specs.TOOL_INPUTS[name]) for name in HANDLERS)

    async def run(self, calls: Sequence[ToolCall], context: TurnContext) -> list[ToolRun]:
        """Run the calls concurrently; one `ToolRun` per call, in the calls' order."""
        gate = asyncio.Semaphore(self.max_parallel)

        async def run_one(index: int, call: ToolCall) -> ToolRun:
            if index >= self.max_calls:
                run = _refused(call, f"Too many tool calls in one message (at most {self.max_calls}); ask again.")
                self.observer.tool_call_finished(context, call, run.activity, 0.0, None)
                return run
            async with gate:
                return await self.run_call(call, context)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(run_one(i, call)) for i, call in enumerate(calls)]
        except* CircuitOpen as down:
            raise down.exceptions[0] from None
        return [task.result() for task in tasks]

    async def run_call(self, call: ToolCall, context: TurnContext) -> ToolRun:
        """Run one call; every failure becomes an error result (`CircuitOpen` and cancellation raise)."""
        started = time.perf_counter()
        try:
            run = await self._dispatch(call, context, started)
        except BaseException as exc:
            self.observer.tool_call_finished(context, call, None, time.perf_counter() - started, exc)
            raise
        self.observer.tool_call_finished(context, call, run.activity, time.perf_counter() - started, None)
        return run

    async def _dispatch(self, call: ToolCall, context: TurnContext, started: float) -> ToolRun:
        handler = HANDLERS.get(call.name)
        if handler is None:
            return _refused(call, f"Unknown tool {call.name!r}. Use one of: {', '.join(HANDLERS)}.")
        try:
            args = msgspec.convert(call.input, specs.TOOL_INPUTS[call.name])
        except (msgspec.ValidationError, ValueError) as exc:
            return _refused(call, f"Invalid input for {call.name}: {exc}. Fix the input and call it again.")
        idempotency_key = f"{context.turn_id}.{call.id}"
        try:
            view = await handler(self.storefront, args, context, idempotency_key)
        except StorefrontRejected as exc:
            return _failed(call, started, f"{exc.code}: {exc.message}")
        except CircuitOpen:
            raise  # the backend is down: the turn fails fast (503) rather than limp on
        except StorefrontUnavailable:
            return _failed(call, started, "The shop's backend could not be reached right now. Tell the shopper.")
        except StorefrontContractError as exc:
            log.error("storefront broke the contract in %s: %s", call.name, exc)
            return _failed(call, started, "The shop's backend gave an unexpected answer. Tell the shopper.")
        except Exception:
            log.exception("tool %s failed unexpectedly", call.name)
            return _failed(call, started, "The tool failed unexpectedly. Tell the shopper.")
        elapsed = (time.perf_counter() - started) * 1000
        result = ToolResult(call.id, _encoder.encode(view).decode())
        return ToolRun(result, ToolActivity(call.name, "success", elapsed))


def _refused(call: ToolCall, message: str) -> ToolRun:
    return ToolRun(ToolResult(call.id, message, is_error=True), ToolActivity(call.name, "error", 0.0, message))


def _failed(call: ToolCall, started: float, message: str) -> ToolRun:
    elapsed = (time.perf_counter() - started) * 1000
    return ToolRun(ToolResult(call.id, message, is_error=True), ToolActivity(call.name, "error", elapsed, message))
