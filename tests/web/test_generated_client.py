"""The OpenAPI document is good enough for generated clients.

openapi-python-client generates a client from the app's document without a
single warning, and that client holds a conversation with the running service
(the offline model and the reference shop, on a real port).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import msgspec
import pytest

from shopbot.engine.offline import OfflineModel
from shopbot.serving import serve_in_background
from shopbot.settings import Settings
from shopbot.storefront.client import StorefrontClient
from shopbot.web import create_app

from .conftest import make_runtime

PACKAGE = "shopbot_api_client"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


def _document() -> bytes:
    """The document the app serves at /openapi.json."""
    return msgspec.json.encode(create_app(Settings()).openapi_schema.to_schema())


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated client package, imported from a temporary directory (and forgotten afterwards)."""
    root = tmp_path_factory.mktemp("generated")
    (root / "openapi.json").write_bytes(_document())
    # No post hooks: the generated code is imported, not formatted, and ruff need not be on PATH.
    (root / "config.yaml").write_text("post_hooks: []\n")
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(root / "openapi.json"),
            "--output-path",
            str(root / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(root / "config.yaml"),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _module(package: ModuleType, name: str) -> ModuleType:
    return importlib.import_module(f"{package.__name__}.{name}")


async def test_a_generated_client_holds_a_conversation(generated: ModuleType, storefront: StorefrontClient) -> None:
    chat = _module(generated, "api.chat.chat")
    get_session_cart = _module(generated, "api.sessions.get_session_cart")
    models = _module(generated, "models")
    app = create_app(Settings(), runtime=make_runtime(OfflineModel(), storefront))
    async with (
        serve_in_background(app) as url,
        generated.Client(base_url=url, raise_on_unexpected_status=True) as client,
    ):
        first = await chat.asyncio(client=client, body=models.ChatRequest(message="Show me laptops under $1000"))
        assert isinstance(first, models.ChatResponse)
        assert "HP Pavilion 15" in first.response and "$799.99" in first.response
        assert [(tool.name, tool.status) for tool in first.tools] == [("search_products", "success")]
        assert isinstance(first.usage, models.TurnUsage) and first.usage.model_calls == 2

        session = first.session_id
        added = await chat.asyncio(
            client=client, body=models.ChatRequest(message="Add the HP Pavilion 15 to my cart", session_id=session)
        )
        assert isinstance(added, models.ChatResponse) and added.session_id == session
        assert "HP Pavilion 15" in added.response

        cart = await chat.asyncio(
            client=client, body=models.ChatRequest(message="What's in my cart?", session_id=session)
        )
        assert isinstance(cart, models.ChatResponse) and cart.session_id == session
        assert "HP Pavilion 15" in cart.response and "$799.99" in cart.response

        view = await get_session_cart.asyncio(client=client, session_id=session)
        assert isinstance(view, models.CartView)
        assert [(line.name, line.unit_price, line.quantity) for line in view.items] == [("HP Pavilion 15", "799.99", 1)]


async def test_errors_come_back_as_the_generated_error_model(
    generated: ModuleType, storefront: StorefrontClient
) -> None:
    chat = _module(generated, "api.chat.chat")
    get_session = _module(generated, "api.sessions.get_session")
    models = _module(generated, "models")
    app = create_app(Settings(), runtime=make_runtime(OfflineModel(), storefront))
    async with (
        serve_in_background(app) as url,
        generated.Client(base_url=url, raise_on_unexpected_status=True) as client,
    ):
        empty = await chat.asyncio_detailed(client=client, body=models.ChatRequest(message=""))
        assert empty.status_code == 400
        assert isinstance(empty.parsed, models.ErrorResponse)
        assert empty.parsed.status == "error" and empty.parsed.error.startswith("invalid_request: message")

        missing = await get_session.asyncio_detailed(client=client, session_id="no-such-session")
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.ErrorResponse) and missing.parsed.error == "session_not_found"


def test_the_document_is_the_same_every_time_and_plain_json() -> None:
    """A regenerated client must not change because the document did (Litestar invents random examples
    for a `ResponseSpec` unless told not to), and the document is plain JSON data."""
    assert _document() == _document()
    json.dumps(create_app(Settings()).openapi_schema.to_schema())
