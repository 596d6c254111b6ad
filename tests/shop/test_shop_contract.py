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


def page_of(check_item: Callable[[Any], None] | None = None, total: int | None = None) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert set(body) == {"items", "total"}
        for item in body["items"]:
            assert_product(item)
            if check_item:
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

CASES = [
    Case("health", HEALTH, Call("GET", "/health"), 200, check=lambda b: b == {"status": "ok"} or pytest.fail(b)),
    # search
    Case("list all", PRODUCTS, Call("GET", "/api/products"), 200, check=page_of()),
    Case("search q", PRODUCTS, Call("GET", "/api/products", params={"q": "laptop"}), 200,
         check=lambda b: page_of()(b) or b["items"][0]["category"] == "laptops" or pytest.fail(b)),
    Case("search category", PRODUCTS, Call("GET", "/api/products", params={"category": "laptops", "limit": 100}), 200,
         check=page_of(lambda p: p["category"] == "laptops" or pytest.fail(p))),
    Case("search price range", PRODUCTS,
         Call("GET", "/api/products", params={"min_price": "100", "max_price": "200.50"}), 200,
         check=page_of(lambda p: 100 <= money(p["price"]) <= money("200.50") or pytest.fail(p))),
    Case("search paging", PRODUCTS, Call("GET", "/api/products", params={"limit": 1, "offset": 3}), 200,
         check=lambda b: page_of()(b) or (len(b["items"]) == 1 and b["total"] > 1) or pytest.fail(b)),
    Case("search no match", PRODUCTS, Call("GET", "/api/products", params={"q": "zzyzx"}), 200, check=page_of(total=0)),
    Case("limit 0", PRODUCTS, Call("GET", "/api/products", params={"limit": 0}), 422, "invalid_request"),
    Case("limit 101", PRODUCTS, Call("GET", "/api/products", params={"limit": 101}), 422, "invalid_request"),
    Case("limit text", PRODUCTS, Call("GET", "/api/products", params={"limit": "ten"}), 422, "invalid_request"),
    Case("offset negative", PRODUCTS, Call("GET", "/api/products", params={"offset": -1}), 422, "invalid_request"),
    Case("min_price text", PRODUCTS, Call("GET", "/api/products", params={"min_price": "abc"}), 422, "invalid_request"),
    Case("max_price negative", PRODUCTS, Call("GET", "/api/products", params={"max_price": "-5"}), 422, "invalid_request"),
    Case("min_price NaN", PRODUCTS, Call("GET", "/api/products", params={"min_price": "NaN"}), 422, "invalid_request"),
    Case("min over max", PRODUCTS, Call("GET", "/api/products", params={"min_price": "10", "max_price": "5"}), 422, "invalid_request"),
    # product
    Case("product", PRODUCT, Call("GET", "/api/products/hp-pavilion-15"), 200,
         check=product_is("hp-pavilion-15", "HP Pavilion 15", "799.99", "laptops")),
    Case("product sleeve", PRODUCT, Call("GET", "/api/products/laptop-sleeve-15-6"), 200,
         check=product_is("laptop-sleeve-15-6", 'Laptop Sleeve 15.6"', "24.99", "accessories")),
    Case("product unknown", PRODUCT, Call("GET", "/api/products/no-such-thing"), 404, "not_found"),
    Case("product bad id", PRODUCT, Call("GET", "/api/products/bad%20id"), 422, "invalid_request"),
    Case("product id too long", PRODUCT, Call("GET", "/api/products/" + "a" * 65), 422, "invalid_request"),
    # categories
    Case("categories", CATEGORIES, Call("GET", "/api/categories"), 200,
         check=lambda b: (len(b["items"]) >= 10 and all(set(c) == {"name", "product_count"} for c in b["items"]))
         or pytest.fail(b)),
    # carts
    Case("cart unknown user", CART, Call("GET", "/api/carts/nobody@example.com"), 200, check=cart_is({})),
    Case("cart after adds", CART, Call("GET", "/api/carts/u1"), 200,
         given=(add("u1", "dell-xps-13"), add("u1", "usb-c-hub-7-in-1", 2)),
         check=cart_is({"dell-xps-13": 1, "usb-c-hub-7-in-1": 2})),
    Case("cart bad user", CART, Call("GET", "/api/carts/bad%20user"), 422, "invalid_request"),
    Case("cart user too long", CART, Call("GET", "/api/carts/" + "u" * 129), 422, "invalid_request"),
    Case("cart user trailing newline", CART, Call("GET", "/api/carts/u%0A"), 422, "invalid_request"),
    Case("add", ADD, add("u-2", "hp-pavilion-15", 2), 200, check=cart_is({"hp-pavilion-15": 2})),
    Case("add to existing line", ADD, add("u:3", "hp-pavilion-15", 3), 200,
         given=(add("u:3", "hp-pavilion-15", 2),), check=cart_is({"hp-pavilion-15": 5})),
    Case("add unknown product", ADD, add("u4", "no-such-thing"), 404, "not_found"),
    Case("add out of stock", ADD, add("u5", "lenovo-legion-5"), 409, "out_of_stock"),
    Case("add over stock", ADD, add("u6", "dell-xps-13", 15), 409, "out_of_stock"),
    Case("add line over stock", ADD, add("u7", "dell-xps-13", 10), 409, "out_of_stock",
         given=(add("u7", "dell-xps-13", 10),)),
    Case("add quantity 0", ADD, add("u8", "dell-xps-13", 0), 422, "invalid_request"),
    Case("add quantity 1000", ADD, add("u8", "usb-c-cable-2m", 1000), 422, "invalid_request"),
    Case("add quantity bool", ADD, Call("POST", "/api/carts/u8/items", json={"product_id": "dell-xps-13", "quantity": True}),
         422, "invalid_request"),
    Case("add quantity string", ADD, Call("POST", "/api/carts/u8/items", json={"product_id": "dell-xps-13", "quantity": "1"}),
         422, "invalid_request"),
    Case("add quantity float", ADD, Call("POST", "/api/carts/u8/items", json={"product_id": "dell-xps-13", "quantity": 1.5}),
         422, "invalid_request"),
    Case("add missing product", ADD, Call("POST", "/api/carts/u8/items", json={"quantity": 1}), 422, "invalid_request"),
    Case("add bad product id", ADD, add("u8", "bad id!"), 422, "invalid_request"),
    Case("add malformed json", ADD, Call("POST", "/api/carts/u8/items", content=b"{nope"), 422, "invalid_request"),
    Case("add array body", ADD, Call("POST", "/api/carts/u8/items", json=[1]), 422, "invalid_request"),
    Case("add bad user", ADD, add("bad user", "dell-xps-13"), 422, "invalid_request"),
    Case("put", PUT, put("u9", "dell-xps-13", 4), 200, given=(add("u9", "dell-xps-13"),), check=cart_is({"dell-xps-13": 4})),
    Case("put 0 removes", PUT, put("u10", "dell-xps-13", 0), 200,
         given=(add("u10", "dell-xps-13"), add("u10", "acer-aspire-5")), check=cart_is({"acer-aspire-5": 1})),
    Case("put not in cart", PUT, put("u11", "dell-xps-13", 1), 404, "not_found"),
    Case("put unknown product", PUT, put("u11", "no-such-thing", 1), 404, "not_found"),
    Case("put over stock", PUT, put("u12", "dell-xps-13", 15), 409, "out_of_stock", given=(add("u12", "dell-xps-13"),)),
    Case("put negative", PUT, put("u13", "dell-xps-13", -1), 422, "invalid_request", given=(add("u13", "dell-xps-13"),)),
    Case("put bool", PUT, put("u13", "dell-xps-13", False), 422, "invalid_request", given=(add("u13", "dell-xps-13"),)),
    Case("put bad product id", PUT, put("u13", "bad%20id", 1), 422, "invalid_request"),
    Case("delete", DELETE, delete("u14", "dell-xps-13"), 200,
         given=(add("u14", "dell-xps-13"), add("u14", "macbook-air-m2")), check=cart_is({"macbook-air-m2": 1})),
    Case("delete not in cart", DELETE, delete("u15", "dell-xps-13"), 404, "not_found"),
    Case("delete twice", DELETE, delete("u16", "dell-xps-13"), 404, "not_found",
         given=(add("u16", "dell-xps-13"), delete("u16", "dell-xps-13"))),
    Case("delete bad user", DELETE, delete("a" * 129, "dell-xps-13"), 422, "invalid_request"),
    # recommendations
    Case("recs popular", RECS, Call("GET", "/api/recommendations"), 200, check=recs("popular")),
    Case("recs complementary", RECS, Call("GET", "/api/recommendations", params={"product_id": "dell-xps-13"}), 200,
         check=recs("complementary")),
    Case("recs cart", RECS, Call("GET", "/api/recommendations", params={"user_id": "r1"}), 200,
         given=(add("r1", "macbook-air-m2"),), check=recs("cart")),
    Case("recs personal", RECS, Call("GET", "/api/recommendations", params={"user_id": "r2"}), 200,
         given=(add("r2", "macbook-air-m2"), delete("r2", "macbook-air-m2")), check=recs("personal")),
    Case("recs limit", RECS, Call("GET", "/api/recommendations", params={"limit": 20}), 200,
         check=lambda b: len(b["items"]) == 20 or pytest.fail(b)),
    Case("recs unknown product", RECS, Call("GET", "/api/recommendations", params={"product_id": "no-such"}), 404, "not_found"),
    Case("recs limit 0", RECS, Call("GET", "/api/recommendations", params={"limit": 0}), 422, "invalid_request"),
    Case("recs limit 21", RECS, Call("GET", "/api/recommendations", params={"limit": 21}), 422, "invalid_request"),
    Case("recs bad user", RECS, Call("GET", "/api/recommendations", params={"user_id": "a b"}), 422, "invalid_request"),
    # outside the route table: still the error body, never a stack trace
    Case("unknown route", "*", Call("GET", "/api/nothing-here"), 404, "not_found"),
    Case("wrong method", "*", Call("PATCH", "/api/carts/u1/items/dell-xps-13"), 405, "method_not_allowed"),
    Case("body too large", "*", Call("POST", "/api/carts/u1/items", content=b"x" * 100_000), 413, "invalid_request"),
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
