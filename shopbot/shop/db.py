"""SQLite storage: the schema, one connection per app, transactions, the catalog seed.

Why one connection, used inline from the event loop: every statement here touches a
few hundred rows at most and takes well under a millisecond, so handing it to a
thread would cost more than running it. A transaction never awaits, so on one event
loop no two transactions interleave; the ``threading.Lock`` keeps that true when the
app is driven from several threads (a server thread plus a test or a benchmark).
Writers use ``BEGIN IMMEDIATE``, so several processes sharing one database file still
serialise their read-check-write sequences (the stock check runs inside it), and
``busy_timeout`` makes them wait for each other instead of failing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

import msgspec

from shopbot.shop.models import CURRENCY, Catalog, money_to_cents

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    currency TEXT NOT NULL,
    stock INTEGER NOT NULL CHECK (stock >= 0),
    rating REAL,
    attributes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS products_by_category ON products (category, name);
CREATE VIRTUAL TABLE IF NOT EXISTS products_fts USING fts5 (
    name, description, category, attrs,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS carts (
    user_id TEXT PRIMARY KEY,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cart_lines (
    user_id TEXT NOT NULL REFERENCES carts (user_id),
    product_id TEXT NOT NULL REFERENCES products (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    position INTEGER NOT NULL,
    PRIMARY KEY (user_id, product_id)
);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    product_id TEXT NOT NULL REFERENCES products (id),
    event TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_user ON history (user_id, seq);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    status INTEGER NOT NULL,
    body BLOB NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_by_age ON idempotency (created_at);
"""


class Database:
    """One SQLite connection with read and write transactions."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every statement inside sees one snapshot."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that commits fully or rolls back on any exception."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


def open_database(path: str = ":memory:", catalog: Catalog | None = None) -> Database:
    """Open (creating if needed) the storefront database at ``path``.

    ``path`` is a file name, ``":memory:"``, or a ``file:`` URI. An empty database is
    seeded with ``catalog``, by default the bundled demo catalog.
    """
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, uri=path.startswith("file:")
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    if path != ":memory:" and "mode=memory" not in path:
        conn.execute("PRAGMA journal_mode = WAL")
    db = Database(conn)
    with db.write() as tx:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                tx.execute(statement)
        tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        if tx.execute("SELECT COUNT(*) FROM products").fetchone()[0] == 0:
            seed_catalog(tx, catalog or load_demo_catalog())
    return db


def load_demo_catalog() -> Catalog:
    """Read the bundled ``catalog.json``."""
    raw = resources.files("shopbot.shop").joinpath("catalog.json").read_bytes()
    return msgspec.json.decode(raw, type=Catalog)


def seed_catalog(conn: sqlite3.Connection, catalog: Catalog) -> None:
    """Insert every product of ``catalog`` and index it for search."""
    for product in catalog.products:
        if product.currency != CURRENCY:
            raise ValueError(f"{product.id}: the shop sells in {CURRENCY}, not {product.currency}")
        cursor = conn.execute(
            "INSERT INTO products (id, name, description, category, price_cents, currency,"
            " stock, rating, attributes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                product.id,
                product.name,
                product.description,
                product.category,
                money_to_cents(product.price),
                product.currency,
                product.stock,
                product.rating,
                msgspec.json.encode(product.attributes).decode(),
            ),
        )
        conn.execute(
            "INSERT INTO products_fts (rowid, name, description, category, attrs)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                cursor.lastrowid,
                product.name,
                product.description,
                product.category,
                " ".join(product.attributes.values()),
            ),
        )
