"""The storefront's operations: one method per route, each one transaction.

Stock: adding to a cart checks that the line's total quantity fits the product's
stock, and so does changing a quantity; neither decrements stock, because a cart is
not an order (the contract has no checkout). Two concurrent adds to one line both
count: the read-check-write runs inside one ``BEGIN IMMEDIATE`` transaction.

Idempotency: a mutation carrying an ``Idempotency-Key`` stores its response (status
and body, 404 and 409 included) in the same transaction that applies it, under the key
and its scope (method and path, which holds the user id). A repeat within 24 hours gets
that response back, byte for byte, without applying anything, whatever its body says.
A body that does not parse is answered 422 and not stored.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from shopbot.shop import repository
from shopbot.shop.db import Database
from shopbot.shop.errors import InvalidRequest, NotFound, OutOfStock, ShopError
from shopbot.shop.models import (
    MAX_LINE_QUANTITY,
    AddItemRequest,
    Cart,
    CategoryList,
    Product,
    ProductPage,
    Recommendations,
    SetQuantityRequest,
)
from shopbot.shop.recommend import Context, recommend
from shopbot.shop.search import SearchQuery, search_products

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
MAX_IDEMPOTENCY_KEY = 200
T = TypeVar("T")


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's Idempotency-Key and the route-and-user scope it applies to."""

    scope: str
    key: str


@dataclass(frozen=True)
class Reply:
    """An encoded JSON response of a mutation, possibly replayed."""

    status: int
    body: bytes
    replayed: bool = False


def idempotency_key(header: str | None, scope: str) -> IdempotencyKey | None:
    """Validate an ``Idempotency-Key`` header value (1-200 printable ASCII chars)."""
    if header is None:
        return None
    if not 1 <= len(header) <= MAX_IDEMPOTENCY_KEY or not all(" " <= c <= "~" for c in header):
        raise InvalidRequest("Idempotency-Key must be 1-200 printable ASCII characters")
    return IdempotencyKey(scope=scope, key=header)


