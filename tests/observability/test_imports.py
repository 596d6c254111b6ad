"""What observability loads: the engine neither metrics nor tracing libraries; the app no tracing unless asked."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_engine_loads_no_metrics_or_tracing_library() -> None:
    run(
        "import sys, shopbot.engine, shopbot.observability\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('prometheus_client', 'opentelemetry')]\n"
        "assert not loaded, loaded"
    )


# As if the `otel` extra were not installed (other libraries, such as redis-py, import it when it is).
_WITHOUT_OTEL = """
import sys
sys.modules["opentelemetry"] = None
from litestar.testing import TestClient
from shopbot.errors import ConfigurationError
from shopbot.settings import Settings
from shopbot.web import create_app
import shopbot.app
settings = Settings(model_provider="offline", backend_api_url="http://127.0.0.1:9")
with TestClient(create_app(settings)) as client:
    assert client.get("/metrics").status_code == 200
assert "shopbot.observability.tracing" not in sys.modules
try:
    create_app(Settings(tracing=True))
    raise AssertionError("tracing on without the otel extra")
except ConfigurationError as exc:
    assert "otel extra" in str(exc)
"""


def test_the_app_needs_no_tracing_library_unless_tracing_is_on() -> None:
    run(_WITHOUT_OTEL)
