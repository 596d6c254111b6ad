"""The tool-use loop, driven by a scripted model against the reference shop."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from shopbot.engine import history as histories
from shopbot.engine.loop import EMPTY_REPLY, ROUND_LIMIT_REPLY, STOP_REPLIES, Engine
from shopbot.engine.scripted import ScriptedModel, text_response, tool_response
from shopbot.errors import ModelUnavailable
from shopbot.messages import (
    Message,
    ModelResponse,
    StopReason,
    TextPart,
    ToolCall,
    ToolResult,
    Usage,
)
from shopbot.storefront.client import StorefrontClient
from shopbot.tools.dispatcher import Toolbox


def engine_for(model: ScriptedModel, storefront: StorefrontClient, **kwargs) -> Engine:
    return Engine(model, Toolbox(storefront), **kwargs)


async def test_one_tool_turn(storefront: StorefrontClient) -> None:
    model = ScriptedModel(
        [tool_response(("search_products", {"query": "laptop", "max_price": 1000})), text_response("Here you go.")]
    )
    turn = await engine_for(model, storefront).run_turn([], "laptops under $1000", user_id="u1")

    assert turn.reply == "Here you go."
    assert turn.model_calls == 2
    assert [(t.name, t.status) for t in turn.tool_calls] == [("search_products", "success")]
    assert turn.usage == Usage(20, 10)
    assert [m.role for m in turn.messages] == ["user", "assistant", "user", "assistant"]
    histories.check_stored(turn.messages)

    result = turn.messages[2].parts[0]
    assert isinstance(result, ToolResult) and result.tool_call_id == "tooluse_0" and not result.is_error
    page = json.loads(result.content)
    assert page["items"] and all(isinstance(item["price"], str) for item in page["items"])
    assert all(float(item["price"]) <= 1000 for item in page["items"])
    # The second model call sees the tool results, and every call carries the tools.
    assert model.requests[1].messages[-1] == turn.messages[2]
    assert all(len(request.tools) == 8 for request in model.requests)


class CountingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport; delays each request and records the peak number in flight."""

    def __init__(self, inner: httpx.AsyncBaseTransport, delay: float) -> None:
        self.inner, self.delay = inner, delay
        self.in_flight = self.peak = 0
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            return await self.inner.handle_async_request(request)
        finally:
            self.in_flight -= 1


async def test_tool_calls_of_one_message_run_concurrently(shop_app) -> None:
    transport = CountingTransport(httpx.ASGITransport(app=shop_app), delay=0.05)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as http:
        model = ScriptedModel(
            [
                tool_response(
                    ("get_product", {"product_id": "dell-xps-13"}),
                    ("get_product", {"product_id": "macbook-air-m2"}),
                    ("view_cart", {}),
                ),
                text_response("Compared."),
            ]
        )
        turn = await engine_for(model, StorefrontClient("http://shop", http=http)).run_turn([], "compare", user_id="u1")
    assert transport.peak == 3
    results = turn.messages[2].tool_results
    assert [r.tool_call_id for r in results] == ["tooluse_0", "tooluse_1", "tooluse_2"]
    assert json.loads(results[0].content)["name"] == "Dell XPS 13"
    assert json.loads(results[1].content)["name"] == "MacBook Air M2"


async def test_bad_calls_become_error_results_and_the_turn_goes_on(storefront: StorefrontClient) -> None:
    model = ScriptedModel(
        [
            tool_response(
                ("delete_everything", {}),
                ("add_to_cart", {"product_id": "hp-pavilion-15", "quantity": 0}),
                ("get_product", {"product_id": "no-such-product"}),
                ("view_cart", {"user_id": "someone-else"}),
            ),
            text_response("Sorry."),
        ]
    )
    turn = await engine_for(model, storefront).run_turn([], "do things", user_id="u1")
    results = turn.messages[2].tool_results
    assert all(r.is_error and r.content.strip() for r in results)
    assert "Unknown tool 'delete_everything'" in results[0].content
    assert "Invalid input for add_to_cart" in results[1].content
    assert results[2].content.startswith("not_found")
    assert "Invalid input for view_cart" in results[3].content
    assert [t.status for t in turn.tool_calls] == ["error"] * 4
    assert turn.reply == "Sorry."


async def test_the_cart_is_the_turns_shopper(storefront: StorefrontClient) -> None:
    model = ScriptedModel(
        [tool_response(("add_to_cart", {"product_id": "hp-pavilion-15", "quantity": 2})), text_response("Added.")]
    )
    await engine_for(model, storefront).run_turn([], "add the HP", user_id="alice")
    assert (await storefront.get_cart("alice")).item_count == 2
    assert (await storefront.get_cart("bob")).item_count == 0


async def test_mutations_carry_an_idempotency_key_from_the_turn_and_the_call(shop_app) -> None:
    transport = CountingTransport(httpx.ASGITransport(app=shop_app), delay=0)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as http:
        model = ScriptedModel(
            [tool_response(("add_to_cart", {"product_id": "hp-pavilion-15"}), ("view_cart", {})), text_response("ok")]
        )
        await engine_for(model, StorefrontClient("http://shop", http=http)).run_turn(
            [], "add", user_id="u1", turn_id="turn42"
        )
    keys = {r.method: r.headers.get("Idempotency-Key") for r in transport.requests}
    assert keys == {"POST": "turn42.tooluse_0", "GET": None}


