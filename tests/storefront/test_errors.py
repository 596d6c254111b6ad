"""Every failure leaves the client as a StorefrontError; no httpx exception escapes."""

from __future__ import annotations

import httpx
import pytest
from pytest_httpx import HTTPXMock

from shopbot.errors import (
    InvalidRequest,
    NotFound,
    OutOfStock,
    StorefrontContractError,
    StorefrontError,
    StorefrontRejected,
    StorefrontUnavailable,
    Unauthorized,
)
from shopbot.storefront import StorefrontClient

from .payloads import PRODUCT


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (404, "not_found", NotFound),
        (409, "out_of_stock", OutOfStock),
        (422, "invalid_request", InvalidRequest),
        (401, "unauthorized", Unauthorized),
    ],
)
async def test_contract_error_bodies_map_to_their_rejection(
    client: StorefrontClient, httpx_mock: HTTPXMock, status: int, code: str, expected: type[StorefrontRejected]
) -> None:
    httpx_mock.add_response(status_code=status, json={"error": code, "message": "the shop says no"})
    with pytest.raises(expected) as caught:
        await client.add_to_cart("user-123", "hp-pavilion-15", 1)
    assert type(caught.value) is expected
    assert (caught.value.code, caught.value.status, caught.value.message) == (code, status, "the shop says no")
    assert len(httpx_mock.get_requests()) == 1


async def test_get_product_not_found(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=404, json={"error": "not_found", "message": "no product 'nope'"})
    with pytest.raises(NotFound, match="no product 'nope'"):
        await client.get_product("nope")


async def test_the_code_decides_not_the_status(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=403, json={"error": "unauthorized", "message": "bad key"})
    with pytest.raises(Unauthorized) as caught:
        await client.list_categories()
    assert caught.value.status == 403


async def test_401_without_a_body_is_unauthorized(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=401, text="")
    with pytest.raises(Unauthorized) as caught:
        await client.list_categories()
    assert caught.value.status == 401


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, b"<html>Not Found</html>"),  # a wrong base URL, not a missing product
        (400, b'{"error": "bad_thing", "message": "?"}'),  # a code the contract does not have
        (405, b""),
        (302, b""),
    ],
)
async def test_other_non_2xx_answers_break_the_contract(
    client: StorefrontClient, httpx_mock: HTTPXMock, status: int, body: bytes
) -> None:
    httpx_mock.add_response(status_code=status, content=body)
    with pytest.raises(StorefrontContractError, match=rf"GET /api/products/x: storefront answered {status}"):
        await client.get_product("x")
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize("status", [408, 429])
async def test_throttling_and_request_timeout_are_unavailable(
    client: StorefrontClient, httpx_mock: HTTPXMock, status: int
) -> None:
    httpx_mock.add_response(status_code=status)
    with pytest.raises(StorefrontUnavailable, match=str(status)):
        await client.list_categories()


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_unavailable(httpx_mock: HTTPXMock, status: int) -> None:
    httpx_mock.add_response(status_code=status, json={"error": "internal", "message": "boom"})
    async with StorefrontClient("http://shop.test", retries=0) as client:
        with pytest.raises(StorefrontUnavailable, match=f"GET /api/categories: storefront answered {status}"):
            await client.list_categories()


@pytest.mark.parametrize(
    "body",
    [
        b'{"items": [',  # truncated JSON
        b"<html>gateway</html>",  # not JSON at all
        b"",
        b'{"items": [{"name": "laptops"}]}',  # product_count missing
        b'{"items": [{"name": "laptops", "product_count": "many"}]}',  # wrong type
        b"[]",
    ],
)
async def test_undecodable_2xx_body_breaks_the_contract(
    client: StorefrontClient, httpx_mock: HTTPXMock, body: bytes
) -> None:
    httpx_mock.add_response(content=body)
    with pytest.raises(StorefrontContractError, match="GET /api/categories: 200 body breaks the contract"):
        await client.list_categories()
    assert len(httpx_mock.get_requests()) == 1  # a broken answer is not retried


async def test_missing_field_is_named(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={k: v for k, v in PRODUCT.items() if k != "price"})
    with pytest.raises(StorefrontContractError, match="price"):
        await client.get_product("hp-pavilion-15")


async def test_money_that_is_not_a_number_breaks_the_contract(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={**PRODUCT, "price": "cheap"})
    with pytest.raises(StorefrontContractError, match=r"\$\.price"):
        await client.get_product("hp-pavilion-15")


async def test_connection_error_is_unavailable(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ConnectError("connection refused"))
    async with StorefrontClient("http://shop.test", retries=0) as client:
        with pytest.raises(StorefrontUnavailable, match="ConnectError: connection refused") as caught:
            await client.get_cart("user-123")
    assert not isinstance(caught.value, httpx.HTTPError)


async def test_read_timeout_is_unavailable(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"))
    async with StorefrontClient("http://shop.test", retries=0) as client:
        with pytest.raises(StorefrontUnavailable, match="ReadTimeout"):
            await client.add_to_cart("user-123", "hp-pavilion-15", 1)


async def test_health_not_ok_is_unavailable(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"status": "degraded"})
    with pytest.raises(StorefrontUnavailable, match="degraded"):
        await client.health()


async def test_health_5xx_is_unavailable(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503, is_reusable=True)
    with pytest.raises(StorefrontUnavailable):
        await client.health()


def _httpx_errors(cls: type[Exception] = httpx.HTTPError) -> list[type[Exception]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += _httpx_errors(sub)
    return found


def _instance(cls: type[Exception]) -> Exception:
    request = httpx.Request("GET", "http://shop.test/api/categories")
    if cls is httpx.HTTPStatusError:
        return cls("status", request=request, response=httpx.Response(500, request=request))
    return cls("simulated")


def test_the_httpx_error_tree_is_walked() -> None:
    names = {cls.__name__ for cls in _httpx_errors()}
    assert {"ConnectError", "ReadTimeout", "PoolTimeout", "RemoteProtocolError", "DecodingError"} <= names
    assert len(names) >= 20


@pytest.mark.parametrize("error", _httpx_errors(), ids=lambda cls: cls.__name__)
async def test_every_httpx_error_is_translated(httpx_mock: HTTPXMock, error: type[Exception]) -> None:
    httpx_mock.add_exception(_instance(error), is_reusable=True)
    expected = StorefrontUnavailable if issubclass(error, httpx.TransportError) else StorefrontContractError
    async with StorefrontClient("http://shop.test", backoff=0) as client:
        with pytest.raises(StorefrontError) as caught:
            await client.list_categories()
    assert type(caught.value) is expected
    assert not isinstance(caught.value, httpx.HTTPError)
