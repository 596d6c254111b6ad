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
import jsonschema_rs
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

OPERATIONS = {
    "chat",
    "chatStream",
    "getSession",
    "getSessionCart",
    "deleteSession",
    "health",
    "readiness",
    "serviceInfo",
}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    negative_data_rejection,
]
# Streams are read to their end (the default stops after 20 events), so the last event is checked too.
CONFIG = {"seed": 20_240_601, "generation": {"mode": "all"}, "max-stream-events": 1000}
EVENT_SCHEMAS = {
    "text": {"type": "object", "properties": {"text": {"type": "string", "minLength": 1}}, "required": ["text"]},
    "tool": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "status": {"enum": ["running", "success", "error"]},
            "label": {"type": "string"},
        },
        "required": ["id", "name", "status", "label"],
    },
    "done": {"$ref": "#/components/schemas/ChatResponse"},
    "error": {"$ref": "#/components/schemas/ErrorResponse"},
}


def _document() -> dict:
    app = create_app(Settings())
    return msgspec.json.decode(msgspec.json.encode(app.openapi_schema.to_schema()))


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(CONFIG))
EVENT_VALIDATORS = {
    name: jsonschema_rs.validator_for({**event, "components": DOCUMENT["components"]})
    for name, event in EVENT_SCHEMAS.items()
}


def event_stream_conformance(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """A `text/event-stream` answer is what chatStream's description promises.

    The document can only say `text/event-stream` (its schema is `{}`), so
    schemathesis' own schema check passes any stream; this one reads it:
    `text` and `tool` events, then exactly one `done` (the chat reply) or
    `error` (the error body) as the last event, every `data` valid JSON.
    """
    if not response.headers.get("content-type", [""])[0].startswith("text/event-stream"):
        return
    assert not response.stream_cut_short, "the stream did not end"
    events = parse_sse(response.content.decode())
    names = [name for name, _ in events]
    assert names and names[-1] in ("done", "error"), f"the stream does not end with done or error: {names}"
    assert set(names[:-1]) <= {"text", "tool"}, f"unexpected events: {names}"
    for name, data in events:
        EVENT_VALIDATORS[name].validate(data)


def parse_sse(body: str) -> list[tuple[str, object]]:
    """The `(event, data)` pairs of an event stream; a `data` that is not JSON fails the check."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields["event"], msgspec.json.decode(fields.get("data", ""))))
    return events


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
    max_examples=50,
    derandomize=True,
    database=None,
    deadline=None,
    # One app per operation on purpose: the generated requests share its sessions and carts.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_every_operation_keeps_its_contract(case: schemathesis.Case, service: Litestar) -> None:
    case.call_and_validate(app=service, checks=[*CHECKS, event_stream_conformance])


def test_a_live_session_keeps_the_contract_on_every_operation(service: Litestar) -> None:
    """Generated session ids never name a live session, so this walks one through every operation."""

    def call(operation_id: str, **data: object) -> schemathesis.Response:
        case = schema.find_operation_by_id(operation_id).Case(**data)
        return case.call_and_validate(app=service, checks=[*CHECKS, event_stream_conformance])

    owner = {"user_id": "fuzz-ann"}
    chat = call("chat", body={"message": "Add the HP Pavilion 15 to my cart", **owner})
    session = {"session_id": chat.json()["session_id"]}
    streamed = call("chatStream", body={"message": "What's in my cart?", **session, **owner})
    assert parse_sse(streamed.content.decode())[-1][0] == "done"
    assert len(call("getSession", path_parameters=session, query=owner).json()["messages"]) == 4
    cart = call("getSessionCart", path_parameters=session, query=owner).json()
    assert [line["name"] for line in cart["items"]] == ["HP Pavilion 15"]
    assert call("deleteSession", path_parameters=session, query=owner).status_code == 204
    assert call("getSession", path_parameters=session, query=owner).status_code == 404


def test_the_fuzzed_document_is_the_served_one_and_covers_every_operation(service: Litestar) -> None:
    with TestClient(service) as client:
        served = client.get("/openapi.json").json()
    assert served == DOCUMENT
    fuzzed = {operation.ok().definition.raw["operationId"] for operation in schema.get_all_operations()}
    assert fuzzed == OPERATIONS
