"""The storefront client: the contract's routes as typed async methods over httpx.

This is the one place that meets httpx. Every failure leaves it as a
`StorefrontError`:

* transport failures (connect, read, timeout, protocol) and 5xx answers
  → `StorefrontUnavailable`;
* a documented error body → the `StorefrontRejected` subclass for its code;
  a 401 without one → `Unauthorized`; a 408 or 429 → `StorefrontUnavailable`;
* anything else the contract does not allow (an undecodable 2xx body, another
  4xx without a known code, a redirect) → `StorefrontContractError`.

GETs are retried on transient failures and 5xx; a mutation only when it
carries an `Idempotency-Key`, because then the server applies it once.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from shopbot.errors import (
    ConfigurationError,
    InvalidRequest,
    NotFound,
    OutOfStock,
    StorefrontContractError,
    StorefrontRejected,
    StorefrontUnavailable,
    Unauthorized,
)
from shopbot.observability.observer import NO_OBSERVER, Observer
from shopbot.settings import Settings
from shopbot.storefront.breaker import CircuitBreaker
from shopbot.storefront.models import (
    Cart,
    CategoryList,
    ErrorBody,
    Product,
    ProductPage,
    Recommendations,
)

__all__ = ["StorefrontClient"]

_T = TypeVar("_T")

_USER_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
_PRODUCT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]{1,200}")
_REJECTIONS: dict[str, type[StorefrontRejected]] = {
    cls.code: cls for cls in (NotFound, OutOfStock, InvalidRequest, Unauthorized)
}
# Worth another attempt: the request may not have reached the server, or it
# failed there in a way that can pass. A bad scheme or proxy setup cannot.
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# The contract's routes with an id in the path, as the templates metrics are labelled with.
_ROUTE_TEMPLATES = (
    (re.compile(r"/api/carts/[^/]+/items/[^/]+"), "/api/carts/{user_id}/items/{product_id}"),
    (re.compile(r"/api/carts/[^/]+/items"), "/api/carts/{user_id}/items"),
    (re.compile(r"/api/carts/[^/]+"), "/api/carts/{user_id}"),
    (re.compile(r"/api/products/[^/]+"), "/api/products/{product_id}"),
)


class _Health(msgspec.Struct, frozen=True):
    status: str


class StorefrontClient:
    """An async client for the storefront API contract.

    Pass `http=` to supply the `httpx.AsyncClient` (tests pass one on a mock or
    ASGI transport); otherwise the client creates a pooled one and owns it.
    `base_url` may carry a path prefix. Ids are checked against the contract's
    patterns before anything is sent (`InvalidRequest` with status 422).
    `observer` is told of every HTTP attempt (retries included), by route template.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        max_connections: int = 100,
        retries: int = 2,
        backoff: float = 0.05,
        breaker: CircuitBreaker | None = None,
        observer: Observer = NO_OBSERVER,
    ) -> None:
        try:
            url = httpx.URL(base_url)
        except httpx.InvalidURL as exc:
            raise ConfigurationError(f"storefront base URL {base_url!r}: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigurationError(f"storefront base URL {base_url!r} is not an http(s) URL")
        if api_key is not None and not _HEADER_VALUE.fullmatch(api_key):
            raise ConfigurationError("storefront API key must be 1-200 printable ASCII characters")
        if retries < 0 or backoff < 0:
            raise ConfigurationError("storefront retries and backoff must not be negative")
        self._base_url = base_url.rstrip("/")
        self._headers = {"Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._retries = retries
        self._backoff = backoff
        self.breaker = breaker or CircuitBreaker()
        self.observer = observer
        self._owns_http = http is None
        # Keep every pooled connection alive: the backend is one host, and
        # reconnecting under load costs more than idle sockets do.
        self._http = http or httpx.AsyncClient(
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            timeout=httpx.Timeout(timeout),
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, http: httpx.AsyncClient | None = None, observer: Observer = NO_OBSERVER
    ) -> StorefrontClient:
        """Build a client from the `backend_*` settings."""
        if settings.backend_api_url is None:
            raise ConfigurationError("BACKEND_API_URL is not set: shopbot needs the shop backend's URL")
        return cls(
            settings.backend_api_url,
            api_key=settings.backend_api_key,
            http=http,
            timeout=settings.backend_timeout,
            max_connections=settings.backend_max_connections,
            retries=settings.backend_retries,
            breaker=CircuitBreaker(
                failures=settings.backend_breaker_failures, reset_after=settings.backend_breaker_reset_seconds
            ),
            observer=observer,
        )

    async def aclose(self) -> None:
        """Close the HTTP client, if this client created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> StorefrontClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def health(self) -> None:
        """Return if the storefront reports `{"status": "ok"}`; raise `StorefrontUnavailable` if not."""
        answer = await self._request("GET", "/health", decode_as=_Health)
        if answer.status != "ok":
            raise StorefrontUnavailable(f"GET /health: storefront reports status {answer.status!r}")

    async def search_products(
        self,
        query: str = "",
        *,
        category: str | None = None,
        min_price: Decimal | None = None,
        max_price: Decimal | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> ProductPage:
        """Search the catalog; best match first when `query` is given."""
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        if query:
            params["q"] = query
        if category is not None:
            params["category"] = category
        # Plain decimal strings: a float or an exponent would change the price.
        if min_price is not None:
            params["min_price"] = _money(min_price, "min_price")
        if max_price is not None:
            params["max_price"] = _money(max_price, "max_price")
        return await self._request("GET", "/api/products", params=params, decode_as=ProductPage)

    async def get_product(self, product_id: str) -> Product:
        """Fetch one product; `NotFound` if there is none with that id."""
        path = f"/api/products/{_segment(product_id, _PRODUCT_ID, 'product_id')}"
        return await self._request("GET", path, decode_as=Product)

    async def list_categories(self) -> CategoryList:
        """List the catalog's categories with their product counts."""
        return await self._request("GET", "/api/categories", decode_as=CategoryList)

    async def get_cart(self, user_id: str) -> Cart:
        """Fetch a shopper's cart (empty for an unknown user)."""
        path = f"/api/carts/{_segment(user_id, _USER_ID, 'user_id')}"
        return await self._request("GET", path, decode_as=Cart)

    async def add_to_cart(
        self, user_id: str, product_id: str, quantity: int, *, idempotency_key: str | None = None
    ) -> Cart:
        """Add `quantity` of a product to the cart (on top of an existing line)."""
        _check(product_id, _PRODUCT_ID, "product_id")
        path = f"/api/carts/{_segment(user_id, _USER_ID, 'user_id')}/items"
        body = {"product_id": product_id, "quantity": quantity}
        return await self._request("POST", path, json=body, idempotency_key=idempotency_key, decode_as=Cart)

    async def update_cart_item(
        self, user_id: str, product_id: str, quantity: int, *, idempotency_key: str | None = None
    ) -> Cart:
        """Set a cart line's quantity; 0 removes the line."""
        path = _item_path(user_id, product_id)
        body = {"quantity": quantity}
        return await self._request("PUT", path, json=body, idempotency_key=idempotency_key, decode_as=Cart)

    async def remove_from_cart(self, user_id: str, product_id: str, *, idempotency_key: str | None = None) -> Cart:
        """Remove a product's line from the cart."""
        path = _item_path(user_id, product_id)
        return await self._request("DELETE", path, idempotency_key=idempotency_key, decode_as=Cart)

    async def recommendations(
        self, *, user_id: str | None = None, product_id: str | None = None, limit: int = 5
    ) -> Recommendations:
        """Recommend products for a product, a shopper's cart or history, or overall."""
        params: dict[str, str | int] = {"limit": limit}
        if user_id is not None:
            params["user_id"] = _check(user_id, _USER_ID, "user_id")
        if product_id is not None:
            params["product_id"] = _check(product_id, _PRODUCT_ID, "product_id")
        return await self._request("GET", "/api/recommendations", params=params, decode_as=Recommendations)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        json: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        decode_as: type[_T],
    ) -> _T:
        """Send with bounded retries, then map the answer to a struct or a `StorefrontError`.

        The circuit breaker sees the outcome: an outage counts against the backend,
        any other answer (a 4xx included) shows it is up.
        """
        self.breaker.before_call()
        try:
            result = await self._send(method, path, params, json, idempotency_key, decode_as)
        except StorefrontUnavailable:
            self.breaker.failed()
            raise
        except Exception:
            self.breaker.succeeded()
            raise
        except BaseException:  # cancelled: it says nothing about the backend
            self.breaker.abandoned()
            raise
        self.breaker.succeeded()
        return result

    async def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str | int] | None,
        json: dict[str, Any] | None,
        idempotency_key: str | None,
        decode_as: type[_T],
    ) -> _T:
        route = f"{method} {path}"
        headers = dict(self._headers)
        if idempotency_key is not None:
            _check(idempotency_key, _HEADER_VALUE, "Idempotency-Key")
            headers["Idempotency-Key"] = idempotency_key
        retryable = method == "GET" or idempotency_key is not None
        attempts = 1 + (self._retries if retryable else 0)
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(_delay(self._backoff, attempt - 1))
            try:
                response = await self._attempt(method, path, params=params, json=json, headers=headers)
            except _TRANSIENT as exc:
                failure = StorefrontUnavailable(f"{route}: {type(exc).__name__}: {exc}")
                failure.__cause__ = exc
                continue
            except httpx.TransportError as exc:
                raise StorefrontUnavailable(f"{route}: {type(exc).__name__}: {exc}") from exc
            except httpx.HTTPError as exc:  # DecodingError, TooManyRedirects: a broken answer
                raise StorefrontContractError(f"{route}: {type(exc).__name__}: {exc}") from exc
            if response.status_code < 500:
                return _decode(route, response, decode_as)
            failure = StorefrontUnavailable(f"{route}: storefront answered {response.status_code}")
        raise failure

    async def _attempt(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One HTTP request, reported to the observer by its route template."""
        route, started = _route(method, path), time.perf_counter()
        try:
            response = await self._http.request(method, self._base_url + path, **kwargs)
        except Exception:
            self.observer.storefront_request_finished(route, None, time.perf_counter() - started)
            raise
        self.observer.storefront_request_finished(route, response.status_code, time.perf_counter() - started)
        return response


def _route(method: str, path: str) -> str:
    """`GET /api/carts/{user_id}` for `GET /api/carts/guest:42`: the route without its ids."""
    for pattern, template in _ROUTE_TEMPLATES:
        if pattern.fullmatch(path):
            return f"{method} {template}"
    return f"{method} {path}"


def _delay(backoff: float, attempt: int) -> float:
    """Seconds to wait before retry number `attempt + 1`: exponential, with jitter."""
    return backoff * 2**attempt * random.uniform(0.5, 1.5)


def _money(value: Decimal, what: str) -> str:
    """A price as a plain decimal string; an absurd one is refused before it is written out digit by digit."""
    if not value.is_finite() or not -12 <= value.as_tuple().exponent <= 12 or value.adjusted() > 12:
        raise InvalidRequest(f"{what} {value!r} is not a plausible price", status=422)
    return format(value, "f")


def _check(value: str, pattern: re.Pattern[str], what: str) -> str:
    """Return `value` if it matches the contract's pattern; raise `InvalidRequest` before sending if not."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidRequest(f"{what} {value!r} does not match the contract's pattern", status=422)
    return value


def _segment(value: str, pattern: re.Pattern[str], what: str) -> str:
    """Check an id and quote it as one path segment that cannot change the route."""
    quoted = quote(_check(value, pattern, what), safe="")
    # "." and ".." are valid ids, but as literal segments URL normalisation would drop them.
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


def _item_path(user_id: str, product_id: str) -> str:
    user = _segment(user_id, _USER_ID, "user_id")
    return f"/api/carts/{user}/items/{_segment(product_id, _PRODUCT_ID, 'product_id')}"


def _decode(route: str, response: httpx.Response, decode_as: type[_T]) -> _T:
    """Decode a 2xx body into `decode_as`, or raise the error a non-2xx answer means."""
    status = response.status_code
    if 200 <= status < 300:
        try:
            return msgspec.json.decode(response.content, type=decode_as)
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError too
            raise StorefrontContractError(f"{route}: {status} body breaks the contract: {exc}") from None
    if status in (408, 429):
        raise StorefrontUnavailable(f"{route}: storefront answered {status}")
    try:
        body = msgspec.json.decode(response.content, type=ErrorBody)
    except msgspec.DecodeError:
        body = None
    if body is not None and body.error in _REJECTIONS:
        raise _REJECTIONS[body.error](body.message or body.error, status=status)
    if status == 401:
        raise Unauthorized("storefront refused the API key", status=status)
    detail = f"error code {body.error!r}" if body is not None else "no contract error body"
    raise StorefrontContractError(f"{route}: storefront answered {status} with {detail}")
