"""The dispatcher: every tool against the reference shop, every failure as an error result."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopbot.messages import ToolCall
from shopbot.storefront.client import StorefrontClient
from shopbot.storefront.models import Product
from shopbot.tools import views
from shopbot.tools.dispatcher import Toolbox, TurnContext

CONTEXT = TurnContext(user_id="shopper-1", turn_id="turn1")
MONEY = re.compile(r"^\d+\.\d{2}$")


def money_fields(value: object) -> list[object]:
    """Every value under a money key anywhere in a view."""
    found: list[object] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("price", "unit_price", "line_total", "subtotal"):
                found.append(item)
            found.extend(money_fields(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(money_fields(item))
    return found


@pytest.mark.parametrize(
    ("name", "tool_input", "expect"),
    [
        ("search_products", {"query": "wireless headphones", "limit": 3}, lambda v: 0 < len(v["items"]) <= 3),
        ("search_products", {"query": "", "category": "laptops", "max_price": 700}, lambda v: v["total"] >= 1),
        ("get_product", {"product_id": "hp-pavilion-15"}, lambda v: v["price"] == "799.99"),
        ("list_categories", {}, lambda v: len(v["categories"]) >= 10),
        ("add_to_cart", {"product_id": "usb-c-hub-7-in-1", "quantity": 2}, lambda v: v["subtotal"] == "79.98"),
        ("view_cart", {}, lambda v: v["item_count"] == 0),
        ("get_recommendations", {"product_id": "hp-pavilion-15", "limit": 3}, lambda v: len(v["items"]) == 3),
        ("get_recommendations", {}, lambda v: v["strategy"] in ("popular", "personal", "cart")),
    ],
)
async def test_every_tool_succeeds_with_a_compact_view(storefront: StorefrontClient, name, tool_input, expect) -> None:
    run = await Toolbox(storefront).run_call(ToolCall("t1", name, tool_input), CONTEXT)
    assert run.activity.status == "success", run.result.content
    view = json.loads(run.result.content)
    assert expect(view)
    assert all(isinstance(m, str) and MONEY.match(m) for m in money_fields(view))
    assert "user_id" not in run.result.content


async def test_cart_tools_change_the_shoppers_cart(storefront: StorefrontClient) -> None:
    toolbox = Toolbox(storefront)
    await toolbox.run_call(ToolCall("a", "add_to_cart", {"product_id": "hp-pavilion-15"}), CONTEXT)
    await toolbox.run_call(ToolCall("b", "add_to_cart", {"product_id": "usb-c-hub-7-in-1"}), CONTEXT)
    updated = await toolbox.run_call(ToolCall("c", "update_cart_item", {"product_id": "hp-pavilion-15", "quantity": 3}), CONTEXT)
    assert json.loads(updated.result.content)["subtotal"] == "2439.96"
    removed = await toolbox.run_call(ToolCall("d", "remove_from_cart", {"product_id": "usb-c-hub-7-in-1"}), CONTEXT)
    assert json.loads(removed.result.content)["item_count"] == 3


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (ToolCall("t", "remove_from_cart", {"product_id": "hp-pavilion-15"}), "not_found"),
        (ToolCall("t", "update_cart_item", {"product_id": "hp-pavilion-15", "quantity": 2}), "not_found"),
        (ToolCall("t", "get_recommendations", {"product_id": "no-such-thing"}), "not_found"),
        (ToolCall("t", "add_to_cart", {"product_id": "no-such-thing"}), "not_found"),
        (ToolCall("t", "add_to_cart", {"product_id": "hp-pavilion-15", "quantity": 99}), "out_of_stock"),
        (ToolCall("t", "search_products", {"min_price": "cheap"}), "Invalid input for search_products"),
        (ToolCall("t", "search_products", {"min_price": 9, "max_price": 1}), "min_price must not exceed"),
        (ToolCall("t", "view_cart", {"user_id": "victim"}), "Invalid input for view_cart"),
        (ToolCall("t", "get_product", {}), "Invalid input for get_product"),
        (ToolCall("t", "checkout", {}), "Unknown tool 'checkout'"),
    ],
)
async def test_failures_are_error_results_for_the_model(storefront: StorefrontClient, call: ToolCall, message: str) -> None:
    run = await Toolbox(storefront).run_call(call, CONTEXT)
    assert run.result.is_error and run.activity.status == "error"
    assert message in run.result.content


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(500, text="boom"), "could not be reached"),
        (httpx.Response(200, json={"items": "not a list"}), "unexpected answer"),
    ],
)
async def test_backend_failures_are_error_results(response: httpx.Response, message: str) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda request: response)) as http:
        toolbox = Toolbox(StorefrontClient("http://shop", http=http, backoff=0))
        run = await toolbox.run_call(ToolCall("t", "list_categories", {}), CONTEXT)
    assert run.result.is_error and message in run.result.content


async def test_fan_out_is_bounded(storefront: StorefrontClient) -> None:
    calls = [ToolCall(f"t{i}", "list_categories", {}) for i in range(50)]
    runs = await Toolbox(storefront, max_calls=16).run(calls, CONTEXT)
    assert [r.result.tool_call_id for r in runs] == [c.id for c in calls]
    assert sum(not r.result.is_error for r in runs) == 16
    assert all("Too many tool calls" in r.result.content for r in runs[16:])


@st.composite
def products(draw: st.DrawFn) -> Product:
    price = draw(st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False))
    return Product("p", "P", "c", price, "USD", draw(st.integers(0, 100)), draw(st.text(max_size=400)))


@given(products())
def test_money_in_views_is_an_exact_decimal_string(product: Product) -> None:
    view = views.product_detail_view(product)
    assert isinstance(view["price"], str) and Decimal(view["price"]) == product.price
    assert len(view["about"]) <= views.DETAIL_DESCRIPTION_CHARS


SHOPPERS = ["alice", "bob", "carol"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(SHOPPERS),
            st.sampled_from(["usb-c-hub-7-in-1", "laptop-sleeve-15-6", "logitech-mx-master-3"]),
            st.integers(1, 3),
            st.sampled_from([{}, {"user_id": "alice"}, {"user": "bob"}]),
        ),
        max_size=12,
    ),
)
async def test_a_shoppers_cart_is_never_touched_by_another(storefront, plays) -> None:
    run_id = uuid.uuid4().hex  # the shop outlives each example: fresh shoppers every time
    toolbox = Toolbox(storefront)
    expected: dict[str, dict[str, int]] = {shopper: {} for shopper in SHOPPERS}
    for index, (shopper, product_id, quantity, injected) in enumerate(plays):
        call = ToolCall(f"t{index}", "add_to_cart", {"product_id": product_id, "quantity": quantity, **injected})
        run = await toolbox.run_call(call, TurnContext(f"{run_id}-{shopper}", f"turn{index}"))
        if not injected:  # a model naming any user is refused outright
            assert not run.result.is_error, run.result.content
            expected[shopper][product_id] = expected[shopper].get(product_id, 0) + quantity
        else:
            assert run.result.is_error
    for shopper in SHOPPERS:
        cart = await storefront.get_cart(f"{run_id}-{shopper}")
        assert {line.product_id: line.quantity for line in cart.items} == expected[shopper]


def test_compacted_results_keep_what_later_turns_refer_to() -> None:
    page = json.dumps(
        {"total": 1, "items": [{"id": "hp-pavilion-15", "name": "HP Pavilion 15", "price": "799.99",
                                "currency": "USD", "category": "laptops", "stock": 12, "about": "15.6in FHD"}]}
    )
    assert json.loads(views.compact_result(page)) == {
        "total": 1,
        "items": [{"id": "hp-pavilion-15", "name": "HP Pavilion 15", "price": "799.99", "currency": "USD"}],
    }
    detail = json.dumps({"id": "x", "name": "X", "price": "1.00", "currency": "USD", "attributes": {"a": "b"}})
    assert json.loads(views.compact_result(detail)) == {"id": "x", "name": "X", "price": "1.00", "currency": "USD"}
    cart = json.dumps({"currency": "USD", "item_count": 1, "subtotal": "1.00", "items": [{"product_id": "x"}]})
    for unchanged in (cart, "not_found: no such product", "[1, 2]"):
        assert views.compact_result(unchanged) == unchanged
