"""Recommendations: strategy order, complement rules, and what is never recommended."""

from __future__ import annotations

import httpx
import pytest

from shopbot.shop.db import load_demo_catalog, open_database
from shopbot.shop.recommend import COMPLEMENTS
from shopbot.shop.service import Shop

CATALOG = {p.id: p for p in load_demo_catalog().products}


async def recommend(client: httpx.AsyncClient, **params: object) -> dict:
    response = await client.get("/api/recommendations", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def add(client: httpx.AsyncClient, user: str, product: str, quantity: int = 1) -> None:
    response = await client.post(f"/api/carts/{user}/items", json={"product_id": product, "quantity": quantity})
    assert response.status_code == 200, response.text


async def test_complementary_for_a_laptop(client: httpx.AsyncClient) -> None:
    body = await recommend(client, product_id="dell-xps-13", limit=6)
    assert body["strategy"] == "complementary"
    categories = [p["category"] for p in body["items"]]
    assert categories == list(COMPLEMENTS["laptops"])[: len(categories)]  # one per complement category, in order
    assert "dell-xps-13" not in [p["id"] for p in body["items"]]


async def test_accessories_must_fit(client: httpx.AsyncClient) -> None:
    body = await recommend(client, product_id="iphone-15", limit=20)
    for item in body["items"]:
        compatible = item["attributes"].get("compatible")
        assert compatible is None or "phones" in compatible


async def test_cart_items_are_never_recommended(client: httpx.AsyncClient) -> None:
    first = (await recommend(client, product_id="dell-xps-13", limit=3))["items"]
    for item in first:
        await add(client, "c1", item["id"])
    again = await recommend(client, product_id="dell-xps-13", user_id="c1", limit=20)
    assert again["strategy"] == "complementary"
    assert not {p["id"] for p in first} & {p["id"] for p in again["items"]}


async def test_cart_strategy_goes_with_the_cart(client: httpx.AsyncClient) -> None:
    await add(client, "c2", "macbook-air-m2")
    await add(client, "c2", "logitech-mx-master-3")
    body = await recommend(client, user_id="c2", limit=10)
    assert body["strategy"] == "cart"
    ids = {p["id"] for p in body["items"]}
    assert not ids & {"macbook-air-m2", "logitech-mx-master-3"}
    assert body["items"][0]["category"] not in {"laptops", "mice"}  # categories the cart lacks come first


async def test_personal_after_the_cart_is_emptied(client: httpx.AsyncClient) -> None:
    await add(client, "c3", "sony-wh-1000xm5")
    assert (await client.delete("/api/carts/c3/items/sony-wh-1000xm5")).status_code == 200
    body = await recommend(client, user_id="c3")
    assert body["strategy"] == "personal"
    assert "sony-wh-1000xm5" not in {p["id"] for p in body["items"]}
    assert body["items"][0]["category"] == "headphones"


async def test_popular_without_context(client: httpx.AsyncClient) -> None:
    assert (await recommend(client))["strategy"] == "popular"
    assert (await recommend(client, user_id="never-seen"))["strategy"] == "popular"
    for user in ("p1", "p2", "p3"):
        await add(client, user, "acer-chromebook-314")
    assert (await recommend(client, limit=1))["items"][0]["id"] == "acer-chromebook-314"


async def test_product_wins_over_cart(client: httpx.AsyncClient) -> None:
    await add(client, "c4", "macbook-air-m2")
    assert (await recommend(client, user_id="c4", product_id="iphone-15"))["strategy"] == "complementary"


@pytest.mark.parametrize("limit", [1, 5, 20])
async def test_limit(client: httpx.AsyncClient, limit: int) -> None:
    assert len((await recommend(client, limit=limit))["items"]) == limit


def test_never_itself_nor_out_of_stock_nor_in_cart() -> None:
    shop = Shop(open_database())
    shop.add_item("u", b'{"product_id": "logitech-mx-master-3s", "quantity": 1}')
    for product_id in CATALOG:
        recs = shop.recommendations("u", product_id, 20)
        ids = [p.id for p in recs.items]
        assert recs.strategy == "complementary"
        assert product_id not in ids and "logitech-mx-master-3s" not in ids
        assert len(ids) == len(set(ids))
        assert all(CATALOG[i].stock > 0 for i in ids)


def test_every_category_has_complements() -> None:
    categories = {p.category for p in CATALOG.values()}
    assert categories <= set(COMPLEMENTS)
    assert all(set(targets) <= categories for targets in COMPLEMENTS.values())
