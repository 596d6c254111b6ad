"""Concurrent cart writes lose nothing and never oversell the stock check.

The HTTP tests run the app on a real uvicorn port; the last one drives two apps'
connections on one database file from threads (BEGIN IMMEDIATE across connections).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn

from shopbot.shop import create_storefront_app
from shopbot.shop.db import open_database
from shopbot.shop.errors import OutOfStock
from shopbot.shop.service import Shop

from .shop_checks import assert_cart, cart_quantities


@pytest.fixture
async def live_url() -> AsyncIterator[str]:
    """The storefront served by uvicorn on a free local port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_storefront_app(), log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    await task
    sock.close()


async def test_fifty_concurrent_adds_all_count(live_url: str) -> None:
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=live_url, limits=limits) as http:
        responses = await asyncio.gather(*(
            http.post("/api/carts/crowd/items", json={"product_id": "usb-c-hub-7-in-1", "quantity": 1})
            for _ in range(50)
        ))
        assert [r.status_code for r in responses] == [200] * 50
        cart = (await http.get("/api/carts/crowd")).json()
    assert_cart(cart)
    assert cart_quantities(cart) == {"usb-c-hub-7-in-1": 50}
    assert sorted(r.json()["item_count"] for r in responses) == list(range(1, 51))


async def test_concurrent_adds_stop_exactly_at_stock(live_url: str) -> None:
    async with httpx.AsyncClient(base_url=live_url, limits=httpx.Limits(max_connections=60)) as http:
        stock = (await http.get("/api/products/laptop-sleeve-15-6")).json()["stock"]
        responses = await asyncio.gather(*(
            http.post("/api/carts/rush/items", json={"product_id": "laptop-sleeve-15-6", "quantity": 1})
            for _ in range(stock + 15)
        ))
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) == stock and statuses.count(409) == 15
        assert cart_quantities((await http.get("/api/carts/rush")).json()) == {"laptop-sleeve-15-6": stock}


async def test_concurrent_replays_apply_once(live_url: str) -> None:
    async with httpx.AsyncClient(base_url=live_url, limits=httpx.Limits(max_connections=20)) as http:
        responses = await asyncio.gather(*(
            http.post("/api/carts/retry/items", json={"product_id": "dell-xps-13", "quantity": 1},
                      headers={"Idempotency-Key": "once"})
            for _ in range(20)
        ))
        assert len({r.content for r in responses}) == 1
        assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1
        assert cart_quantities((await http.get("/api/carts/retry")).json()) == {"dell-xps-13": 1}


def test_two_connections_on_one_file_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "shop.db")
    shops = [Shop(open_database(path)), Shop(open_database(path))]
    stock = shops[0].product("laptop-sleeve-15-6").stock

    def add(i: int) -> int:
        try:
            shops[i % 2].add_item("shared", b'{"product_id": "laptop-sleeve-15-6", "quantity": 1}')
            return 1
        except OutOfStock:
            return 0

    with ThreadPoolExecutor(max_workers=8) as pool:
        added = sum(pool.map(add, range(stock + 20)))
    assert added == stock
    assert cart_quantities_of(shops[1], "shared") == {"laptop-sleeve-15-6": stock}
    for shop in shops:
        shop.close()


def cart_quantities_of(shop: Shop, user: str) -> dict[str, int]:
    return {line.product_id: line.quantity for line in shop.cart(user).items}
