"""Each client method sends the contract's request and decodes its answer."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
from pytest_httpx import HTTPXMock

from shopbot.storefront import Cart, CartLine, Category, Product, StorefrontClient

from .payloads import API_KEY, CART, PRODUCT


def _sent(httpx_mock: HTTPXMock) -> httpx.Request:
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    return request


def _expected_product() -> Product:
    return Product(
        id="hp-pavilion-15",
        name="HP Pavilion 15",
        description='15.6" FHD, Ryzen 7, 16GB RAM',
        category="laptops",
        price=Decimal("799.99"),
        currency="USD",
        stock=12,
        rating=4.4,
        attributes={"brand": "HP", "screen": "15.6in"},
    )


def _expected_cart() -> Cart:
    line = CartLine("hp-pavilion-15", "HP Pavilion 15", Decimal("799.99"), 2, Decimal("1599.98"))
    return Cart("user-123", "USD", 2, Decimal("1599.98"), (line,))


async def test_health(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"status": "ok"})
    assert await client.health() is None
    request = _sent(httpx_mock)
    assert (request.method, request.url.raw_path) == ("GET", b"/prefix/health")


async def test_search_products_sends_every_filter(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"items": [PRODUCT], "total": 31})
    page = await client.search_products(
        "gaming laptop",
        category="laptops",
        min_price=Decimal("500"),
        max_price=Decimal("1E+3"),
        limit=10,
        offset=20,
    )
    assert page.total == 31
    assert page.items == (_expected_product(),)
    assert isinstance(page.items[0].price, Decimal)
    request = _sent(httpx_mock)
    assert (request.method, request.url.path) == ("GET", "/prefix/api/products")
    assert dict(request.url.params) == {
        "q": "gaming laptop",
        "category": "laptops",
        "min_price": "500",
        "max_price": "1000",
        "limit": "10",
        "offset": "20",
    }


async def test_search_products_defaults_send_no_filters(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"items": [], "total": 0})
    page = await client.search_products()
    assert (page.items, page.total) == ((), 0)
    assert dict(_sent(httpx_mock).url.params) == {"limit": "20", "offset": "0"}


async def test_search_products_sends_prices_as_plain_decimals(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"items": [], "total": 0})
    await client.search_products(min_price=Decimal("0.10"), max_price=Decimal("1.5E-1"))
    params = _sent(httpx_mock).url.params
    assert (params["min_price"], params["max_price"]) == ("0.10", "0.15")


async def test_get_product(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=PRODUCT)
    assert await client.get_product("hp-pavilion-15") == _expected_product()
    request = _sent(httpx_mock)
    assert (request.method, request.url.raw_path) == ("GET", b"/prefix/api/products/hp-pavilion-15")


async def test_get_product_optional_fields_default(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    minimal = {k: PRODUCT[k] for k in ("id", "name", "category", "price", "currency", "stock")}
    httpx_mock.add_response(json={**minimal, "rating": None})
    product = await client.get_product("hp-pavilion-15")
    assert (product.rating, product.attributes, product.description) == (None, {}, "")


async def test_list_categories(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"items": [{"name": "laptops", "product_count": 14}]})
    categories = await client.list_categories()
    assert categories.items == (Category("laptops", 14),)
    request = _sent(httpx_mock)
    assert (request.method, request.url.raw_path) == ("GET", b"/prefix/api/categories")


async def test_get_cart_quotes_the_user_id(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=CART)
    assert await client.get_cart("anna@example.com:1") == _expected_cart()
    request = _sent(httpx_mock)
    assert (request.method, request.url.raw_path) == ("GET", b"/prefix/api/carts/anna%40example.com%3A1")


async def test_add_to_cart(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=CART)
    cart = await client.add_to_cart("user-123", "hp-pavilion-15", 2, idempotency_key="turn-7:call-1")
    assert cart == _expected_cart()
    request = _sent(httpx_mock)
    assert (request.method, request.url.raw_path) == ("POST", b"/prefix/api/carts/user-123/items")
    assert request.headers["Idempotency-Key"] == "turn-7:call-1"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"product_id": "hp-pavilion-15", "quantity": 2}


async def test_add_to_cart_without_key_sends_no_key_header(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=CART)
    await client.add_to_cart("user-123", "hp-pavilion-15", 1)
    assert "Idempotency-Key" not in _sent(httpx_mock).headers


async def test_update_cart_item(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=CART)
    cart = await client.update_cart_item("user-123", "hp-pavilion-15", 0, idempotency_key="k1")
    assert cart == _expected_cart()
    request = _sent(httpx_mock)
    assert (request.method, request.url.raw_path) == ("PUT", b"/prefix/api/carts/user-123/items/hp-pavilion-15")
    assert request.headers["Idempotency-Key"] == "k1"
    assert json.loads(request.content) == {"quantity": 0}


async def test_remove_from_cart(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={**CART, "items": [], "item_count": 0, "subtotal": "0.00"})
    cart = await client.remove_from_cart("user-123", "hp-pavilion-15", idempotency_key="k2")
    assert (cart.items, cart.item_count, cart.subtotal) == ((), 0, Decimal("0.00"))
    request = _sent(httpx_mock)
    assert (request.method, request.url.raw_path) == ("DELETE", b"/prefix/api/carts/user-123/items/hp-pavilion-15")
    assert request.headers["Idempotency-Key"] == "k2"
    assert request.content == b""


async def test_recommendations(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"items": [PRODUCT], "strategy": "complementary"})
    recs = await client.recommendations(user_id="user-123", product_id="hp-pavilion-15", limit=3)
    assert (recs.items, recs.strategy) == ((_expected_product(),), "complementary")
    request = _sent(httpx_mock)
    assert (request.method, request.url.path) == ("GET", "/prefix/api/recommendations")
    assert dict(request.url.params) == {"user_id": "user-123", "product_id": "hp-pavilion-15", "limit": "3"}


async def test_recommendations_defaults(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"items": [], "strategy": "popular"})
    assert (await client.recommendations()).strategy == "popular"
    assert dict(_sent(httpx_mock).url.params) == {"limit": "5"}


async def test_no_authorization_header_without_a_key(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"items": []})
    async with StorefrontClient("http://shop.test") as client:
        await client.list_categories()
    request = httpx_mock.get_request()
    assert request is not None
    assert "Authorization" not in request.headers
    assert request.url.raw_path == b"/api/categories"


async def test_trailing_slash_on_base_url_is_harmless(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"items": []})
    async with StorefrontClient("http://shop.test/prefix/") as client:
        await client.list_categories()
    request = httpx_mock.get_request()
    assert request is not None
    assert request.url.raw_path == b"/prefix/api/categories"
