"""Bounded retries: GETs on transient failures and 5xx; mutations only with an Idempotency-Key."""

from __future__ import annotations

import time

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpx import HTTPXMock

from shopbot.errors import NotFound, StorefrontContractError, StorefrontUnavailable
from shopbot.storefront import StorefrontClient
from shopbot.storefront.client import _delay

from .payloads import CART


async def test_get_that_fails_twice_then_succeeds(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_response(json={"items": [{"name": "laptops", "product_count": 14}]})
    categories = await client.list_categories()
    assert categories.items[0].name == "laptops"
    assert len(httpx_mock.get_requests()) == 3


async def test_get_retries_connection_errors_and_timeouts(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    httpx_mock.add_exception(httpx.ReadTimeout("slow"))
    httpx_mock.add_response(json=CART)
    assert (await client.get_cart("user-123")).item_count == 2
    assert len(httpx_mock.get_requests()) == 3


@pytest.mark.parametrize("retries", [0, 2, 4])
async def test_get_that_keeps_failing_gives_up_after_retries_plus_one(httpx_mock: HTTPXMock, retries: int) -> None:
    httpx_mock.add_response(status_code=503, is_reusable=True)
    async with StorefrontClient("http://shop.test", retries=retries, backoff=0) as client:
        with pytest.raises(StorefrontUnavailable, match="503"):
            await client.list_categories()
    assert len(httpx_mock.get_requests()) == retries + 1


async def test_last_failure_is_the_one_raised(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_response(status_code=502)
    httpx_mock.add_exception(httpx.ConnectTimeout("no answer"))
    with pytest.raises(StorefrontUnavailable, match="ConnectTimeout: no answer"):
        await client.list_categories()


@pytest.mark.parametrize("failure", ["503", "connect"])
async def test_mutation_without_a_key_is_not_retried(
    client: StorefrontClient, httpx_mock: HTTPXMock, failure: str
) -> None:
    if failure == "503":
        httpx_mock.add_response(status_code=503, is_reusable=True)
    else:
        httpx_mock.add_exception(httpx.ConnectError("refused"), is_reusable=True)
    with pytest.raises(StorefrontUnavailable):
        await client.add_to_cart("user-123", "hp-pavilion-15", 1)
    assert len(httpx_mock.get_requests()) == 1


async def test_mutation_with_a_key_is_retried_with_the_same_key(
    client: StorefrontClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_exception(httpx.ReadTimeout("slow"))
    httpx_mock.add_response(json=CART)
    cart = await client.add_to_cart("user-123", "hp-pavilion-15", 2, idempotency_key="turn-7:call-1")
    assert cart.item_count == 2
    requests = httpx_mock.get_requests()
    assert len(requests) == 3
    assert [r.headers["Idempotency-Key"] for r in requests] == ["turn-7:call-1"] * 3
    assert {r.content for r in requests} == {requests[0].content}


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_keyed_put_and_delete_are_retried_too(
    client: StorefrontClient, httpx_mock: HTTPXMock, method: str
) -> None:
    httpx_mock.add_response(status_code=500, is_reusable=True)
    with pytest.raises(StorefrontUnavailable):
        if method == "PUT":
            await client.update_cart_item("user-123", "hp-pavilion-15", 3, idempotency_key="k")
        else:
            await client.remove_from_cart("user-123", "hp-pavilion-15", idempotency_key="k")
    requests = httpx_mock.get_requests()
    assert [(r.method, r.headers["Idempotency-Key"]) for r in requests] == [(method, "k")] * 3


async def test_rejections_are_not_retried(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=404, json={"error": "not_found", "message": "gone"}, is_reusable=True)
    with pytest.raises(NotFound):
        await client.get_product("gone")
    assert len(httpx_mock.get_requests()) == 1


async def test_contract_violations_are_not_retried(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(text="not json", is_reusable=True)
    with pytest.raises(StorefrontContractError):
        await client.list_categories()
    assert len(httpx_mock.get_requests()) == 1


async def test_a_bad_scheme_is_not_retried(client: StorefrontClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.UnsupportedProtocol("no such scheme"), is_reusable=True)
    with pytest.raises(StorefrontUnavailable):
        await client.list_categories()
    assert len(httpx_mock.get_requests()) == 1


async def test_retries_wait_with_exponential_backoff(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503, is_reusable=True)
    async with StorefrontClient("http://shop.test", retries=2, backoff=0.02) as client:
        started = time.monotonic()
        with pytest.raises(StorefrontUnavailable):
            await client.list_categories()
    # At least the jitter's lower bound of 0.02 + 0.04 seconds.
    assert time.monotonic() - started >= 0.5 * (0.02 + 0.04)


@given(st.floats(min_value=0, max_value=10), st.integers(min_value=0, max_value=10))
def test_delay_is_exponential_with_bounded_jitter(backoff: float, attempt: int) -> None:
    base = backoff * 2**attempt
    assert 0.5 * base <= _delay(backoff, attempt) <= 1.5 * base
