"""Running the chat service in production: uvicorn, with a drain phase before a graceful stop.

On SIGTERM (or Ctrl-C) the server first *drains*: readiness answers 503 so a
load balancer stops sending new conversations, while everything keeps being
served for `drain_seconds`. Then uvicorn's graceful shutdown runs: it stops
accepting, lets running turns finish for up to the grace period, and the app's
lifespan closes the Bedrock client, the HTTP pool and the Redis pool. A second
signal skips what is left of the drain.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

import uvicorn

__all__ = ["DrainingServer"]


class DrainingServer(uvicorn.Server):
    """A uvicorn server that drains for `drain_seconds` (calling `on_drain` first) before it stops."""

    def __init__(self, config: uvicorn.Config, *, on_drain: Callable[[], None], drain_seconds: float) -> None:
        super().__init__(config)
        self.on_drain = on_drain
        self.drain_seconds = drain_seconds
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # uvicorn's own handler also re-raises the signal after shutting down, which would end
        # the process "killed by SIGTERM"; a drained, finished server exits with status 0 instead.
        if self._draining or self.drain_seconds <= 0:
            self.force_exit = self.should_exit and sig == signal.SIGINT
            self.should_exit = True
            return
        self._draining = True
        self.on_drain()
        timer = threading.Timer(self.drain_seconds, setattr, args=(self, "should_exit", True))
        timer.daemon = True
        timer.start()
