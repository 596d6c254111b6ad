"""`shopbot chat`: a terminal conversation, with a running service or an in-process engine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import msgspec

from shopbot.engine import create_engine
from shopbot.engine.conversations import Conversations
from shopbot.runtime import open_model
from shopbot.sessions import MemorySessionStore
from shopbot.settings import Settings
from shopbot.storefront.client import StorefrontClient

__all__ = ["chat_in_process", "chat_with_service"]

# One exchange: (text, session id) -> (reply, session id, a line about the turn).
Exchange = Callable[[str, str | None], Awaitable[tuple[str, str, str]]]


async def _loop(exchange: Exchange) -> None:
    print("shopbot — ask for products, your cart, or recommendations. Ctrl-D to quit.")
    session_id = None
    while True:
        try:
            text = await asyncio.to_thread(input, "you> ")
        except EOFError:
            print()
            return
        if text.strip():
            reply, session_id, about = await exchange(text, session_id)
            print(f"bot> {reply}\n     [{about}]")


async def chat_with_service(url: str, user_id: str | None) -> None:
    """Chat with the service at `url` over its HTTP API."""
    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=60) as http:

        async def exchange(text: str, session_id: str | None) -> tuple[str, str, str]:
            body = {"message": text, "session_id": session_id, "user_id": user_id}
            answer = (await http.post("/api/v1/chat", json={k: v for k, v in body.items() if v})).json()
            if answer.get("status") != "success":
                return answer.get("response", "?"), session_id or "", f"error: {answer.get('error')}"
            tools = ", ".join(f"{t['name']}:{t['status']}" for t in answer.get("tools", [])) or "none"
            return answer["response"], answer["session_id"], f"tools: {tools}"

        await _loop(exchange)


@contextlib.asynccontextmanager
async def _storefront(settings: Settings) -> AsyncIterator[StorefrontClient]:
    if settings.backend_api_url is not None:
        async with StorefrontClient.from_settings(settings) as client:
            yield client
        return
    from shopbot.shop.app import create_storefront_app

    transport = httpx.ASGITransport(app=create_storefront_app(":memory:"))
    async with httpx.AsyncClient(transport=transport) as http:
        yield StorefrontClient("http://shop", http=http)


async def chat_in_process(settings: Settings, user_id: str | None) -> None:
    """Chat with an engine in this process: the embedded demo shop unless BACKEND_API_URL is set."""
    settings = msgspec.structs.replace(settings, model_provider=settings.model_provider or "offline")
    async with open_model(settings) as model, _storefront(settings) as storefront:
        conversations = Conversations(create_engine(model, storefront, settings), MemorySessionStore())

        async def exchange(text: str, session_id: str | None) -> tuple[str, str, str]:
            reply = await conversations.chat(text, session_id=session_id, user_id=user_id)
            tools = ", ".join(f"{t.name}:{t.status}" for t in reply.tool_calls) or "none"
            return reply.reply, reply.session_id, f"{reply.model_calls} model calls; tools: {tools}"

        await _loop(exchange)
