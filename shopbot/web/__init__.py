"""The HTTP API on Litestar: wiring over `shopbot.runtime`."""

from shopbot.web.app import create_app

__all__ = ["create_app"]
