"""The canary test: secrets from the configuration and PII from chat messages never reach the logs."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest

from shopbot.logs import configure_logging
from shopbot.serving import serve_local_service
from shopbot.shop.app import create_storefront_app

BACKEND_KEY = "canary-backend-key-7c1f9a"
ACCESS_KEY = "AKIA" + "CANARY7C1F9A2B3D"  # assembled: a fake key, but no key-shaped literal in the repo
SECRET_KEY = "canarySecretKey7c1f9a2b3d4e5f6a7b8c9d0e1f2a"
SESSION_TOKEN = "canarySessionToken7c1f9a2b3d4e5f"
EMAIL = "jane.canary@example.com"
CARD = "4111 1111 1111 1111"
PHONE = "+1 415 555 0100"


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers), {n: logging.getLogger(n).level for n in logging.root.manager.loggerDict})
    stream = io.StringIO()
    yield stream
    root.setLevel(saved[0])
    for handler in [h for h in root.handlers if h not in saved[1]]:
        root.removeHandler(handler)
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


async def test_no_canary_reaches_the_logs_at_debug(captured_logs: io.StringIO) -> None:
    secrets = {
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET_KEY,
        "aws_session_token": SESSION_TOKEN,
        "backend_api_key": BACKEND_KEY,
    }
    # Logging is configured before the service starts, with the secrets it will be given.
    configure_logging("DEBUG", json=True, secrets=secrets.values(), stream=captured_logs)
    shop = create_storefront_app(":memory:", api_key=BACKEND_KEY)
    async with serve_local_service(shop_app=shop, **secrets) as local, httpx.AsyncClient(base_url=local.url) as client:
        logging.getLogger("shopbot.test").debug("settings: %r", local.settings)
        for message in (
            f"Show me laptops under $1000, my email is {EMAIL}",
            f"Add the HP Pavilion 15 to my cart, card {CARD}, call me at {PHONE}",
            f"search for {EMAIL}",
        ):
            response = await client.post(
                "/api/v1/chat", json={"message": message}, headers={"Authorization": f"Bearer {BACKEND_KEY}"}
            )
            assert response.status_code == 200, response.text

    output = captured_logs.getvalue()
    assert "chat turn" in output and "HP Pavilion 15" in output  # the logs say what happened ...
    for canary in (BACKEND_KEY, ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, EMAIL, CARD, CARD.replace(" ", ""), PHONE):
        assert canary not in output, canary  # ... and nothing they must not
