"""Fixtures for metrics and traces: the app over a runtime whose engine, toolbox and storefront report."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from shopbot.engine.conversations import Conversations
from shopbot.engine.loop import Engine
from shopbot.engine.model import ModelClient
from shopbot.observability import Observer
from shopbot.observability.metrics import Metrics
from shopbot.runtime import Runtime
from shopbot.sessions import MemorySessionStore
from shopbot.settings import Settings
from shopbot.storefront.client import StorefrontClient
from shopbot.tools.dispatcher import Toolbox
from shopbot.web import create_app

MODEL_ID = "us.amazon.nova-pro-v1:0"


def observed_runtime(model: ModelClient, storefront: StorefrontClient, observer: Observer) -> Runtime:
    """A runtime like the service's, with `observer` on the engine and its toolbox."""
    store = MemorySessionStore()
    engine = Engine(model, Toolbox(storefront, observer=observer), observer=observer)
    return Runtime(Conversations(engine, store, model_id=MODEL_ID), storefront, store)


@contextlib.asynccontextmanager
async def observed_api(
    shop_app, model: ModelClient, observer: Observer, metrics: Metrics, settings: Settings | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the reference shop, every layer reporting to `observer`, `/metrics` serving `metrics`."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shop_app), base_url="http://shop") as http:
        storefront = StorefrontClient("http://shop", http=http, backoff=0, observer=observer)
        app = create_app(settings or Settings(), runtime=observed_runtime(model, storefront, observer), metrics=metrics)
        async with AsyncTestClient(app) as client:
            yield client


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(model_id=MODEL_ID)


def value(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0 when there are none)."""
    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def label_values(exposition: str, label: str) -> set[str]:
    """Every value the label `label` takes in the exposition."""
    return {
        sample.labels[label]
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if label in sample.labels
    }


def parse_sse(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events
