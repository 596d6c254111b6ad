"""The storefront's HTTP layer: the app factory, thin controllers, auth and the error mapper.

Auth: with an ``api_key``, every route, ``/health`` included, needs
``Authorization: Bearer <key>`` (the contract says every request carries it); the
check is a guard, so a path that matches no route still answers 404.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated, Any

from litestar import Controller, Litestar, Request, Response, delete, get, post, put
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.params import HeaderParameter, PathParameter, QueryParameter, RawBody
from litestar.types import Guard

from shopbot import __version__
from shopbot.shop.db import open_database
from shopbot.shop.errors import ShopError, Unauthorized, encode_error
from shopbot.shop.models import (
    PRODUCT_ID_PATTERN,
    USER_ID_PATTERN,
    Cart,
    CategoryList,
    Health,
    Product,
    ProductPage,
    Recommendations,
)
from shopbot.shop.search import parse_query
from shopbot.shop.service import Reply, Shop

__all__ = ["create_storefront_app"]

log = logging.getLogger(__name__)

JSON = "application/json"
MAX_BODY_BYTES = 64 * 1024

ShopDep = NamedDependency[Shop]
UserId = Annotated[str, PathParameter(pattern=USER_ID_PATTERN)]
ProductId = Annotated[str, PathParameter(pattern=PRODUCT_ID_PATTERN)]
IdempotencyKey = Annotated[
    str | None, HeaderParameter(name="Idempotency-Key", description="1-200 printable ASCII chars")
]

_CODES = {401: "unauthorized", 403: "unauthorized", 404: "not_found", 405: "method_not_allowed"}


def create_storefront_app(db_path: str = ":memory:", api_key: str | None = None) -> Litestar:
    """Build the reference storefront over the SQLite database at ``db_path``.

    The database opens here, not in a lifespan hook, so the app also works under
    transports that skip lifespan events (``httpx.ASGITransport``); shutdown closes it.
    """
    shop = Shop(open_database(db_path))
    return Litestar(
        route_handlers=[health, ProductController, CartController, recommendations],
        dependencies={"shop": Provide(lambda: shop, use_cache=True, sync_to_thread=False)},
        guards=[_bearer_guard(api_key)] if api_key else [],
        exception_handlers={Exception: error_response},
        on_shutdown=[shop.close],
        logging_config=None,
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(title="shopbot reference storefront", version=__version__),
    )


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Map every exception to the contract's ``{"error", "message"}`` body."""
    headers = None
    if isinstance(exc, ShopError):
        status, body = exc.status, exc.body()
        if isinstance(exc, Unauthorized):
            headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, ValidationException):
        status, body = 422, encode_error("invalid_request", _validation_message(exc))
    elif isinstance(exc, HTTPException) and exc.status_code < 500:
        # Malformed JSON and other client errors are 400 to Litestar, 422 to the contract.
        status = 422 if exc.status_code == 400 else exc.status_code
        body = encode_error(_CODES.get(status, "invalid_request"), exc.detail)
        headers = exc.headers
    else:
        log.exception("storefront request failed: %s %s", request.method, request.url.path)
        status, body = 500, encode_error("internal_error", "Internal server error")
    return Response(content=body, status_code=status, media_type=JSON, headers=headers)


_PATTERN_MESSAGES = {
    "user_id": "user_id must be 1-128 characters from [A-Za-z0-9._:@-]",
    "product_id": "product_id must be 1-64 characters from [A-Za-z0-9._-]",
}


def _validation_message(exc: ValidationException) -> str:
    parts = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        key, message = str(item.get("key", "?")), str(item.get("message", ""))
        friendly = "regex" in message and _PATTERN_MESSAGES.get(key)
        parts.append(friendly or f"{key}: {message}")
    return "; ".join(parts) or exc.detail


def _bearer_guard(api_key: str) -> Guard:
    expected = api_key.encode()

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        scheme, _sep, token = connection.headers.get("authorization", "").partition(" ")
        given = token.strip().encode("latin-1", "replace")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given, expected):
            raise Unauthorized("A valid bearer key is required")

    return guard


def _respond(reply: Reply) -> Response[Cart]:
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else None
    # The body is the cart (or error) already encoded, byte-identical on a replay.
    return Response(
        content=reply.body,  # type: ignore[arg-type]
        status_code=reply.status,
        media_type=JSON,
        headers=headers,
    )


@get("/health", operation_id="health")
async def health() -> Health:
    """Liveness."""
    return Health()


class ProductController(Controller):
    """Catalog search, product detail and categories."""

    path = "/api"

    @get("/products", operation_id="searchProducts")
    async def search(
        self,
        shop: ShopDep,
        q: Annotated[str | None, QueryParameter(description="free text")] = None,
        category: Annotated[str | None, QueryParameter()] = None,
        min_price: Annotated[str | None, QueryParameter(description="decimal")] = None,
        max_price: Annotated[str | None, QueryParameter(description="decimal")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> ProductPage:
        """Search products, best match first when ``q`` is given."""
        return shop.search(parse_query(q, category, min_price, max_price, limit, offset))

    @get("/products/{product_id:str}", operation_id="getProduct")
    async def product(self, shop: ShopDep, product_id: ProductId) -> Product:
        """One product."""
        return shop.product(product_id)

    @get("/categories", operation_id="listCategories")
    async def categories(self, shop: ShopDep) -> CategoryList:
        """All categories with product counts."""
        return shop.categories()


class CartController(Controller):
    """A user's cart and its mutations (each honours ``Idempotency-Key``)."""

    path = "/api/carts/{user_id:str}"

    @get(operation_id="getCart")
    async def cart(self, shop: ShopDep, user_id: UserId) -> Cart:
        """The user's cart."""
        return shop.cart(user_id)

    @post("/items", operation_id="addCartItem", status_code=200)
    async def add(
        self, shop: ShopDep, user_id: UserId, body: RawBody, idempotency_key: IdempotencyKey = None
    ) -> Response[Cart]:
        """Add a product to the cart (adds to an existing line)."""
        return _respond(shop.add_item(user_id, body, idempotency_key))

    @put("/items/{product_id:str}", operation_id="setCartItemQuantity")
    async def set_quantity(
        self,
        shop: ShopDep,
        user_id: UserId,
        product_id: ProductId,
        body: RawBody,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Cart]:
        """Set a line's quantity; 0 removes it."""
        return _respond(shop.set_quantity(user_id, product_id, body, idempotency_key))

    @delete("/items/{product_id:str}", operation_id="removeCartItem", status_code=200)
    async def remove(
        self, shop: ShopDep, user_id: UserId, product_id: ProductId, idempotency_key: IdempotencyKey = None
    ) -> Response[Cart]:
        """Remove a line from the cart."""
        return _respond(shop.remove_item(user_id, product_id, idempotency_key))


@get("/api/recommendations", operation_id="getRecommendations")
async def recommendations(
    shop: ShopDep,
    user_id: Annotated[str | None, QueryParameter(pattern=USER_ID_PATTERN)] = None,
    product_id: Annotated[str | None, QueryParameter(pattern=PRODUCT_ID_PATTERN)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=20)] = 5,
) -> Recommendations:
    """Recommendations: complementary, cart, personal or popular."""
    return shop.recommendations(user_id, product_id, limit)
