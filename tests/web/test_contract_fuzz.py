"""Property-based contract tests: schemathesis against the service's own OpenAPI document.

Every operation is called with generated valid and invalid requests; every
answer must be a documented status with a documented content type, headers and
body, never a 5xx, and an invalid request must be refused. The app runs in
process with the offline model and the reference shop; schemathesis' ASGI
transport runs its lifespan (which sets the authenticator and the limiter).

The document is read from an app built at import (building one does no I/O),
because schemathesis' pytest integration makes one test per operation at
collection time; its fixture-based lazy loading (`schemathesis.pytest.from_fixture`)
does not run under pytest 9 (it writes `Function._nodeid`). The app under test
is a fresh one per test, passed to each call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from litestar import Litestar
from litestar.testing import TestClient
from schemathesis import checks
from schemathesis.specs.openapi.checks import negative_data_rejection

from shopbot.engine.offline import OfflineModel
from shopbot.settings import Settings
from shopbot.shop.app import create_storefront_app
from shopbot.storefront.client import StorefrontClient
from shopbot.web import create_app

from .conftest import make_runtime

OPERATIONS = {"chat", "chatStream", "getSession", "getSessionCart", "deleteSession", "health", "readiness", "serviceInfo"}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    negative_data_rejection,
]
CONFIG = {"seed": 20_240_601, "generation": {"mode": "all"}}


def _document() -> dict:
    app = create_app(Settings())
    return msgspec.json.decode(msgspec.json.encode(app.openapi_schema.to_schema()))


DOCUMENT = _document()
import collections
SEEN = collections.Counter()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(CONFIG))


@pytest.fixture
def service() -> Iterator[Litestar]:
    """The app with the offline model and a fresh reference shop, rate limits off.

    Everything async is created here without a running loop, so schemathesis'
    own event-loop thread is the only one that ever uses it.
    """
    shop = create_storefront_app(":memory:")
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=shop), base_url="http://shop")
    storefront = StorefrontClient("http://shop", http=http, backoff=0)
    yield create_app(
        Settings(rate_limit_per_user=0, rate_limit_per_address=0),
        runtime=make_runtime(OfflineModel(), storefront),
    )
    asyncio.run(http.aclose())


@schema.parametrize()
@settings(
    max_examples=30,
    derandomize=True,
    database=None,
    deadline=None,
    # One app per operation on purpose: the generated requests share its sessions and carts.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_every_operation_keeps_its_contract(case: schemathesis.Case, service: Litestar) -> None:
    r = case.call_and_validate(app=service, checks=CHECKS)
    import collections, json
    SEEN[(case.operation.label, r.status_code, str(case.meta.generation.mode) if case.meta else None)] += 1
    with open("/tmp/seen.json", "w") as f: json.dump({str(k): v for k, v in SEEN.items()}, f, indent=0)


def test_the_fuzzed_document_is_the_served_one_and_covers_every_operation(service: Litestar) -> None:
    with TestClient(service) as client:
        served = client.get("/openapi.json").json()
    assert _without_examples(served) == _without_examples(DOCUMENT)
    fuzzed = {operation.ok().definition.raw["operationId"] for operation in schema.get_all_operations()}
    assert fuzzed == OPERATIONS


def _without_examples(node: object, parent: str = "") -> object:
    """The document without its `examples` (Litestar invents random ones for the error body)."""
    if isinstance(node, dict):
        return {k: _without_examples(v, k) for k, v in node.items() if k != "examples" or parent == "properties"}
    if isinstance(node, list):
        return [_without_examples(v) for v in node]
    return node
