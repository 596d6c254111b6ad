"""The bundled demo catalog, the database file, and the package's boundaries."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import msgspec

import shopbot.shop
from shopbot.shop import create_storefront_app
from shopbot.shop.db import load_demo_catalog, open_database
from shopbot.shop.models import PRODUCT_ID_PATTERN, Catalog, Product
from shopbot.shop.service import Shop

PRODUCTS = load_demo_catalog().products
REQUIRED = {
    "dell-xps-13": ("Dell XPS 13", "999.99"),
    "macbook-air-m2": ("MacBook Air M2", "1199.00"),
    "acer-aspire-5": ("Acer Aspire 5", "649.99"),
    "hp-pavilion-15": ("HP Pavilion 15", "799.99"),
    "lenovo-ideapad-3": ("Lenovo IdeaPad 3", "899.99"),
    "logitech-mx-master-3": ("Logitech MX Master 3 Mouse", "99.99"),
    "usb-c-hub-7-in-1": ("USB-C Hub 7-in-1", "39.99"),
    "laptop-sleeve-15-6": ('Laptop Sleeve 15.6"', "24.99"),
}
PACKAGE = Path(shopbot.shop.__file__).parent


def test_catalog_size_and_variety() -> None:
    assert len(PRODUCTS) >= 150
    assert len({p.category for p in PRODUCTS}) >= 10
    assert len({p.id for p in PRODUCTS}) == len(PRODUCTS)
    assert any(p.stock == 0 for p in PRODUCTS) and any(p.rating is None for p in PRODUCTS)
    assert all(re.search(PRODUCT_ID_PATTERN, p.id) for p in PRODUCTS)
    assert all(p.currency == "USD" and p.price == p.price.quantize(Decimal("0.01")) > 0 for p in PRODUCTS)
    assert all(p.attributes.get("brand") for p in PRODUCTS)


def test_required_products() -> None:
    by_id = {p.id: p for p in PRODUCTS}
    for pid, (name, price) in REQUIRED.items():
        assert (by_id[pid].name, str(by_id[pid].price)) == (name, price)
        assert by_id[pid].stock > 0
    laptops = [p for p in PRODUCTS if p.category == "laptops"]
    assert {p.id for p in laptops} >= set(list(REQUIRED)[:5])
    assert any(p.price > 1000 for p in laptops) and any(p.stock == 0 for p in laptops)


def test_prices_are_strings_in_the_file() -> None:
    raw = msgspec.json.decode((PACKAGE / "catalog.json").read_bytes())
    assert all(isinstance(p["price"], str) for p in raw["products"])


async def test_file_database_persists_and_seeds_once(tmp_path: Path) -> None:
    path = str(tmp_path / "shop.db")
    first = Shop(open_database(path))
    first.add_item("keep", b'{"product_id": "acer-aspire-5", "quantity": 2}')
    first.close()
    app = create_storefront_app(path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop") as http:
        assert (await http.get("/api/carts/keep")).json()["item_count"] == 2
        assert (await http.get("/api/products")).json()["total"] == len(PRODUCTS)


def test_custom_catalog_seeds_an_empty_database() -> None:
    tiny = Catalog(products=[Product(id="x", name="X", description="", category="misc", price=Decimal("1.50"),
                                     currency="USD", stock=1, rating=None, attributes={})])
    shop = Shop(open_database(":memory:", catalog=tiny))
    assert [c.name for c in shop.categories().items] == ["misc"]
    assert str(shop.product("x").price) == "1.50"


def test_shop_imports_nothing_from_the_storefront_client() -> None:
    for source in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.startswith("shopbot.storefront") for n in names), source
    code = "import sys, shopbot.shop; assert not [m for m in sys.modules if m.startswith('shopbot.storefront')]"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_modules_stay_small() -> None:
    for source in PACKAGE.glob("*.py"):
        assert len(source.read_text().splitlines()) < 400, source


def test_public_surface() -> None:
    assert shopbot.shop.__all__ == ["create_storefront_app", "run_storefront"]
