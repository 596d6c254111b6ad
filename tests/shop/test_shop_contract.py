"""Every route and error code of the storefront contract, as a table of HTTP cases.

Each case: optional setup requests (which must succeed), one request, the expected
status, and for errors the expected ``error`` code; bodies are checked against the
contract's shapes. ``test_cases_cover_the_contract`` keeps the table honest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from .shop_checks import assert_cart, assert_product, cart_quantities, money


@dataclass(frozen=True)
class Call:
    """One HTTP request."""

    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    content: bytes | None = None


@dataclass(frozen=True)
class Case:
    """A contract expectation: after ``given``, ``call`` answers ``status`` (and ``error``)."""

    id: str
    route: str
    call: Call
    status: int
    error: str | None = None
    given: tuple[Call, ...] = ()
    check: Callable[[Any], None] | None = field(default=None, compare=False)


def add(user: str, product: str, quantity: int = 1) -> Call:
    return Call("POST", f"/api/carts/{user}/items", json={"product_id": product, "quantity": quantity})


def put(user: str, product: str, quantity: Any) -> Call:
    return Call("PUT", f"/api/carts/{user}/items/{product}", json={"quantity": quantity})


def delete(user: str, product: str) -> Call:
    return Call("DELETE", f"/api/carts/{user}/items/{product}")


def cart_is(expected: dict[str, int]) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert_cart(body)
        assert cart_quantities(body) == expected

    return check


def page_of(
    check_item: Callable[[Any], None] | None = None, total: int | None = None
) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert set(body) == {"items", "total"}
        for item in body["items"]:
            assert_product(item)
            if check_item is not None:
                check_item(item)
        if total is not None:
            assert body["total"] == total

    return check


def recs(strategy: str) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert set(body) == {"items", "strategy"} and body["strategy"] == strategy
        assert body["items"]
        for item in body["items"]:
            assert_product(item)
            assert item["stock"] > 0

    return check


def product_is(pid: str, name: str, price: str, category: str) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert_product(body)
        assert (body["id"], body["name"], body["price"], body["category"]) == (pid, name, price, category)

    return check


PRODUCTS = "GET /api/products"
PRODUCT = "GET /api/products/{product_id}"
CATEGORIES = "GET /api/categories"
CART = "GET /api/carts/{user_id}"
ADD = "POST /api/carts/{user_id}/items"
PUT = "PUT /api/carts/{user_id}/items/{product_id}"
DELETE = "DELETE /api/carts/{user_id}/items/{product_id}"
RECS = "GET /api/recommendations"
HEALTH = "GET /health"

INVALID = "invalid_request"


def get(path: str, **params: Any) -> Call:
    return Call("GET", path, params=params or None)


def post(user: str, json: Any = None, content: bytes | None = None) -> Call:
    return Call("POST", f"/api/carts/{user}/items", json=json, content=content)


def equals(expected: Any) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert body == expected

    return check


def first_category(category: str) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        page_of()(body)
        assert body["items"][0]["category"] == category

    return check


def categories_listed(body: Any) -> None:
    assert len(body["items"]) >= 10
    assert all(set(c) == {"name", "product_count"} and c["product_count"] > 0 for c in body["items"])


def single_item_page(body: Any) -> None:
    page_of()(body)
    assert len(body["items"]) == 1 and body["total"] > 1


def twenty_items(body: Any) -> None:
    assert len(body["items"]) == 20


def in_category(category: str) -> Callable[[Any], None]:
    def check(item: Any) -> None:
        assert item["category"] == category

    return check


def priced_between(low: str, high: str) -> Callable[[Any], None]:
    def check(item: Any) -> None:
        assert money(low) <= money(item["price"]) <= money(high)

    return check


XPS = "dell-xps-13"

CASES = [
    Case("health", HEALTH, get("/health"), 200, check=equals({"status": "ok"})),
    # search
    Case("list all", PRODUCTS, get("/api/products"), 200, check=page_of()),
    Case("search q", PRODUCTS, get("/api/products", q="laptop"), 200, check=first_category("laptops")),
    Case("search category", PRODUCTS, get("/api/products", category="laptops", limit=100), 200,
         check=page_of(in_category("laptops"))),
    Case("search price range", PRODUCTS, get("/api/products", min_price="100", max_price="200.50"), 200,
         check=page_of(priced_between("100.00", "200.50"))),
    Case("search paging", PRODUCTS, get("/api/products", limit=1, offset=3), 200, check=single_item_page),
    Case("search no match", PRODUCTS, get("/api/products", q="zzyzx"), 200, check=page_of(total=0)),
    Case("limit 0", PRODUCTS, get("/api/products", limit=0), 422, INVALID),
    Case("limit 101", PRODUCTS, get("/api/products", limit=101), 422, INVALID),
    Case("limit text", PRODUCTS, get("/api/products", limit="ten"), 422, INVALID),
    Case("offset negative", PRODUCTS, get("/api/products", offset=-1), 422, INVALID),
    Case("min_price text", PRODUCTS, get("/api/products", min_price="abc"), 422, INVALID),
    Case("max_price negative", PRODUCTS, get("/api/products", max_price="-5"), 422, INVALID),
    Case("min_price NaN", PRODUCTS, get("/api/products", min_price="NaN"), 422, INVALID),
    Case("min over max", PRODUCTS, get("/api/products", min_price="10", max_price="5"), 422, INVALID),
    # product
    Case("product", PRODUCT, get("/api/products/hp-pavilion-15"), 200,
         check=product_is("hp-pavilion-15", "HP Pavilion 15", "799.99", "laptops")),
    Case("product sleeve", PRODUCT, get("/api/products/laptop-sleeve-15-6"), 200,
         check=product_is("laptop-sleeve-15-6", 'Laptop Sleeve 15.6"', "24.99", "accessories")),
    Case("product unknown", PRODUCT, get("/api/products/no-such-thing"), 404, "not_found"),
    Case("product bad id", PRODUCT, get("/api/products/bad%20id"), 422, INVALID),
    Case("product id too long", PRODUCT, get("/api/products/" + "a" * 65), 422, INVALID),
    # categories
    Case("categories", CATEGORIES, get("/api/categories"), 200, check=categories_listed),
    # carts
    Case("cart unknown user", CART, get("/api/carts/nobody@example.com"), 200, check=cart_is({})),
    Case("cart after adds", CART, get("/api/carts/u1"), 200,
         given=(add("u1", XPS), add("u1", "usb-c-hub-7-in-1", 2)),
         check=cart_is({XPS: 1, "usb-c-hub-7-in-1": 2})),
    Case("cart bad user", CART, get("/api/carts/bad%20user"), 422, INVALID),
    Case("cart user too long", CART, get("/api/carts/" + "u" * 129), 422, INVALID),
    Case("cart user trailing newline", CART, get("/api/carts/u%0A"), 422, INVALID),
    Case("add", ADD, add("u-2", "hp-pavilion-15", 2), 200, check=cart_is({"hp-pavilion-15": 2})),
    Case("add to existing line", ADD, add("u:3", "hp-pavilion-15", 3), 200,
         given=(add("u:3", "hp-pavilion-15", 2),), check=cart_is({"hp-pavilion-15": 5})),
    Case("add unknown product", ADD, add("u4", "no-such-thing"), 404, "not_found"),
    Case("add out of stock", ADD, add("u5", "lenovo-legion-5"), 409, "out_of_stock"),
    Case("add over stock", ADD, add("u6", XPS, 15), 409, "out_of_stock"),
    Case("add line over stock", ADD, add("u7", XPS, 10), 409, "out_of_stock", given=(add("u7", XPS, 10),)),
    Case("add quantity 0", ADD, add("u8", XPS, 0), 422, INVALID),
    Case("add quantity 1000", ADD, add("u8", "usb-c-cable-2m", 1000), 422, INVALID),
    Case("add quantity bool", ADD, post("u8", {"product_id": XPS, "quantity": True}), 422, INVALID),
    Case("add quantity string", ADD, post("u8", {"product_id": XPS, "quantity": "1"}), 422, INVALID),
    Case("add quantity float", ADD, post("u8", {"product_id": XPS, "quantity": 1.5}), 422, INVALID),
    Case("add missing product", ADD, post("u8", {"quantity": 1}), 422, INVALID),
    Case("add bad product id", ADD, add("u8", "bad id!"), 422, INVALID),
    Case("add malformed json", ADD, post("u8", content=b"{nope"), 422, INVALID),
    Case("add array body", ADD, post("u8", [1]), 422, INVALID),
    Case("add bad user", ADD, add("bad user", XPS), 422, INVALID),
    Case("put", PUT, put("u9", XPS, 4), 200, given=(add("u9", XPS),), check=cart_is({XPS: 4})),
    Case("put 0 removes", PUT, put("u10", XPS, 0), 200,
         given=(add("u10", XPS), add("u10", "acer-aspire-5")), check=cart_is({"acer-aspire-5": 1})),
    Case("put not in cart", PUT, put("u11", XPS, 1), 404, "not_found"),
    Case("put unknown product", PUT, put("u11", "no-such-thing", 1), 404, "not_found"),
    Case("put over stock", PUT, put("u12", XPS, 15), 409, "out_of_stock", given=(add("u12", XPS),)),
    Case("put negative", PUT, put("u13", XPS, -1), 422, INVALID, given=(add("u13", XPS),)),
    Case("put bool", PUT, put("u13", XPS, False), 422, INVALID, given=(add("u13", XPS),)),
    Case("put bad product id", PUT, put("u13", "bad%20id", 1), 422, INVALID),
    Case("delete", DELETE, delete("u14", XPS), 200,
         given=(add("u14", XPS), add("u14", "macbook-air-m2")), check=cart_is({"macbook-air-m2": 1})),
    Case("delete not in cart", DELETE, delete("u15", XPS), 404, "not_found"),
    Case("delete twice", DELETE, delete("u16", XPS), 404, "not_found", given=(add("u16", XPS), delete("u16", XPS))),
    Case("delete bad user", DELETE, delete("a" * 129, XPS), 422, INVALID),
    # recommendations
    Case("recs popular", RECS, get("/api/recommendations"), 200, check=recs("popular")),
    Case("recs complementary", RECS, get("/api/recommendations", product_id=XPS), 200,
         check=recs("complementary")),
    Case("recs cart", RECS, get("/api/recommendations", user_id="r1"), 200,
         given=(add("r1", "macbook-air-m2"),), check=recs("cart")),
    Case("recs personal", RECS, get("/api/recommendations", user_id="r2"), 200,
         given=(add("r2", "macbook-air-m2"), delete("r2", "macbook-air-m2")), check=recs("personal")),
    Case("recs limit", RECS, get("/api/recommendations", limit=20), 200, check=twenty_items),
    Case("recs unknown product", RECS, get("/api/recommendations", product_id="no-such"), 404, "not_found"),
    Case("recs limit 0", RECS, get("/api/recommendations", limit=0), 422, INVALID),
    Case("recs limit 21", RECS, get("/api/recommendations", limit=21), 422, INVALID),
    Case("recs bad user", RECS, get("/api/recommendations", user_id="a b"), 422, INVALID),
    # outside the route table: still the error body, never a stack trace
    Case("unknown route", "*", get("/api/nothing-here"), 404, "not_found"),
    Case("wrong method", "*", Call("PATCH", f"/api/carts/u1/items/{XPS}"), 405, "method_not_allowed"),
    Case("body too large", "*", post("u1", content=b"x" * 100_000), 413, INVALID),
]

# The route table of the contract: every success and error status it lists.
CONTRACT = {
    (HEALTH, 200), (PRODUCTS, 200), (PRODUCTS, 422), (PRODUCT, 200), (PRODUCT, 404), (CATEGORIES, 200),
    (CART, 200), (ADD, 200), (ADD, 404), (ADD, 409), (ADD, 422), (PUT, 200), (PUT, 404), (PUT, 409),
    (PUT, 422), (DELETE, 200), (DELETE, 404), (RECS, 200), (RECS, 404),
}


async def send(client: httpx.AsyncClient, call: Call) -> httpx.Response:
    return await client.request(
        call.method, call.path, json=call.json, params=call.params, headers=call.headers, content=call.content
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_contract(client: httpx.AsyncClient, case: Case) -> None:
    for setup in case.given:
        response = await send(client, setup)
        assert response.is_success, (setup, response.text)
    response = await send(client, case.call)
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    if case.error is not None:
        assert body == {"error": case.error, "message": body["message"]}
        assert isinstance(body["message"], str) and body["message"]
        assert "Traceback" not in body["message"]
    if case.check is not None:
        case.check(body)


def test_cases_cover_the_contract() -> None:
    covered = {(c.route, c.status) for c in CASES}
    assert CONTRACT <= covered, CONTRACT - covered
    codes = {c.error for c in CASES}
    assert {"not_found", "out_of_stock", "invalid_request"} <= codes  # unauthorized: test_shop_auth.py
    assert len({c.id for c in CASES}) == len(CASES)


async def test_add_does_not_change_stock(client: httpx.AsyncClient) -> None:
    before = (await client.get("/api/products/acer-aspire-5")).json()["stock"]
    assert (await send(client, add("s1", "acer-aspire-5", before))).status_code == 200
    assert (await client.get("/api/products/acer-aspire-5")).json()["stock"] == before
