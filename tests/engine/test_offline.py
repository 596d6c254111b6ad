"""The offline model, driven by hand: its tool calls are answered with views built by `shopbot.tools.views`."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopbot.engine.model import ModelClient
from shopbot.engine.offline import OfflineModel
from shopbot.engine.offline_intents import parse_intent
from shopbot.messages import (
    Message,
    ModelRequest,
    ModelResponse,
    StopReason,
    ToolResult,
    ToolSpec,
)
from shopbot.storefront.models import (
    Cart,
    CartLine,
    Category,
    CategoryList,
    Product,
    ProductPage,
    Recommendations,
)
from shopbot.tools.specs import TOOL_INPUTS
from shopbot.tools.views import (
    cart_view,
    categories_view,
    product_detail_view,
    product_page_view,
    recommendations_view,
)

TOOLS = tuple(ToolSpec(name, "", {"type": "object", "properties": {}}) for name in TOOL_INPUTS)
SYSTEM = "You are a helpful shopping assistant."
CALL_ID = re.compile(r"^tooluse_[0-9a-f]{16}$")


def product(pid: str, name: str, price: str, category: str = "laptops", stock: int = 10, rating: float | None = 4.5,
            **attributes: str) -> Product:
    return Product(pid, name, category, Decimal(price), "USD", stock, f"The {name}.", rating, attributes)


HP = product("hp-pavilion-15", "HP Pavilion 15", "799.99", rating=4.4, brand="HP", screen="15.6in")
DELL = product("dell-xps-13", "Dell XPS 13", "999.99", rating=4.6, brand="Dell", screen="13.4in")
MAC = product("macbook-air-m2", "MacBook Air M2", "1199.00", stock=0, rating=4.8, brand="Apple")
SLEEVE = product("laptop-sleeve-15", 'Laptop Sleeve 15.6"', "24.99", category="accessories", rating=None)


def page(*products: Product) -> str:
    return _json(product_page_view(ProductPage(products, len(products))))


def detail(p: Product) -> str:
    return _json(product_detail_view(p))


def cart(*lines: tuple[Product, int]) -> str:
    rows = tuple(CartLine(p.id, p.name, p.price, n, p.price * n) for p, n in lines)
    subtotal = sum((r.line_total for r in rows), Decimal("0.00"))
    return _json(cart_view(Cart("u1", "USD", sum(n for _, n in lines), subtotal, rows)))


def _json(view: dict[str, Any]) -> str:
    return msgspec.json.encode(view).decode()


class Chat:
    """A conversation with the offline model, where the test plays the tools."""

    def __init__(self, tools: tuple[ToolSpec, ...] = TOOLS) -> None:
        self.model = OfflineModel(strict=True)
        self.messages: list[Message] = []
        self.tools = tools
        self.calls = 0

    async def ask(self, text: str) -> ModelResponse:
        self.messages.append(Message.user(text))
        return await self._respond()

    async def answer(self, *contents: str, error: bool = False) -> ModelResponse:
        calls = self.messages[-1].tool_calls
        assert len(calls) == len(contents)
        results = tuple(ToolResult(c.id, content, error) for c, content in zip(calls, contents, strict=True))
        self.messages.append(Message("user", results))
        return await self._respond()

    async def _respond(self) -> ModelResponse:
        response = await self.model.respond(ModelRequest(SYSTEM, tuple(self.messages), self.tools))
        self.calls += 1
        self.messages.append(response.message)
        check_valid(response, self.tools)
        return response


def check_valid(response: ModelResponse, tools: tuple[ToolSpec, ...]) -> None:
    """A response the engine can run: known tools, valid inputs, ids Converse accepts, a matching stop reason."""
    calls = response.message.tool_calls
    assert response.message.role == "assistant"
    assert response.stop_reason == (StopReason.TOOL_USE if calls else StopReason.END_TURN)
    assert calls or response.message.text.strip()
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    for call in calls:
        assert call.name in [t.name for t in tools]
        assert CALL_ID.match(call.id)
        msgspec.convert(call.input, TOOL_INPUTS[call.name])
        msgspec.json.encode(call.input)
    assert len({c.id for c in calls}) == len(calls)


def only_call(response: ModelResponse) -> tuple[str, dict[str, Any]]:
    (call,) = response.message.tool_calls
    return call.name, call.input


def test_is_a_model_client() -> None:
    assert isinstance(OfflineModel(), ModelClient)


async def test_search_with_category_and_price_then_answer_lists_names_and_prices() -> None:
    chat = Chat()
    name, args = only_call(await chat.ask("Show me laptops under $1000"))
    assert name == "search_products"
    assert args["category"] == "laptops" and args["max_price"] == 1000 and "min_price" not in args
    final = await chat.answer(page(HP, DELL))
    assert final.stop_reason == StopReason.END_TURN
    text = final.message.text
    assert "I found 2" in text
    assert "**HP Pavilion 15** — $799.99 (rating 4.4, in stock)" in text
    assert "Dell XPS 13" in text and "$999.99" in text


async def test_add_uses_the_id_from_an_earlier_search() -> None:
    chat = Chat()
    await chat.ask("Show me laptops under $1000")
    await chat.answer(page(HP, DELL))
    chat.calls = 0
    assert only_call(await chat.ask("Add the HP Pavilion 15 to my cart")) == (
        "add_to_cart", {"product_id": "hp-pavilion-15", "quantity": 1})
    final = await chat.answer(cart((HP, 1)))
    assert final.message.text == "Added 1 × HP Pavilion 15 to your cart. Your cart now has 1 item, subtotal $799.99."
    assert chat.calls == 2


async def test_add_an_unknown_product_searches_first() -> None:
    chat = Chat()
    name, args = only_call(await chat.ask("add the Dell XPS 13 to my cart"))
    assert (name, args) == ("search_products", {"query": "dell xps 13", "limit": 3})
    assert only_call(await chat.answer(page(product("dell-xps-13-plus", "Dell XPS 13 Plus", "1299.00"), DELL))) == (
        "add_to_cart", {"product_id": "dell-xps-13", "quantity": 1})
    final = await chat.answer(cart((HP, 1), (DELL, 1)))
    assert "Added 1 × Dell XPS 13" in final.message.text and "2 items, subtotal $1799.98" in final.message.text
    assert chat.calls == 3


async def test_add_with_quantity_and_pronoun() -> None:
    chat = Chat()
    await chat.ask("tell me about the Dell XPS 13")
    assert only_call(await chat.answer(page(DELL)))[0] == "get_product"
    details = await chat.answer(detail(DELL))
    assert "13.4in" in details.message.text and "$999.99" in details.message.text
    assert only_call(await chat.ask("add two of them to my cart")) == (
        "add_to_cart", {"product_id": "dell-xps-13", "quantity": 2})


async def test_pronoun_after_a_list_asks_which_one() -> None:
    chat = Chat()
    await chat.ask("show me laptops")
    await chat.answer(page(HP, DELL))
    reply = await chat.ask("I'll take it")
    assert not reply.message.tool_calls
    assert "HP Pavilion 15" in reply.message.text and "Dell XPS 13" in reply.message.text


async def test_view_cart_quotes_lines_and_subtotal() -> None:
    chat = Chat()
    assert only_call(await chat.ask("What's in my cart?")) == ("view_cart", {})
    text = (await chat.answer(cart((HP, 2), (SLEEVE, 1)))).message.text
    assert "2 × **HP Pavilion 15** — $1599.98" in text
    assert "Subtotal: $1624.97 (3 items)" in text


async def test_empty_cart() -> None:
    chat = Chat()
    await chat.ask("show my cart")
    assert "empty" in (await chat.answer(cart())).message.text


async def test_update_and_remove_resolve_from_the_cart() -> None:
    chat = Chat()
    await chat.ask("view cart")
    await chat.answer(cart((HP, 1), (DELL, 1)))
    assert only_call(await chat.ask("change the quantity of the Dell to 3")) == (
        "update_cart_item", {"product_id": "dell-xps-13", "quantity": 3})
    assert "Set Dell XPS 13 to 3" in (await chat.answer(cart((HP, 1), (DELL, 3)))).message.text
    assert only_call(await chat.ask("make it 2")) == ("update_cart_item", {"product_id": "dell-xps-13", "quantity": 2})
    await chat.answer(cart((HP, 1), (DELL, 2)))
    removal = only_call(await chat.ask("remove the HP from my cart"))
    assert removal == ("remove_from_cart", {"product_id": "hp-pavilion-15"})
    text = (await chat.answer(cart((DELL, 2)))).message.text
    assert text == "Removed HP Pavilion 15 from your cart. Your cart now has 2 items, subtotal $1999.98."


async def test_remove_without_a_known_cart_views_it_first() -> None:
    chat = Chat()
    assert only_call(await chat.ask("delete the macbook")) == ("view_cart", {})
    assert only_call(await chat.answer(cart((MAC, 1)))) == ("remove_from_cart", {"product_id": "macbook-air-m2"})
    assert "Your cart is now empty" in (await chat.answer(cart())).message.text


async def test_remove_something_not_in_the_cart_says_so() -> None:
    chat = Chat()
    await chat.ask("remove the sleeve from my cart")
    reply = await chat.answer(cart((HP, 1)))
    assert not reply.message.tool_calls and "couldn't find" in reply.message.text


async def test_accessories_for_my_laptop_recommends_for_the_laptop_in_the_cart() -> None:
    chat = Chat()
    await chat.ask("show me laptops")
    await chat.answer(page(HP, DELL))
    await chat.ask("add the HP")
    await chat.answer(cart((HP, 1)))
    assert only_call(await chat.ask("What accessories go with my laptop?")) == (
        "get_recommendations", {"product_id": "hp-pavilion-15", "limit": 5})
    text = (await chat.answer(_json(recommendations_view(Recommendations((SLEEVE,), "complementary"))))).message.text
    assert "go well with the HP Pavilion 15" in text and 'Laptop Sleeve 15.6"' in text and "$24.99" in text


async def test_recommendations_without_a_known_product() -> None:
    chat = Chat()
    assert only_call(await chat.ask("What accessories go with my laptop?")) == ("get_recommendations", {"limit": 5})


async def test_compare_two_unknown_products_in_one_round() -> None:
    chat = Chat()
    first = await chat.ask("Compare Dell XPS 13 and MacBook Air M2")
    calls = first.message.tool_calls
    assert [(c.name, c.input["query"]) for c in calls] == [
        ("search_products", "dell xps 13"), ("search_products", "macbook air m2")]
    text = (await chat.answer(page(DELL), page(MAC))).message.text
    assert "Dell XPS 13" in text and "MacBook Air M2" in text and "out of stock" in text
    assert "The Dell XPS 13 is cheaper by $199.01" in text and "MacBook Air M2 is rated higher (4.8 vs 4.6)" in text
    assert chat.calls == 2


async def test_compare_known_products_fetches_both_details() -> None:
    chat = Chat()
    await chat.ask("show me laptops")
    await chat.answer(page(HP, DELL))
    calls = (await chat.ask("the HP vs the Dell")).message.tool_calls
    assert [(c.name, c.input) for c in calls] == [
        ("get_product", {"product_id": "hp-pavilion-15"}), ("get_product", {"product_id": "dell-xps-13"})]
    text = (await chat.answer(detail(HP), detail(DELL))).message.text
    assert "screen: 15.6in" in text and "The HP Pavilion 15 is cheaper by $200.00" in text


async def test_categories() -> None:
    chat = Chat()
    assert only_call(await chat.ask("What categories do you have?")) == ("list_categories", {})
    view = categories_view(CategoryList((Category("laptops", 14), Category("headphones", 6))))
    assert "**laptops** (14 products)" in (await chat.answer(_json(view))).message.text


async def test_no_results_suggests_broadening() -> None:
    chat = Chat()
    await chat.ask("do you have any unicorn laptops over $5000?")
    assert "broader" in (await chat.answer(page())).message.text


async def test_error_result_gets_an_honest_answer() -> None:
    chat = Chat()
    await chat.ask("add the HP Pavilion 15 to my cart")
    await chat.answer(page(HP))
    reply = await chat.answer("Out of stock: only 0 left", error=True)
    assert reply.message.text == "I couldn't add that: Out of stock: only 0 left."
    chat = Chat()
    await chat.ask("what's in my cart")
    reply = await chat.answer("storefront unavailable", error=True)
    assert reply.message.text == "I couldn't reach the cart right now: storefront unavailable."


async def test_small_talk_needs_no_tools() -> None:
    for text in ("hello", "thanks!", "what's the weather like?", ""):
        reply = await Chat().ask(text)
        assert not reply.message.tool_calls and reply.stop_reason == StopReason.END_TURN


async def test_no_tools_offered_means_no_tool_calls() -> None:
    reply = await Chat(tools=()).ask("Show me laptops under $1000")
    assert not reply.message.tool_calls and "tools" in reply.message.text


async def test_same_request_same_response_and_ids_differ_between_rounds() -> None:
    request = ModelRequest(SYSTEM, (Message.user("Compare Dell XPS 13 and MacBook Air M2"),), TOOLS)
    a, b = await OfflineModel().respond(request), await OfflineModel().respond(request)
    assert a == b
    assert msgspec.json.encode(a) == msgspec.json.encode(b)
    other_request = ModelRequest(SYSTEM, (Message.user("compare dell xps 13 and macbook air m2!"),), TOOLS)
    other = await OfflineModel().respond(other_request)
    assert {c.id for c in a.message.tool_calls}.isdisjoint(c.id for c in other.message.tool_calls)


def test_usage_grows_with_the_request() -> None:
    model = OfflineModel()
    small = model.reply(ModelRequest(SYSTEM, (Message.user("hi"),), TOOLS)).usage
    big = model.reply(ModelRequest(SYSTEM * 100, (Message.user("hi"),), TOOLS)).usage
    assert big.input_tokens > small.input_tokens + 100 and big.output_tokens == small.output_tokens


def test_price_phrases() -> None:
    between = parse_intent("headphones between $100 and $300")
    assert (between.category, between.min_price, between.max_price) == ("headphones", 100, 300)
    assert parse_intent("show me gaming laptops").query == "gaming"
    assert parse_intent("mice $50-$100").max_price == 100
    assert parse_intent("keyboards over $49.99").min_price == 49.99
    assert parse_intent("monitors below 1,500 dollars").max_price == 1500
    assert parse_intent("I need a laptop under $1000").category == "laptops"


def test_odd_histories_get_a_text_answer() -> None:
    model = OfflineModel(strict=True)
    only_results = (Message("user", (ToolResult("tooluse_x", page(HP)),)),)
    assert "HP Pavilion 15" in model.reply(ModelRequest(SYSTEM, only_results, TOOLS)).message.text
    bad_json = (Message.user("show me laptops"), Message("user", (ToolResult("nope", "{not json"),)))
    assert model.reply(ModelRequest(SYSTEM, bad_json, TOOLS)).stop_reason == StopReason.END_TURN
    assert model.reply(ModelRequest(SYSTEM, (), TOOLS)).message.text
    assert model.reply(ModelRequest(SYSTEM, (Message.assistant("hi"),), TOOLS)).message.text
    blank_after_a_turn = (*bad_json, Message.assistant("Sorry."), Message.user("   "))
    assert "I can search the catalog" in model.reply(ModelRequest(SYSTEM, blank_after_a_turn, TOOLS)).message.text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(
        st.text(max_size=300),
        st.lists(st.sampled_from("show add remove compare vs and to my cart the it laptops under over $ 1000 5 "
                                 "hp dell two make change quantity recommend for tell about between - k".split()),
                 max_size=12).map(" ".join),
    ),
    tools=st.lists(st.sampled_from(TOOLS), unique_by=lambda t: t.name).map(tuple),
    history=st.sampled_from([(), (Message.user("show me laptops"), Message.assistant("Here they are."))]),
)
def test_any_text_gets_a_valid_response(text: str, tools: tuple[ToolSpec, ...], history: tuple[Message, ...]) -> None:
    model = OfflineModel(strict=True)
    request = ModelRequest(SYSTEM, (*history, Message.user(text)), tools)
    response = model.reply(request)
    check_valid(response, tools)
    assert model.reply(request) == response


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "name", "price", "items", "total", "stock", "rating", "subtotal", "item_count",
                         "product_id", "categories", "attributes", "strategy", "currency", "quantity"]),
        inner, max_size=6),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    ask=st.sampled_from(["show me laptops", "add the HP to my cart", "compare hp and dell", "remove the dell",
                         "what's in my cart", "tell me about the dell", "empty my cart", "recommend something"]),
    contents=st.lists(_JSON.map(lambda v: msgspec.json.encode(v).decode()) | st.text(max_size=40),
                      min_size=1, max_size=2),
    error=st.booleans(),
)
def test_any_tool_result_gets_a_valid_response(ask: str, contents: list[str], error: bool) -> None:
    model = OfflineModel(strict=True)
    messages = [Message.user(ask)]
    for content in contents:
        first = model.reply(ModelRequest(SYSTEM, tuple(messages), TOOLS))
        check_valid(first, TOOLS)
        if not first.message.tool_calls:
            return
        results = tuple(ToolResult(c.id, content, error) for c in first.message.tool_calls)
        messages += [first.message, Message("user", results)]
    check_valid(model.reply(ModelRequest(SYSTEM, tuple(messages), TOOLS)), TOOLS)