async def test_backend_failure_is_told_to_the_model() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "unavailable", "message": "down"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(broken), base_url="http://shop") as http:
        shop = StorefrontClient("http://shop", http=http, backoff=0)
        model = ScriptedModel([tool_response(("view_cart", {})), text_response("I couldn't reach the cart right now.")])
        turn = await engine_for(model, shop).run_turn([], "my cart", user_id="u1")
    result = turn.messages[2].tool_results[0]
    assert result.is_error and "could not be reached" in result.content
    assert turn.reply == "I couldn't reach the cart right now."


@pytest.mark.parametrize(
    ("stop_reason", "text", "expected"),
    [
        (StopReason.END_TURN, "", EMPTY_REPLY),
        (StopReason.STOP_SEQUENCE, "Done", "Done"),
        (StopReason.MAX_TOKENS, "Partial", "Partial\n\n(My answer was cut short.)"),
        (StopReason.MAX_TOKENS, "", STOP_REPLIES[StopReason.MAX_TOKENS]),
        (StopReason.GUARDRAIL_INTERVENED, "Blocked by policy.", "Blocked by policy."),
        (StopReason.GUARDRAIL_INTERVENED, "", STOP_REPLIES[StopReason.GUARDRAIL_INTERVENED]),
        (StopReason.CONTENT_FILTERED, "whatever", STOP_REPLIES[StopReason.CONTENT_FILTERED]),
        (StopReason.MALFORMED_MODEL_OUTPUT, "x", STOP_REPLIES[StopReason.MALFORMED_MODEL_OUTPUT]),
        (StopReason.MALFORMED_TOOL_USE, "x", STOP_REPLIES[StopReason.MALFORMED_TOOL_USE]),
        (StopReason.CONTEXT_WINDOW_EXCEEDED, "", STOP_REPLIES[StopReason.CONTEXT_WINDOW_EXCEEDED]),
    ],
)
async def test_every_stop_reason_gets_a_sensible_reply(
    storefront: StorefrontClient, stop_reason: StopReason, text: str, expected: str
) -> None:
    model = ScriptedModel([text_response(text, stop_reason)])
    turn = await engine_for(model, storefront).run_turn([], "hello", user_id="u1")
    assert turn.reply == expected
    histories.check_stored(turn.messages)


async def test_tool_calls_cut_off_by_max_tokens_are_not_kept(storefront: StorefrontClient) -> None:
    cut = ModelResponse(
        Message("assistant", (TextPart("Let me"), ToolCall("t1", "view_cart", {}))), StopReason.MAX_TOKENS
    )
    turn = await engine_for(ScriptedModel([cut]), storefront).run_turn([], "cart", user_id="u1")
    assert turn.tool_calls == ()
    histories.check_stored(turn.messages)


async def test_round_limit_ends_the_turn_gracefully(storefront: StorefrontClient) -> None:
    model = ScriptedModel([tool_response(("view_cart", {}), prefix=f"r{i}") for i in range(3)])
    turn = await engine_for(model, storefront, max_rounds=3).run_turn([], "loop forever", user_id="u1")
    assert turn.reply == ROUND_LIMIT_REPLY
    assert turn.model_calls == 3 and len(turn.tool_calls) == 3
    histories.check_stored(turn.messages)


async def test_reasoning_is_stripped(storefront: StorefrontClient) -> None:
    model = ScriptedModel(
        [
            tool_response(("view_cart", {}), text="<thinking>the shopper wants the cart</thinking>"),
            text_response("<thinking>cart is empty</thinking>Your cart is empty."),
        ]
    )
    turn = await engine_for(model, storefront).run_turn([], "cart?", user_id="u1")
    assert turn.reply == "Your cart is empty."
    assert "thinking" not in json.dumps([m.text for m in turn.messages])
    assert turn.messages[1].parts == (ToolCall("tooluse_0", "view_cart", {}),)


async def test_model_failure_after_tools_raises_and_returns_nothing(storefront: StorefrontClient) -> None:
    model = ScriptedModel([tool_response(("view_cart", {})), ModelUnavailable("throttled")])
    with pytest.raises(ModelUnavailable):
        await engine_for(model, storefront).run_turn([], "cart?", user_id="u1")


async def test_a_broken_stored_history_is_repaired_before_it_is_sent(storefront: StorefrontClient) -> None:
    good = [Message.user("hi"), Message.assistant("hello")]
    broken = [*good, Message.user("dangling"), Message("assistant", (ToolCall("x", "view_cart", {}),))]
    model = ScriptedModel([text_response("ok")])
    await engine_for(model, storefront).run_turn(broken, "again", user_id="u1")
    assert model.requests[0].messages == (*good, Message.user("again"))


async def test_history_is_trimmed_to_the_window(storefront: StorefrontClient) -> None:
    past = [m for i in range(5) for m in (Message.user(f"q{i}"), Message.assistant(f"a{i}"))]
    model = ScriptedModel([text_response("ok")])
    await engine_for(model, storefront, max_history_turns=3).run_turn(past, "new", user_id="u1")
    assert [m.text for m in model.requests[0].messages] == ["q3", "a3", "q4", "a4", "new"]
