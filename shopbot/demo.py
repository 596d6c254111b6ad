"""`shopbot demo`: the reference storefront and the chat service in one process.

The storefront (with its demo catalog, in memory) and the chat API each get a
loopback port; the model is the offline demo model unless the environment
asks for Bedrock (`SHOPBOT_MODEL_PROVIDER=bedrock`).
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
import uvicorn

from shopbot.settings import Settings
from shopbot.shop.app import create_storefront_app
from shopbot.web import create_app

__all__ = ["demo_settings", "serve_demo"]

LOCAL_ORIGINS = ("http://localhost", "http://127.0.0.1")


def demo_settings(settings: Settings, *, host: str, port: int, shop_port: int) -> Settings:
    """The settings the demo runs with: its own shop, the offline model, localhost CORS.

    Bedrock only when asked for (`SHOPBOT_MODEL_PROVIDER=bedrock`): a fresh machine has no AWS.
    """
    origins = settings.cors_allow_origins or tuple(
        f"{origin}:{port}" for origin in LOCAL_ORIGINS
    ) + LOCAL_ORIGINS
    return msgspec.structs.replace(
        settings,
        backend_api_url=f"http://{host}:{shop_port}",
        backend_api_key=None,
        model_provider=settings.model_provider or "offline",
        cors_allow_origins=origins,
        server_host=host,
        server_port=port,
    )


async def serve_demo(settings: Settings, shop_port: int) -> None:
    """Serve the storefront and the chat API until interrupted."""
    servers = [
        uvicorn.Server(uvicorn.Config(app, host=settings.server_host, port=port, log_config=None, access_log=False))
        for app, port in (
            (create_storefront_app(":memory:"), shop_port),
            (create_app(settings), settings.server_port),
        )
    ]
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            break
        await asyncio.sleep(0.05)
    if all(server.started for server in servers):
        base = f"http://{settings.server_host}:{settings.server_port}"
        print(
            f"\nshopbot demo is running ({settings.model_provider} model)\n"
            f"  chat widget   {base}/demo\n"
            f"  chat API      POST {base}/api/v1/chat\n"
            f"  API docs      {base}/docs\n"
            f"  storefront    {settings.backend_api_url}/api/products\n"
            f"  try           curl -s {base}/api/v1/chat -H 'content-type: application/json' "
            f"-d '{{\"message\": \"Show me laptops under $1000\"}}'\n"
            "Ctrl-C stops it.\n",
            flush=True,
        )
    else:
        for server in servers:
            server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks)
