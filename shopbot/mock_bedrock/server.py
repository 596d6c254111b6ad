"""Running the local Converse endpoint in the foreground (`shopbot mock-bedrock`)."""

from __future__ import annotations

from collections.abc import Iterable

import uvicorn

from shopbot.engine.model import ModelClient
from shopbot.mock_bedrock.app import create_converse_app
from shopbot.mock_bedrock.faults import FaultPlan

__all__ = ["run_converse_endpoint"]


def run_converse_endpoint(
    host: str,
    port: int,
    model: ModelClient,
    *,
    latency_ms: float = 0,
    jitter_ms: float = 0,
    stream_chunk_ms: float = 0,
    faults: FaultPlan | None = None,
    model_ids: Iterable[str] | None = None,
    log_level: str = "warning",
) -> None:
    """Serve `model` as a Converse endpoint on `host`:`port` until interrupted (blocks)."""
    app = create_converse_app(
        model,
        latency_ms=latency_ms,
        jitter_ms=jitter_ms,
        stream_chunk_ms=stream_chunk_ms,
        faults=faults,
        model_ids=model_ids,
    )
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False)).run()
