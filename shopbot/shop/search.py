"""Product search: SQLite FTS5 with bm25 ranking, category and price filters, paging.

Ranking: products whose category the query names come first (``laptop`` ranks the
laptops above a laptop sleeve, whose *name* says "laptop"), then bm25 with the name
weighted highest, then category, attribute values and description. All terms must
match; when that finds nothing, any term may (best match first still holds).

User text never reaches FTS5 syntax: each whitespace-separated chunk becomes one
double-quoted phrase with inner quotes doubled, so operators, ``*``, ``:``, ``-`` and
``15.6"`` are plain text. A query with no letters or digits lists everything.
Stopwords are dropped (so ``AND`` is not required to match) unless nothing else is left.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

from shopbot.shop.errors import InvalidRequest
from shopbot.shop.repository import PRODUCT_COLUMNS

MAX_TERMS = 16
MAX_PRICE = Decimal(10) ** 12
# bm25 weights, in the FTS column order: name, description, category, attrs.
BM25 = "bm25(products_fts, 10.0, 1.0, 4.0, 2.0)"
STOPWORDS = frozenset({"a", "an", "and", "or", "not", "near", "the", "for", "with", "of", "in", "on", "to"})


@dataclass(frozen=True)
class SearchQuery:
    """A validated product query; prices are integer cents."""

    q: str | None = None
    category: str | None = None
    min_cents: int | None = None
    max_cents: int | None = None
    limit: int = 20
    offset: int = 0


def parse_query(
    q: str | None,
    category: str | None,
    min_price: str | None,
    max_price: str | None,
    limit: int,
    offset: int,
) -> SearchQuery:
    """Validate the raw query parameters; raises InvalidRequest."""
    low = _price("min_price", min_price)
    high = _price("max_price", max_price)
    if low is not None and high is not None and low > high:
        raise InvalidRequest("min_price must not exceed max_price")
    return SearchQuery(
        q=q,
        category=(category or "").strip().lower() or None,
        min_cents=None if low is None else int(low.scaleb(2).to_integral_value(ROUND_CEILING)),
        max_cents=None if high is None else int(high.scaleb(2).to_integral_value(ROUND_FLOOR)),
        limit=limit,
        offset=min(offset, 2**62),
    )


def _price(name: str, text: str | None) -> Decimal | None:
    if text is None or not text.strip():
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidRequest(f"{name} must be a decimal amount, got {text!r}") from None
    if not value.is_finite() or value < 0:
        raise InvalidRequest(f"{name} must be a non-negative decimal amount, got {text!r}")
    return min(value, MAX_PRICE)


def fts_terms(q: str | None) -> list[str]:
    """Quote the free text into safe FTS5 phrases (empty when nothing is searchable)."""
    # Control, format and surrogate characters become spaces: FTS5 stops reading at NUL.
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in q or "")
    chunks = [c for c in text.split() if any(ch.isalnum() for ch in c)]
    words = [c for c in chunks if c.lower() not in STOPWORDS] or chunks
    return ['"' + w.replace('"', '""') + '"' for w in words[:MAX_TERMS]]


def search_products(conn: sqlite3.Connection, query: SearchQuery) -> tuple[list[sqlite3.Row], int]:
    """One page of matching product rows and the total number of matches."""
    where, params = ["1"], []
    if query.category is not None:
        where.append("p.category = ?")
        params.append(query.category)
    if query.min_cents is not None:
        where.append("p.price_cents >= ?")
        params.append(query.min_cents)
    if query.max_cents is not None:
        where.append("p.price_cents <= ?")
        params.append(query.max_cents)
    filters = " AND ".join(where)
    page = [query.limit, query.offset]
    terms = fts_terms(query.q)
    if not terms:
        total = conn.execute(f"SELECT COUNT(*) FROM products p WHERE {filters}", params).fetchone()[0]
        rows = conn.execute(
            f"SELECT {PRODUCT_COLUMNS} FROM products p WHERE {filters}"
            " ORDER BY p.category, p.name, p.id LIMIT ? OFFSET ?",
            [*params, *page],
        ).fetchall()
        return rows, total
    source = "products_fts JOIN products p ON p.seq = products_fts.rowid"
    for match in dict.fromkeys([" AND ".join(terms), " OR ".join(terms)]):
        total = conn.execute(
            f"SELECT COUNT(*) FROM {source} WHERE products_fts MATCH ? AND {filters}",
            [match, *params],
        ).fetchone()[0]
        if total:
            break
    if not total:
        return [], 0
    names_category = "{category} : (" + " OR ".join(terms) + ")"
    rows = conn.execute(
        f"SELECT {PRODUCT_COLUMNS} FROM {source} WHERE products_fts MATCH ? AND {filters}"
        " ORDER BY p.seq IN (SELECT rowid FROM products_fts WHERE products_fts MATCH ?) DESC,"
        f" {BM25}, p.rating DESC, p.id LIMIT ? OFFSET ?",
        [match, *params, names_category, *page],
    ).fetchall()
    return rows, total
