"""Construction, ownership of the HTTP client, id checks, and the public surface."""

from __future__ import annotations

from urllib.parse import unquote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpx import HTTPXMock

import shopbot.storefront
from shopbot.errors import ConfigurationError, InvalidRequest, StorefrontUnavailable
from shopbot.settings import Settings
from shopbot.storefront import StorefrontClient
from shopbot.storefront.client import _PRODUCT_ID, _USER_ID, _check, _segment

from .payloads import CART

PRODUCT_IDS = st.from_regex(_PRODUCT_ID, fullmatch=True)
USER_IDS = st.from_regex(_USER_ID, fullmatch=True)


def test_public_surface() -> None:
    assert shopbot.storefront.__all__ == sorted(shopbot.storefront.__all__)
    for name in shopbot.storefront.__all__:
        assert getattr(shopbot.storefront, name).__doc__
    assert "StorefrontClient" in shopbot.storefront.__all__


@pytest.mark.parametrize("url", ["not a url", "ftp://shop.test", "http://", "http://[::1"])
def test_bad_base_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        StorefrontClient(url)


@pytest.mark.parametrize("key", ["", "line\nbreak", "clé", "x" * 201])
def test_bad_api_key_is_a_configuration_error(key: str) -> None:
    with pytest.raises(ConfigurationError, match="API key"):
        StorefrontClient("http://shop.test", api_key=key)


async def test_injected_http_client_is_used_and_left_open() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=CART)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with StorefrontClient("http://shop.test/v1", http=http) as client:
        await client.get_cart("user-123")
    assert [r.url for r in seen] == [httpx.URL("http://shop.test/v1/api/carts/user-123")]
    assert not http.is_closed
    await http.aclose()


async def test_owned_http_client_is_pooled_and_closed() -> None:
    client = StorefrontClient("http://shop.test", timeout=3.5, max_connections=7)
    http = client._http
    assert http.timeout == httpx.Timeout(3.5)
    await client.aclose()
    assert http.is_closed


async def test_from_settings(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503, is_reusable=True)
    settings = Settings(backend_api_url="http://backend.test:3001/shop", backend_api_key="k", backend_retries=1)
    async with StorefrontClient.from_settings(settings) as client:
        with pytest.raises(StorefrontUnavailable):
            await client.health()
    requests = httpx_mock.get_requests()
    assert [str(r.url) for r in requests] == ["http://backend.test:3001/shop/health"] * 2
    assert requests[0].headers["Authorization"] == "Bearer k"


BAD_PRODUCT_IDS = ["../admin", "..%2Fadmin", "", "a/b", "a b", "a?b=1", "a#b", "x" * 65, "é", "user@x"]
BAD_USER_IDS = ["../admin", "", "a/b", "a b", "x" * 129, "ü", "a%2F"]


@pytest.mark.parametrize("product_id", BAD_PRODUCT_IDS)
async def test_bad_product_ids_are_refused_before_sending(client: StorefrontClient, product_id: str) -> None:
    # No response is registered: a request that went out would fail differently.
    for call in (
        client.get_product(product_id),
        client.add_to_cart("user-123", product_id, 1),
        client.update_cart_item("user-123", product_id, 1),
        client.remove_from_cart("user-123", product_id),
        client.recommendations(product_id=product_id),
    ):
        with pytest.raises(InvalidRequest, match="product_id") as caught:
            await call
        assert caught.value.status == 422


@pytest.mark.parametrize("user_id", BAD_USER_IDS)
async def test_bad_user_ids_are_refused_before_sending(client: StorefrontClient, user_id: str) -> None:
    for call in (
        client.get_cart(user_id),
        client.add_to_cart(user_id, "p1", 1),
        client.update_cart_item(user_id, "p1", 1),
        client.remove_from_cart(user_id, "p1"),
        client.recommendations(user_id=user_id),
    ):
        with pytest.raises(InvalidRequest, match="user_id"):
            await call


@pytest.mark.parametrize("key", ["", "x" * 201, "née", "a\nb"])
async def test_bad_idempotency_keys_are_refused_before_sending(client: StorefrontClient, key: str) -> None:
    with pytest.raises(InvalidRequest, match="Idempotency-Key"):
        await client.add_to_cart("user-123", "p1", 1, idempotency_key=key)


@pytest.mark.parametrize(("product_id", "raw"), [(".", b"%2E"), ("..", b"%2E%2E"), ("...", b"...")])
async def test_dot_ids_keep_their_route(
    client: StorefrontClient, httpx_mock: HTTPXMock, product_id: str, raw: bytes
) -> None:
    httpx_mock.add_response(json=CART)
    await client.remove_from_cart("user-123", product_id)
    request = httpx_mock.get_request()
    assert request is not None
    assert request.url.raw_path == b"/prefix/api/carts/user-123/items/" + raw


@given(st.one_of(PRODUCT_IDS, USER_IDS))
def test_a_valid_id_is_exactly_one_path_segment(value: str) -> None:
    pattern = _USER_ID if _USER_ID.fullmatch(value) and not _PRODUCT_ID.fullmatch(value) else _PRODUCT_ID
    url = httpx.URL("http://shop.test/prefix/api/carts/" + _segment(value, pattern, "id"))
    prefix, _, last = url.raw_path.decode().rpartition("/")
    assert prefix == "/prefix/api/carts"
    assert unquote(last) == value


@given(st.text(max_size=80))
def test_check_accepts_exactly_the_contract_pattern(value: str) -> None:
    if _PRODUCT_ID.fullmatch(value):
        assert _check(value, _PRODUCT_ID, "product_id") == value
    else:
        with pytest.raises(InvalidRequest):
            _check(value, _PRODUCT_ID, "product_id")
