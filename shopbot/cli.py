"""The `shopbot` command.

    shopbot demo            the demo shop, the chat API and the offline model in one process
    shopbot serve           the chat service for production (configured from the environment)
    shopbot chat            chat in the terminal (with a running service, or in-process)
    shopbot storefront      the reference storefront (the demo shop backend)
    shopbot mock-bedrock    the local Converse-compatible endpoint with the offline model
    shopbot config          the effective configuration, secrets hidden

A bad setting stops any command with one line naming it (exit status 2).
Each command imports what it needs when it runs, so `shopbot --help` is quick.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence

import msgspec

from shopbot.errors import ConfigurationError
from shopbot.settings import Settings, env_name

__all__ = ["main"]

log = logging.getLogger("shopbot")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `shopbot` command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(env_file=".env")
        return COMMANDS[args.command](args, settings) or 0
    except ConfigurationError as exc:
        print(f"shopbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopbot", description="A shopping-assistant chat service on Bedrock.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="the demo shop + chat API + offline model, in one command")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000, help="chat API port")
    demo.add_argument("--shop-port", type=int, default=3001, help="demo storefront port")

    serve = commands.add_parser("serve", help="the chat service (production)")
    serve.add_argument("--host", default=None, help="default: SERVER_HOST")
    serve.add_argument("--port", type=int, default=None, help="default: SERVER_PORT")
    serve.add_argument("--workers", type=int, default=1)

    chat = commands.add_parser("chat", help="chat in the terminal")
    chat.add_argument("--url", default=None, help="a running chat service (default: an in-process engine)")
    chat.add_argument("--user", default=None, help="shopper id (default: a guest of the session)")

    shop = commands.add_parser("storefront", help="the reference storefront")
    shop.add_argument("--host", default="127.0.0.1")
    shop.add_argument("--port", type=int, default=3001)
    shop.add_argument("--db", default="shopbot-demo.db", help="SQLite file (':memory:' for a throwaway shop)")
    shop.add_argument("--api-key", default=None, help="require this Bearer key on every request")

    mock = commands.add_parser("mock-bedrock", help="the local Converse-compatible endpoint")
    mock.add_argument("--host", default="127.0.0.1")
    mock.add_argument("--port", type=int, default=9101)
    mock.add_argument("--latency-ms", type=float, default=0.0, help="delay before every answer")

    commands.add_parser("config", help="print the effective configuration (secrets hidden)")
    return parser


def _demo(args: argparse.Namespace, settings: Settings) -> None:
    from shopbot.demo import demo_settings, serve_demo
    from shopbot.logs import configure_logging

    settings = demo_settings(settings, host=args.host, port=args.port, shop_port=args.shop_port)
    configure_logging(settings.log_level, json=False, secrets=settings.secret_values())
    asyncio.run(serve_demo(settings, args.shop_port))


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    from shopbot.logs import configure_logging

    if settings.backend_api_url is None:
        raise ConfigurationError(f"{env_name('backend_api_url')} is required for serve: the shop backend's URL")
    if settings.auth is None:
        raise ConfigurationError(f"{env_name('auth')} is required for serve: none, api_key or jwt")
    from shopbot.web.auth import Authenticator

    Authenticator(settings)  # checks the auth settings now, not in each worker
    configure_logging(settings.log_level, json=True, secrets=settings.secret_values())
    if settings.auth == "none":
        log.warning(
            "SHOPBOT_AUTH=none: this service trusts the user_id of every request, so anyone who can reach it "
            "can act on any shopper's cart. Use api_key or jwt unless only a trusted backend can reach it."
        )
    host, port = args.host or settings.server_host, args.port or settings.server_port
    options = {"log_config": None, "access_log": False, "timeout_graceful_shutdown": settings.shutdown_grace_seconds}
    if args.workers > 1:
        # Each worker builds its own app; uvicorn's supervisor stops them gracefully (no drain phase).
        uvicorn.run("shopbot.app:create_app", factory=True, host=host, port=port, workers=args.workers, **options)
        return
    from shopbot.server import DrainingServer
    from shopbot.web import create_app

    app = create_app(settings)
    server = DrainingServer(
        uvicorn.Config(app, host=host, port=port, **options),
        on_drain=lambda: setattr(app.state, "draining", True),
        drain_seconds=settings.shutdown_drain_seconds,
    )
    server.run()


def _chat(args: argparse.Namespace, settings: Settings) -> None:
    from shopbot.terminal import chat_in_process, chat_with_service

    with contextlib.suppress(EOFError):
        if args.url:
            asyncio.run(chat_with_service(args.url, args.user))
        else:
            asyncio.run(chat_in_process(settings, args.user))


def _storefront(args: argparse.Namespace, settings: Settings) -> None:
    from shopbot.shop.server import run_storefront

    run_storefront(args.host, args.port, args.db, args.api_key)


def _mock_bedrock(args: argparse.Namespace, settings: Settings) -> None:
    from shopbot.engine.offline import OfflineModel
    from shopbot.mock_bedrock.server import run_converse_endpoint

    run_converse_endpoint(args.host, args.port, OfflineModel(), latency_ms=args.latency_ms)


def _config(args: argparse.Namespace, settings: Settings) -> None:
    values = settings.redacted()
    width = max(len(env_name(field)) for field in values)
    for field, value in values.items():
        shown = ",".join(value) if isinstance(value, tuple) else value
        print(f"{env_name(field):<{width}}  {msgspec.json.encode(shown).decode()}")


COMMANDS = {
    "demo": _demo,
    "serve": _serve,
    "chat": _chat,
    "storefront": _storefront,
    "mock-bedrock": _mock_bedrock,
    "config": _config,
}

if __name__ == "__main__":
    sys.exit(main())
