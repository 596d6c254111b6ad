"""The ASGI entry point for process managers: `uvicorn shopbot.app:create_app --factory`.

It reads the configuration from the environment (and `.env`), sets up
logging, and builds the chat service's app. `shopbot serve` runs the same.
"""

from __future__ import annotations

from litestar import Litestar

from shopbot.logs import configure_logging
from shopbot.settings import Settings
from shopbot.web import create_app as create_web_app

__all__ = ["create_app"]


def create_app() -> Litestar:
    """The chat service for the environment's settings, logging JSON lines."""
    settings = Settings.from_env(env_file=".env")
    configure_logging(settings.log_level, json=True, secrets=settings.secret_values())
    return create_web_app(settings)
