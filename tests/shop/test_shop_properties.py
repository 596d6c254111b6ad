"""Hypothesis: any sequence of cart mutations agrees with a model and keeps the money exact.

One app serves every example (built once); each example gets a fresh user id, so carts
and idempotency keys never leak between examples.
"""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from litestar import Litestar

from shopbot.shop import create_storefront_app
from shopbot.shop.db import load_demo_catalog
from shopbot.shop.models import cents_to_money, money_to_cents

from .shop_checks import MONEY, assert_cart, cart_quantities

CATALOG = {p.id: p for p in load_demo_catalog().products}
LOW_STOCK = sorted((p for p in CATALOG.values() if 1 <= p.stock <= 6), key=lambda p: p.id)[:2]
POOL = [p.id for p in LOW_STOCK] + ["dell-xps-13", "lenovo-legion-5", "no-such-product"]
STOCK = {pid: CATALOG[pid].stock if pid in CATALOG else None for pid in POOL}
USERS = itertools.count()

op = st.tuples(
    st.sampled_from(["add", "set", "remove"]),
    st.sampled_from(POOL),
    st.integers(min_value=0, max_value=8),
    st.none() | st.sampled_from(["k1", "k2"]),
)


@pytest.fixture(scope="module")
def app() -> Litestar:
    return create_storefront_app()


def expected(kind: str, pid: str, qty: int, cart: dict[str, int]) -> tuple[int, dict[str, int]]:
    """The model: status and cart after one mutation (stock is never consumed)."""
    stock = STOCK[pid]
    if kind == "add":
        if qty == 0:
            return 422, cart
        if stock is None:
            return 404, cart
        if cart.get(pid, 0) + qty > stock:
            return 409, cart
        return 200, {**cart, pid: cart.get(pid, 0) + qty}
    if pid not in cart:
        return 404, cart
    if kind == "remove" or qty == 0:
        return 200, {k: v for k, v in cart.items() if k != pid}
    if stock is None or qty > stock:
        return 409, cart
    return 200, {**cart, pid: qty}


async def run(app: Litestar, ops: list[tuple[str, str, int, str | None]]) -> None:
    user = f"prop-{next(USERS)}"
    cart: dict[str, int] = {}
    replies: dict[tuple[str, str], tuple[int, bytes]] = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop") as http:
        for kind, pid, qty, key in ops:
            method, path, body = {
                "add": ("POST", f"/api/carts/{user}/items", {"product_id": pid, "quantity": qty}),
                "set": ("PUT", f"/api/carts/{user}/items/{pid}", {"quantity": qty}),
                "remove": ("DELETE", f"/api/carts/{user}/items/{pid}", None),
            }[kind]
            headers = {} if key is None else {"Idempotency-Key": key}
            response = await http.request(method, path, json=body, headers=headers)
            scope = (f"{method} {path}", key or "")
            if key is not None and scope in replies:
                assert (response.status_code, response.content) == replies[scope]
                assert response.headers["Idempotent-Replayed"] == "true"
            else:
                status, cart = expected(kind, pid, qty, cart)
                assert response.status_code == status, (kind, pid, qty, response.text)
                if key is not None and status != 422:
                    replies[scope] = (response.status_code, response.content)
            current = (await http.get(f"/api/carts/{user}")).json()
            assert_cart(current)
            assert cart_quantities(current) == cart
            if response.status_code == 200:
                assert response.json() == current or key is not None
        for pid, stock in STOCK.items():
            if stock is not None:
                assert (await http.get(f"/api/products/{pid}")).json()["stock"] == stock >= 0


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(op, max_size=12))
@example(ops=[("add", POOL[0], STOCK[POOL[0]], None), ("add", POOL[0], 1, None), ("set", POOL[0], 8, None)])
@example(ops=[
    ("add", "dell-xps-13", 1, "k1"), ("add", "dell-xps-13", 1, "k1"), ("remove", "dell-xps-13", 0, "k1"),
    ("remove", "dell-xps-13", 0, "k1"), ("add", "no-such-product", 1, "k2"), ("set", "dell-xps-13", 2, "k2"),
])
def test_cart_mutations_match_the_model(app: Litestar, ops: list[tuple[str, str, int, str | None]]) -> None:
    asyncio.run(run(app, ops))


@given(st.integers(min_value=0, max_value=10**15))
def test_cents_round_trip_as_two_place_strings(cents: int) -> None:
    value = cents_to_money(cents)
    assert MONEY.match(str(value)) and money_to_cents(value) == cents
    assert value == Decimal(cents) / 100


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=999))
def test_line_totals_are_exact(cents: int, quantity: int) -> None:
    assert cents_to_money(cents * quantity) == cents_to_money(cents) * quantity
    assert MONEY.match(str(cents_to_money(cents * quantity)))


@pytest.mark.parametrize("bad", ["1.001", "NaN", "Infinity"])
def test_money_to_cents_rejects_non_money(bad: str) -> None:
    with pytest.raises(ValueError):
        money_to_cents(Decimal(bad))
