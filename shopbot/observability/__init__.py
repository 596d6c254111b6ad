"""Metrics and traces for shopbot, behind one seam.

`Observer` is what the engine, the toolbox and the storefront client call
(`NO_OBSERVER` by default). Two observers implement it:

* `shopbot.observability.metrics.Metrics` — Prometheus metrics on its own
  registry, served at ``GET /metrics`` by the web app;
* `shopbot.observability.tracing.Tracing` — OpenTelemetry spans following the
  GenAI semantic conventions, only when tracing is configured.

Importing this package loads neither prometheus_client nor opentelemetry.
"""

from shopbot.observability.observer import (
    NO_OBSERVER,
    NullObserver,
    Observer,
    Observers,
    configured_model_id,
    tracing_enabled,
)

__all__ = ["NO_OBSERVER", "NullObserver", "Observer", "Observers", "configured_model_id", "tracing_enabled"]