class Shop:
    """The reference storefront over one database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def search(self, query: SearchQuery) -> ProductPage:
        """One page of products matching ``query``."""
        with self._db.read() as conn:
            rows, total = search_products(conn, query)
        return ProductPage(items=[repository.row_to_product(r) for r in rows], total=total)

    def product(self, product_id: str) -> Product:
        """The product, or NotFound."""
        with self._db.read() as conn:
            return _require_product(conn, product_id)

    def categories(self) -> CategoryList:
        """All categories with their product counts."""
        with self._db.read() as conn:
            return CategoryList(items=repository.list_categories(conn))

    def cart(self, user_id: str) -> Cart:
        """The user's cart (empty for an unknown user)."""
        with self._db.read() as conn:
            return repository.read_cart(conn, user_id)

    def add_item(self, user_id: str, body: bytes, idempotency: str | None = None) -> Reply:
        """Add a product to the user's cart; ``body`` is the JSON AddItemRequest."""
        key = idempotency_key(idempotency, f"POST /api/carts/{user_id}/items")

        def change(conn: sqlite3.Connection, request: AddItemRequest, now: float) -> None:
            product = _require_product(conn, request.product_id)
            wanted = (repository.line_quantity(conn, user_id, product.id) or 0) + request.quantity
            _check_stock(product, wanted)
            repository.put_line(conn, user_id, product.id, wanted, now)
            repository.record_event(conn, user_id, product.id, "cart_add", now)

        return self._mutate(user_id, key, lambda: decode_body(body, AddItemRequest), change)

    def set_quantity(
        self, user_id: str, product_id: str, body: bytes, idempotency: str | None = None
    ) -> Reply:
        """Set the quantity of a line already in the cart (0 removes it); ``body`` is JSON."""
        key = idempotency_key(idempotency, f"PUT /api/carts/{user_id}/items/{product_id}")

        def change(conn: sqlite3.Connection, request: SetQuantityRequest, now: float) -> None:
            _require_line(conn, user_id, product_id)
            if request.quantity == 0:
                repository.delete_line(conn, user_id, product_id, now)
                return
            _check_stock(_require_product(conn, product_id), request.quantity)
            repository.put_line(conn, user_id, product_id, request.quantity, now)

        return self._mutate(user_id, key, lambda: decode_body(body, SetQuantityRequest), change)

    def remove_item(self, user_id: str, product_id: str, idempotency: str | None = None) -> Reply:
        """Remove a line from the cart."""
        key = idempotency_key(idempotency, f"DELETE /api/carts/{user_id}/items/{product_id}")

        def change(conn: sqlite3.Connection, _: None, now: float) -> None:
            _require_line(conn, user_id, product_id)
            repository.delete_line(conn, user_id, product_id, now)

        return self._mutate(user_id, key, lambda: None, change)

    def recommendations(
        self, user_id: str | None, product_id: str | None, limit: int
    ) -> Recommendations:
        """Recommendations by the contract's strategy order."""
        with self._db.read() as conn:
            product = None if product_id is None else _require_product(conn, product_id)
            cart_ids = [] if user_id is None else [
                line.product_id for line in repository.read_cart(conn, user_id).items
            ]
            history_ids = [] if user_id is None or cart_ids else repository.recent_history(conn, user_id)
            context = Context(
                product=product,
                cart=repository.get_products(conn, cart_ids),
                history=repository.get_products(conn, history_ids),
                popularity=repository.popularity(conn),
            )
            candidates = repository.in_stock_products(conn)
        return recommend(candidates, context, limit)

    def _mutate(
        self,
        user_id: str,
        key: IdempotencyKey | None,
        parse: Callable[[], T],
        change: Callable[[sqlite3.Connection, T, float], None],
    ) -> Reply:
        """Apply ``change`` and answer with the cart, once per idempotency key.

        A replay wins over everything, even a body that no longer parses; a body that
        does not parse is answered 422 and not recorded, so the client can fix it.
        """
        with self._db.write() as conn:
            if key is not None and (stored := repository.find_reply(conn, key.scope, key.key)):
                return Reply(status=stored[0], body=stored[1], replayed=True)
            request = parse()
            now = time.time()
            conn.execute("SAVEPOINT change")
            try:
                change(conn, request, now)
                reply = Reply(200, msgspec.json.encode(repository.read_cart(conn, user_id)))
            except ShopError as exc:
                conn.execute("ROLLBACK TO change")
                if key is None:
                    raise
                reply = Reply(exc.status, exc.body())
            conn.execute("RELEASE change")
            if key is not None:
                repository.save_reply(
                    conn, key.scope, key.key, reply.status, reply.body, now, IDEMPOTENCY_TTL_SECONDS
                )
            return reply


def decode_body(raw: bytes, body_type: type[T]) -> T:
    """Decode a JSON request body strictly: ``"2"``, ``2.0`` and ``true`` are no ints."""
    try:
        return msgspec.json.decode(raw, type=body_type, strict=True)
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"Invalid request body: {exc}") from None


def _require_product(conn: sqlite3.Connection, product_id: str) -> Product:
    product = repository.get_product(conn, product_id)
    if product is None:
        raise NotFound(f"No product with id {product_id!r}")
    return product


def _require_line(conn: sqlite3.Connection, user_id: str, product_id: str) -> int:
    quantity = repository.line_quantity(conn, user_id, product_id)
    if quantity is None:
        raise NotFound(f"Product {product_id!r} is not in the cart")
    return quantity


def _check_stock(product: Product, wanted: int) -> None:
    if wanted > product.stock:
        if product.stock == 0:
            raise OutOfStock(f"{product.name} is out of stock")
        raise OutOfStock(f"Only {product.stock} of {product.name} in stock; requested {wanted}")
    if wanted > MAX_LINE_QUANTITY:
        raise InvalidRequest(f"A cart line holds at most {MAX_LINE_QUANTITY} units")
