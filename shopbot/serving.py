"""Running any ASGI app on a real uvicorn server in the background, for tests and benchmarks.

The server runs on its own event loop in a daemon thread, on a loopback port
picked by the OS (bound before the server starts, so there is no race for it),
and the caller gets the base URL once the server accepts connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, NamedTuple

import uvicorn

__all__ = ["LocalService", "serve_in_background", "serve_in_thread", "serve_local_service"]

_STARTUP_TIMEOUT = 10.0


class _BackgroundServer:
    """A uvicorn server on a pre-bound socket, run in a daemon thread."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it every keep-alive answer waits ~40 ms for a delayed ACK (Nagle).
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        bound_port = self._socket.getsockname()[1]
        self.base_url = f"http://[{host}]:{bound_port}" if family == socket.AF_INET6 else f"http://{host}:{bound_port}"
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="auto", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"uvicorn:{bound_port}", daemon=True)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except SystemExit:
            pass  # uvicorn exits this way when start-up fails; `check_started` reports it

    def start(self) -> None:
        self._thread.start()

    def check_started(self) -> bool:
        """True once the server is up; raises if it died trying."""
        if self._server.started:
            return True
        if not self._thread.is_alive():
            self._socket.close()
            raise RuntimeError("the uvicorn server failed to start")
        return False

    def wait_started(self) -> None:
        """Block until the server accepts connections."""
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not self.check_started():
            if time.monotonic() > deadline:
                raise TimeoutError("the uvicorn server did not start in time")
            time.sleep(0.005)

    def stop(self) -> None:
        self._server.should_exit = True

    def join(self) -> None:
        self._thread.join()
        self._socket.close()


@contextlib.asynccontextmanager
async def serve_in_background(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve the ASGI `app` on `host` (a free port by default) while the block runs; yield its base URL.

    >>> async with serve_in_background(create_converse_app(model)) as base_url:
    ...     ...  # e.g. aioboto3 with endpoint_url=base_url
    """
    server = _BackgroundServer(app, host, port)
    server.start()
    try:
        await asyncio.to_thread(server.wait_started)
        yield server.base_url
    finally:
        server.stop()
        await asyncio.to_thread(server.join)


@contextlib.contextmanager
def serve_in_thread(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """The blocking twin of `serve_in_background`, for synchronous (e.g. session-scoped) fixtures."""
    server = _BackgroundServer(app, host, port)
    server.start()
    try:
        server.wait_started()
        yield server.base_url
    finally:
        server.stop()
        server.join()


class LocalService(NamedTuple):
    """The chat service on loopback: its URL, the local Converse endpoint's, the shop's, and its settings."""

    url: str
    model_url: str
    shop_url: str
    settings: Any


@contextlib.asynccontextmanager
async def serve_local_service(
    *, model_app: Any = None, shop_app: Any = None, **settings: Any
) -> AsyncIterator[LocalService]:
    """The whole service on real loopback ports, on Bedrock's wire protocol, for tests and benchmarks.

    The model is the offline one behind the local Converse endpoint (or `model_app`), the shop
    is the reference storefront with its demo catalog (or `shop_app`); `settings` override the
    service's `Settings` (dummy AWS keys by default).
    """
    # Imported here: the generic helpers above must not pull the whole service in.
    from shopbot.engine.offline import OfflineModel
    from shopbot.mock_bedrock import create_converse_app
    from shopbot.settings import Settings
    from shopbot.shop.app import create_storefront_app
    from shopbot.web import create_app

    async with (
        serve_in_background(model_app or create_converse_app(OfflineModel())) as model_url,
        serve_in_background(shop_app or create_storefront_app(":memory:")) as shop_url,
    ):
        values = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", **settings}
        config = Settings(model_provider="bedrock", bedrock_endpoint_url=model_url, backend_api_url=shop_url, **values)
        async with serve_in_background(create_app(config)) as url:
            yield LocalService(url, model_url, shop_url, config)
