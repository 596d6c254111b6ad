"""The `shopbot` command.

    shopbot chat            chat in the terminal (offline demo model and the embedded shop by default)
    shopbot storefront      run the reference storefront (the demo shop backend)
    shopbot mock-bedrock    run the local Converse-compatible endpoint with the offline model

Each command imports what it needs when it runs, so `shopbot --help` is quick.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `shopbot` command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="shopbot", description="A shopping-assistant chat service on Bedrock.")
    commands = parser.add_subparsers(dest="command", required=True)

    chat = commands.add_parser("chat", help="chat in the terminal")
    chat.add_argument(
        "--model",
        choices=("offline", "bedrock"),
        default="offline",
        help="offline: the deterministic demo model (no AWS); bedrock: the model from the environment's settings",
    )
    chat.add_argument(
        "--backend",
        default=None,
        help="storefront URL (default: the embedded demo shop, in-process; or BACKEND_API_URL with --model bedrock)",
    )
    chat.add_argument("--user", default=None, help="shopper id (default: a guest of the session)")

    shop = commands.add_parser("storefront", help="run the reference storefront")
    shop.add_argument("--host", default="127.0.0.1")
    shop.add_argument("--port", type=int, default=3001)
    shop.add_argument("--db", default="shopbot-demo.db", help="SQLite file (':memory:' for a throwaway shop)")
    shop.add_argument("--api-key", default=None, help="require this Bearer key on every request")

    mock = commands.add_parser("mock-bedrock", help="run the local Converse-compatible endpoint")
    mock.add_argument("--host", default="127.0.0.1")
    mock.add_argument("--port", type=int, default=9101)
    mock.add_argument("--latency-ms", type=float, default=0.0, help="delay before every answer")

    args = parser.parse_args(argv)
    if args.command == "storefront":
        from shopbot.shop.server import run_storefront

        run_storefront(args.host, args.port, args.db, args.api_key)
    elif args.command == "mock-bedrock":
        from shopbot.engine.offline import OfflineModel
        from shopbot.mock_bedrock.server import run_converse_endpoint

        run_converse_endpoint(args.host, args.port, OfflineModel(), latency_ms=args.latency_ms)
    else:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_chat(args.model, args.backend, args.user))
    return 0


@contextlib.asynccontextmanager
async def _open_storefront(url: str | None, settings: object) -> AsyncIterator[object]:
    import httpx

    from shopbot.storefront.client import StorefrontClient

    if url is not None:
        async with StorefrontClient(url, api_key=getattr(settings, "backend_api_key", None)) as client:
            yield client
        return
    from shopbot.shop.app import create_storefront_app

    transport = httpx.ASGITransport(app=create_storefront_app(":memory:"))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as http:
        yield StorefrontClient("http://shop", http=http)


async def _chat(model_name: str, backend: str | None, user: str | None) -> None:
    from shopbot.engine import Conversations, MemorySessionStore, create_engine
    from shopbot.settings import Settings

    settings = Settings.from_env()
    async with contextlib.AsyncExitStack() as stack:
        if model_name == "bedrock":
            from shopbot.engine.bedrock import open_bedrock_model

            model = await stack.enter_async_context(open_bedrock_model(settings))
            backend = backend or settings.backend_api_url
        else:
            from shopbot.engine.offline import OfflineModel

            model = OfflineModel()
        storefront = await stack.enter_async_context(_open_storefront(backend, settings))
        conversations = Conversations(create_engine(model, storefront, settings), MemorySessionStore())
        session_id = None
        print("shopbot — ask for products, your cart, or recommendations. Ctrl-D to quit.")
        while True:
            try:
                text = await asyncio.to_thread(input, "you> ")
            except EOFError:
                print()
                return
            if not text.strip():
                continue
            reply = await conversations.chat(text, session_id=session_id, user_id=user)
            session_id = reply.session_id
            tools = ", ".join(f"{t.name}:{t.status}" for t in reply.tool_calls)
            print(f"bot> {reply.reply}\n     [{reply.model_calls} model calls; tools: {tools or 'none'}]")


if __name__ == "__main__":
    sys.exit(main())
