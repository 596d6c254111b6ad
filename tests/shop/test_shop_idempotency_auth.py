"""Idempotency-Key replays and the bearer-key check."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar, get

from shopbot.shop import create_storefront_app
from shopbot.shop.app import error_response

from .shop_checks import cart_quantities

ADD = "/api/carts/{user}/items"


async def test_repeated_key_replays_and_applies_once(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "add-1"}
    body = {"product_id": "dell-xps-13", "quantity": 1}
    first = await client.post(ADD.format(user="i1"), json=body, headers=headers)
    again = await client.post(ADD.format(user="i1"), json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert cart_quantities((await client.get("/api/carts/i1")).json()) == {"dell-xps-13": 1}


async def test_replay_ignores_a_different_body(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "k"}
    path = ADD.format(user="i2")
    first = await client.post(path, json={"product_id": "dell-xps-13", "quantity": 1}, headers=headers)
    again = await client.post(path, json={"product_id": "acer-aspire-5", "quantity": 3}, headers=headers)
    assert again.content == first.content
    assert cart_quantities((await client.get("/api/carts/i2")).json()) == {"dell-xps-13": 1}


async def test_key_is_scoped_to_route_and_user(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "same"}
    body = {"product_id": "dell-xps-13", "quantity": 1}
    await client.post(ADD.format(user="i3"), json=body, headers=headers)
    other_user = await client.post(ADD.format(user="i4"), json=body, headers=headers)
    assert cart_quantities(other_user.json()) == {"dell-xps-13": 1}
    put = await client.put("/api/carts/i3/items/dell-xps-13", json={"quantity": 5}, headers=headers)
    assert cart_quantities(put.json()) == {"dell-xps-13": 5}
    delete = await client.delete("/api/carts/i3/items/dell-xps-13", headers=headers)
    assert cart_quantities(delete.json()) == {}
    replayed_put = await client.put("/api/carts/i3/items/dell-xps-13", json={"quantity": 2}, headers=headers)
    assert replayed_put.content == put.content and replayed_put.headers["Idempotent-Replayed"] == "true"
    assert cart_quantities((await client.get("/api/carts/i3")).json()) == {}


async def test_errors_are_replayed_too(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "err"}
    first = await client.delete("/api/carts/i5/items/dell-xps-13", headers=headers)
    assert first.status_code == 404
    await client.post(ADD.format(user="i5"), json={"product_id": "dell-xps-13", "quantity": 1})
    again = await client.delete("/api/carts/i5/items/dell-xps-13", headers=headers)
    assert (again.status_code, again.content) == (404, first.content)
    assert cart_quantities((await client.get("/api/carts/i5")).json()) == {"dell-xps-13": 1}


async def test_without_key_every_request_applies(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await client.post(ADD.format(user="i6"), json={"product_id": "dell-xps-13", "quantity": 1})
    assert cart_quantities((await client.get("/api/carts/i6")).json()) == {"dell-xps-13": 3}


@pytest.mark.parametrize(
    "key", [b"", b"x" * 201, b"tab\there", b"caf\xc3\xa9", b"\x7f"], ids=["empty", "201", "tab", "non-ascii", "DEL"]
)
async def test_invalid_keys_are_rejected(client: httpx.AsyncClient, key: bytes) -> None:
    response = await client.post(
        ADD.format(user="i7"), json={"product_id": "dell-xps-13", "quantity": 1}, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"
    assert cart_quantities((await client.get("/api/carts/i7")).json()) == {}


async def test_longest_valid_key(client: httpx.AsyncClient) -> None:
    key = "".join(chr(c) for c in range(32, 127)) * 2 + "!" * 10
    assert len(key) == 200
    response = await client.post(ADD.format(user="i8"), json={"product_id": "dell-xps-13", "quantity": 1},
                                 headers={"Idempotency-Key": key})
    assert response.status_code == 200


ROUTES = [
    ("GET", "/health", None),
    ("GET", "/api/products", None),
    ("GET", "/api/products/dell-xps-13", None),
    ("GET", "/api/categories", None),
    ("GET", "/api/carts/a1", None),
    ("POST", "/api/carts/a1/items", {"product_id": "dell-xps-13", "quantity": 1}),
    ("PUT", "/api/carts/a1/items/dell-xps-13", {"quantity": 2}),
    ("DELETE", "/api/carts/a1/items/dell-xps-13", None),
    ("GET", "/api/recommendations", None),
]


@pytest.fixture(scope="module")
def locked_app() -> Litestar:
    return create_storefront_app(api_key="s3cret-key")


@pytest.fixture
async def locked(locked_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=locked_app), base_url="http://shop") as http:
        yield http


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", "Bearer s3cret-ke", "Bearer s3cret-key2", "Basic s3cret-key", "s3cret-key", "Bearer"],
)
@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_key_required_on_every_route(locked: httpx.AsyncClient, method: str, path: str, body: object,
                                           authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await locked.request(method, path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_right_key_passes(locked: httpx.AsyncClient) -> None:
    auth = {"Authorization": "Bearer s3cret-key"}
    for method, path, body in ROUTES:
        response = await locked.request(method, path, json=body, headers=auth)
        assert response.status_code == 200, (method, path, response.text)
    assert (await locked.get("/health", headers={"Authorization": "bearer s3cret-key"})).status_code == 200


async def test_auth_is_checked_before_validation(locked: httpx.AsyncClient) -> None:
    response = await locked.get("/api/products", params={"limit": 0})
    assert response.status_code == 401


async def test_unexpected_errors_become_a_500_body_without_details() -> None:
    @get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    app = Litestar([boom], exception_handlers={Exception: error_response}, logging_config=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "message": "Internal server error"}


async def test_unparsable_body_is_not_recorded(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "fix-me"}
    path = ADD.format(user="i9")
    bad = await client.post(path, json={"product_id": "dell-xps-13", "quantity": "1"}, headers=headers)
    assert bad.status_code == 422
    good = await client.post(path, json={"product_id": "dell-xps-13", "quantity": 1}, headers=headers)
    assert good.status_code == 200 and "Idempotent-Replayed" not in good.headers
    stale = await client.post(path, content=b"{broken", headers=headers)
    assert (stale.status_code, stale.content) == (200, good.content)
