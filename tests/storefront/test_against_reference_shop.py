"""The storefront contract from the client's side, against the reference shop.

Client and server are two independent implementations of one contract; these
cases run every route and every error code through the engine's client and the
embedded shop, over real HTTP on a loopback port, so the two must agree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from shopbot.errors import InvalidRequest, NotFound, OutOfStock, Unauthorized
from shopbot.serving import serve_in_background
from shopbot.shop.app import create_storefront_app
from shopbot.storefront.client import StorefrontClient

KEY = "shop-secret"


@pytest.fixture
async def shop_url() -> AsyncIterator[str]:
    async with serve_in_background(create_storefront_app(":memory:", api_key=KEY)) as url:
        yield url


@pytest.fixture
async def client(shop_url: str) -> AsyncIterator[StorefrontClient]:
    async with StorefrontClient(shop_url, api_key=KEY, backoff=0) as client:
        yield client


async def test_health_and_auth(shop_url: str, client: StorefrontClient) -> None:
    await client.health()
    for key in (None, "wrong"):
        async with StorefrontClient(shop_url, api_key=key, backoff=0) as stranger:
            with pytest.raises(Unauthorized):
                await stranger.health()
            with pytest.raises(Unauthorized):
                await stranger.get_cart("u1")


async def test_catalog_routes(client: StorefrontClient) -> None:
    laptops = await client.search_products("laptop", limit=5)
    assert laptops.items[0].category == "laptops" and laptops.total >= 5
    cheap = await client.search_products(category="laptops", min_price=Decimal("600"), max_price=Decimal("800"))
    assert {p.id for p in cheap.items} >= {"hp-pavilion-15", "acer-aspire-5"}
    assert all(Decimal("600") <= p.price <= Decimal("800") and p.category == "laptops" for p in cheap.items)
    second = await client.search_products(category="laptops", limit=2, offset=2)
    everything = await client.search_products(category="laptops", limit=100)
    assert [p.id for p in second.items] == [p.id for p in everything.items[2:4]]
    assert second.total == everything.total == len(everything.items)

    hp = await client.get_product("hp-pavilion-15")
    assert (hp.name, hp.price, hp.currency) == ("HP Pavilion 15", Decimal("799.99"), "USD")
    categories = await client.list_categories()
    assert sum(c.product_count for c in categories.items) == (await client.search_products(limit=1)).total


async def test_cart_routes(client: StorefrontClient) -> None:
    assert (await client.get_cart("nobody")).items == ()
    await client.add_to_cart("u1", "hp-pavilion-15", 1)
    cart = await client.add_to_cart("u1", "usb-c-hub-7-in-1", 2)
    assert (cart.item_count, cart.subtotal) == (3, Decimal("879.97"))
    cart = await client.update_cart_item("u1", "usb-c-hub-7-in-1", 1)
    assert cart.subtotal == Decimal("839.98")
    cart = await client.update_cart_item("u1", "usb-c-hub-7-in-1", 0)
    assert [line.product_id for line in cart.items] == ["hp-pavilion-15"]
    cart = await client.remove_from_cart("u1", "hp-pavilion-15")
    assert cart.item_count == 0 and cart.subtotal == Decimal("0.00")


async def test_recommendation_strategies(client: StorefrontClient) -> None:
    assert (await client.recommendations(product_id="hp-pavilion-15")).strategy == "complementary"
    assert (await client.recommendations(user_id="fresh")).strategy == "popular"
    await client.add_to_cart("r1", "hp-pavilion-15", 1)
    in_cart = await client.recommendations(user_id="r1", limit=20)
    assert in_cart.strategy == "cart" and "hp-pavilion-15" not in {p.id for p in in_cart.items}
    assert all(p.stock > 0 for p in in_cart.items)
    await client.remove_from_cart("r1", "hp-pavilion-15")
    assert (await client.recommendations(user_id="r1")).strategy == "personal"


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.get_product("no-such-product"), NotFound),
        (lambda c: c.add_to_cart("u2", "no-such-product", 1), NotFound),
        (lambda c: c.add_to_cart("u2", "lenovo-legion-5", 1), OutOfStock),
        (lambda c: c.add_to_cart("u2", "hp-pavilion-15", 13), OutOfStock),
        (lambda c: c.add_to_cart("u2", "hp-pavilion-15", 0), InvalidRequest),
        (lambda c: c.update_cart_item("u2", "hp-pavilion-15", 1), NotFound),
        (lambda c: c.update_cart_item("u2", "hp-pavilion-15", -1), InvalidRequest),
        (lambda c: c.remove_from_cart("u2", "hp-pavilion-15"), NotFound),
        (lambda c: c.recommendations(product_id="no-such-product"), NotFound),
        (lambda c: c.search_products(limit=0), InvalidRequest),
        (lambda c: c.search_products(limit=101), InvalidRequest),
        (lambda c: c.search_products(min_price=Decimal("-1")), InvalidRequest),
        (lambda c: c.recommendations(limit=21), InvalidRequest),
    ],
)
async def test_error_codes(client: StorefrontClient, call, error: type) -> None:
    with pytest.raises(error):
        await call(client)


async def test_out_of_stock_on_update(client: StorefrontClient) -> None:
    await client.add_to_cart("u3", "hp-pavilion-15", 1)
    with pytest.raises(OutOfStock):
        await client.update_cart_item("u3", "hp-pavilion-15", 13)


async def test_an_idempotency_key_applies_a_mutation_once(client: StorefrontClient) -> None:
    first = await client.add_to_cart("u4", "usb-c-hub-7-in-1", 1, idempotency_key="turn1.tooluse_1")
    again = await client.add_to_cart("u4", "usb-c-hub-7-in-1", 1, idempotency_key="turn1.tooluse_1")
    assert first == again and again.item_count == 1
    assert (await client.add_to_cart("u4", "usb-c-hub-7-in-1", 1, idempotency_key="turn2.tooluse_1")).item_count == 2
