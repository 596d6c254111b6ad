"""SQL for products, carts, history and idempotency records.

Every function takes the connection of a transaction opened by ``db.Database``; the
business rules that decide what to write live in ``service.py``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import msgspec

from shopbot.shop.models import (
    CURRENCY,
    Cart,
    CartLine,
    Category,
    Product,
    cents_to_money,
)

PRODUCT_COLUMNS = (
    "p.id, p.name, p.description, p.category, p.price_cents, p.currency, p.stock,"
    " p.rating, p.attributes"
)

_attributes = msgspec.json.Decoder(dict[str, str])


def row_to_product(row: sqlite3.Row) -> Product:
    """Build the wire Product from a row selected with ``PRODUCT_COLUMNS``."""
    return Product(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        category=row["category"],
        price=cents_to_money(row["price_cents"]),
        currency=row["currency"],
        stock=row["stock"],
        rating=row["rating"],
        attributes=_attributes.decode(row["attributes"]),
    )


def get_product(conn: sqlite3.Connection, product_id: str) -> Product | None:
    """The product with ``product_id``, or None."""
    row = conn.execute(
        f"SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.id = ?", (product_id,)
    ).fetchone()
    return None if row is None else row_to_product(row)


def get_products(conn: sqlite3.Connection, product_ids: Iterable[str]) -> list[Product]:
    """The products with these ids, in the given order, skipping unknown ids."""
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        return []
    rows = conn.execute(
        f"SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.id IN ({','.join('?' * len(ids))})",
        ids,
    ).fetchall()
    found = {row["id"]: row_to_product(row) for row in rows}
    return [found[i] for i in ids if i in found]


def in_stock_products(conn: sqlite3.Connection) -> list[Product]:
    """Every product with stock left."""
    rows = conn.execute(
        f"SELECT {PRODUCT_COLUMNS} FROM products p WHERE p.stock > 0 ORDER BY p.seq"
    ).fetchall()
    return [row_to_product(row) for row in rows]


def list_categories(conn: sqlite3.Connection) -> list[Category]:
    """Every category with its product count, by name."""
    rows = conn.execute(
        "SELECT category, COUNT(*) FROM products GROUP BY category ORDER BY category"
    ).fetchall()
    return [Category(name=name, product_count=count) for name, count in rows]


def read_cart(conn: sqlite3.Connection, user_id: str) -> Cart:
    """The user's cart priced at current prices; an unknown user has an empty cart."""
    rows = conn.execute(
        "SELECT l.product_id, p.name, p.price_cents, l.quantity FROM cart_lines l"
        " JOIN products p ON p.id = l.product_id WHERE l.user_id = ? ORDER BY l.position",
        (user_id,),
    ).fetchall()
    lines = [
        CartLine(
            product_id=product_id,
            name=name,
            unit_price=cents_to_money(cents),
            quantity=quantity,
            line_total=cents_to_money(cents * quantity),
        )
        for product_id, name, cents, quantity in rows
    ]
    return Cart(
        user_id=user_id,
        currency=CURRENCY,
        item_count=sum(quantity for *_, quantity in rows),
        subtotal=cents_to_money(sum(cents * quantity for *_, cents, quantity in rows)),
        items=lines,
    )


def line_quantity(conn: sqlite3.Connection, user_id: str, product_id: str) -> int | None:
    """The quantity of ``product_id`` in the cart, or None when it has no line."""
    row = conn.execute(
        "SELECT quantity FROM cart_lines WHERE user_id = ? AND product_id = ?",
        (user_id, product_id),
    ).fetchone()
    return None if row is None else row[0]


def put_line(
    conn: sqlite3.Connection, user_id: str, product_id: str, quantity: int, now: float
) -> None:
    """Set a line's quantity, appending the line when the cart lacks it."""
    conn.execute(
        "INSERT INTO carts (user_id, updated_at) VALUES (?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET updated_at = excluded.updated_at",
        (user_id, now),
    )
    conn.execute(
        "INSERT INTO cart_lines (user_id, product_id, quantity, position) VALUES (?, ?, ?,"
        " (SELECT COALESCE(MAX(position), 0) + 1 FROM cart_lines WHERE user_id = ?))"
        " ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = excluded.quantity",
        (user_id, product_id, quantity, user_id),
    )


def delete_line(conn: sqlite3.Connection, user_id: str, product_id: str, now: float) -> None:
    """Remove a line from the cart."""
    conn.execute(
        "DELETE FROM cart_lines WHERE user_id = ? AND product_id = ?", (user_id, product_id)
    )
    conn.execute("UPDATE carts SET updated_at = ? WHERE user_id = ?", (now, user_id))


def record_event(
    conn: sqlite3.Connection, user_id: str, product_id: str, event: str, now: float
) -> None:
    """Append to the user's history (used by personal recommendations)."""
    conn.execute(
        "INSERT INTO history (user_id, product_id, event, at) VALUES (?, ?, ?, ?)",
        (user_id, product_id, event, now),
    )


def recent_history(conn: sqlite3.Connection, user_id: str, limit: int = 20) -> list[str]:
    """The user's distinct history product ids, most recent first."""
    rows = conn.execute(
        "SELECT product_id FROM history WHERE user_id = ?"
        " GROUP BY product_id ORDER BY MAX(seq) DESC LIMIT ?",
        (user_id, limit),
    ).fetchall()
    return [row[0] for row in rows]


def popularity(conn: sqlite3.Connection) -> dict[str, int]:
    """How many distinct users added each product to a cart."""
    rows = conn.execute(
        "SELECT product_id, COUNT(DISTINCT user_id) FROM history GROUP BY product_id"
    ).fetchall()
    return {product_id: count for product_id, count in rows}


def find_reply(conn: sqlite3.Connection, scope: str, key: str) -> tuple[int, bytes] | None:
    """The stored (status, body) of an earlier request with this idempotency key."""
    row = conn.execute(
        "SELECT status, body FROM idempotency WHERE scope = ? AND key = ?", (scope, key)
    ).fetchone()
    return None if row is None else (row[0], bytes(row[1]))


def save_reply(
    conn: sqlite3.Connection, scope: str, key: str, status: int, body: bytes, now: float,
    keep_seconds: float,
) -> None:
    """Store a response for replay, dropping records older than ``keep_seconds``."""
    conn.execute("DELETE FROM idempotency WHERE created_at < ?", (now - keep_seconds,))
    conn.execute(
        "INSERT INTO idempotency (scope, key, status, body, created_at) VALUES (?, ?, ?, ?, ?)",
        (scope, key, status, body, now),
    )
