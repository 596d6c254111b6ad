"""The chat widget at `/demo`, driven in a real headless Chromium against the real app and shop.

Needs Debian's Chromium at /usr/bin/chromium (CI installs it); without it the test
skips locally and fails under CI.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from shopbot.serving import serve_in_background
from shopbot.settings import Settings
from shopbot.shop.app import create_storefront_app
from shopbot.shop.db import load_demo_catalog, open_database
from shopbot.shop.models import Product
from shopbot.web import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE_NAME = "<img src=x onerror=alert(1)> Laptop"

# Records every render of an assistant bubble (the text length of the nodes it was
# given) and every time the send button is disabled, before the page's own script runs.
RECORDER = """
window.__renders = [];
window.__sendDisabled = 0;
new MutationObserver((records) => {
  for (const record of records) {
    const target = record.target;
    if (record.type === "attributes" && target.id === "send" && target.disabled) window.__sendDisabled++;
    if (record.type === "childList" && target.classList?.contains("body") && target.closest(".assistant")) {
      window.__renders.push([...record.addedNodes].map((node) => node.textContent).join("").length);
    }
  }
}).observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ["disabled"] });
"""


@contextlib.asynccontextmanager
async def running_service(tmp_path: Path) -> AsyncIterator[str]:
    """The chat service on a real port, over a reference shop that sells one hostile laptop name."""
    catalog = load_demo_catalog()
    catalog.products.append(
        Product(
            id="hostile-laptop",
            name=HOSTILE_NAME,
            description='Budget 15.6" laptop for testing escaping.',
            category="laptops",
            price=Decimal("499.99"),
            currency="USD",
            stock=5,
            rating=4.0,
            attributes={"brand": "Test"},
        )
    )
    db_path = str(tmp_path / "shop.sqlite")
    open_database(db_path, catalog).close()  # seeded once; the shop app reopens the same file
    async with serve_in_background(create_storefront_app(db_path)) as shop_url:
        settings = Settings(
            model_provider="offline", backend_api_url=shop_url, rate_limit_per_user=0, rate_limit_per_address=0
        )
        async with serve_in_background(create_app(settings)) as base_url:
            yield base_url


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing; CI must install Debian's chromium")
    pytest.skip(f"{CHROMIUM} is not installed")


async def send_and_wait(page, text: str) -> None:
    """Type `text`, press Enter, and wait until the assistant's turn has finished."""
    before = await page.locator(".message.assistant").count()
    await page.get_by_label("Your message").fill(text)
    await page.get_by_label("Your message").press("Enter")
    answer = page.locator(".message.assistant").nth(before)
    await answer.wait_for()
    await page.wait_for_function("!document.querySelector('.message.streaming')")
    await page.wait_for_function("!document.getElementById('send').disabled")


async def test_widget_streams_answers_shows_the_cart_and_survives_a_reload(tmp_path: Path) -> None:
    require_chromium()
    from playwright.async_api import async_playwright, expect

    dialogs: list[str] = []
    foreign_requests: list[str] = []

    async def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    async with running_service(tmp_path) as base_url, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 800})
            page.set_default_timeout(15_000)
            page.on("dialog", on_dialog)
            page.on("request", lambda r: None if r.url.startswith(base_url) else foreign_requests.append(r.url))
            await page.add_init_script(RECORDER)
            await page.goto(f"{base_url}/demo")
            await expect(page).to_have_title("shopbot demo")
            await expect(page.locator("#cart-lines")).to_contain_text("Your cart is empty")

            await send_and_wait(page, "Show me laptops under $1000")
            messages = page.locator("#messages")
            first_answer = page.locator(".message.assistant").first
            await expect(first_answer.locator(".activity")).to_contain_text("Searching the catalog")
            await expect(first_answer.locator(".body")).to_contain_text("HP Pavilion 15")
            await expect(first_answer.locator(".body")).to_contain_text("$799.99")
            renders = await page.evaluate("window.__renders")
            # The text grew over several renders before `done`'s answer (the last render) replaced it.
            streamed = [length for length in renders[:-1] if length]
            assert len(set(streamed)) >= 2 and streamed[0] < renders[-1], renders
            assert await page.evaluate("window.__sendDisabled") >= 1
            await expect(first_answer.locator("li strong").first).to_be_visible()

            await expect(messages).to_contain_text(HOSTILE_NAME)
            assert await messages.locator("img").count() == 0

            await send_and_wait(page, "Add the HP Pavilion 15 to my cart")
            cart = page.locator("#cart-lines")
            await expect(cart).to_contain_text("1 × HP Pavilion 15")
            await expect(cart).to_contain_text("$799.99")
            await expect(page.locator("#cart-subtotal")).to_have_text("$799.99")
            await page.screenshot(path=tmp_path / "demo.png")

            await page.reload()
            await expect(page.locator(".message")).to_have_count(4)
            await expect(page.locator(".message.user").first).to_contain_text("Show me laptops under $1000")
            await expect(page.locator(".message.assistant").nth(1)).to_contain_text("Added 1 × HP Pavilion 15")
            await expect(cart).to_contain_text("HP Pavilion 15")

            await page.set_viewport_size({"width": 375, "height": 667})
            await expect(page.get_by_label("Your message")).to_be_in_viewport()
            await expect(messages).to_be_in_viewport()
            widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], widths
            await page.screenshot(path=tmp_path / "demo-phone.png")

            await page.get_by_role("button", name="New conversation").click()
            await expect(page.locator(".message")).to_have_count(0)
            await expect(cart).to_contain_text("Your cart is empty")
            assert await page.evaluate("localStorage.length") == 0

            assert dialogs == []
            assert foreign_requests == []
        finally:
            await browser.close()
