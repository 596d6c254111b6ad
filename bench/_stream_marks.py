"""The local Converse endpoint, marking when each stream's first text delta leaves it (for bench/streaming.py).

    python -m bench._stream_marks --port 9101 [--latency-ms 100] [--chunk-ms 10]

The endpoint of `shopbot mock-bedrock` (offline model, the same uvicorn settings)
wrapped in an ASGI middleware that records `time.perf_counter()` just before the
first body chunk of each ``converse-stream`` answer that carries a text delta is
handed to the server. `GET /_bench/marks` returns the marks recorded since the last
call and forgets them. `perf_counter` is CLOCK_MONOTONIC on Linux, one clock for
every process of the machine, so another process can subtract it from its own.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import uvicorn

from shopbot.engine.offline import OfflineModel
from shopbot.mock_bedrock import create_converse_app

TEXT_DELTA = b'"delta":{"text":'


def with_marks(app: Any) -> Any:
    """`app` with the first-text-delta marks and their route."""
    marks: list[float] = []

    async def marked(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
        elif scope["path"] == "/_bench/marks":
            body = json.dumps(marks).encode()
            marks.clear()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
        elif scope["path"].endswith("/converse-stream"):
            first = True

            async def send_marking(message: dict[str, Any]) -> None:
                nonlocal first
                if first and message["type"] == "http.response.body" and TEXT_DELTA in message.get("body", b""):
                    first = False
                    marks.append(time.perf_counter())
                await send(message)

            await app(scope, receive, send_marking)
        else:
            await app(scope, receive, send)

    return marked


def main() -> None:
    """Serve the marked endpoint until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--chunk-ms", type=float, default=10.0)
    args = parser.parse_args()
    app = create_converse_app(OfflineModel(), latency_ms=args.latency_ms, stream_chunk_ms=args.chunk_ms)
    config = uvicorn.Config(with_marks(app), host=args.host, port=args.port, log_level="warning", access_log=False)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
