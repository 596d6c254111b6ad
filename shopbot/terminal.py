"""`shopbot chat`: a terminal conversation, with a running service or an in-process engine."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import msgspec

from shopbot.engine import create_engine
from shopbot.engine.conversations import ChatReply, Conversations
from shopbot.messages import TextDelta
from shopbot.runtime import open_model
from shopbot.sessions import MemorySessionStore
from shopbot.settings import Settings
from shopbot.storefront.client import StorefrontClient

__all__ = ["chat_in_process", "chat_with_service"]

# One exchange: text and session id in; the answer is printed as it streams; the session id
# and a line about the turn come back.
Exchange = Callable[[str, str | None], Awaitable[tuple[str, str]]]


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
            print("bot> ", end="", flush=True)
            session_id, about = await exchange(text, session_id)
            print(f"\n     [{about}]")


class _Printer:
    """Prints an answer's deltas as they come; falls back to the whole answer if none came."""

    def __init__(self) -> None:
        self.printed = False

    def delta(self, text: str) -> None:
        print(text, end="", flush=True)
        self.printed = True

    def whole(self, text: str) -> None:
        if not self.printed:
            print(text, end="", flush=True)


async def chat_with_service(url: str, user_id: str | None) -> None:
    """Chat with the service at `url`, streaming its answers (`/api/v1/chat/stream`)."""
    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=60) as http:

        async def exchange(text: str, session_id: str | None) -> tuple[str, str]:
            body = {k: v for k, v in {"message": text, "session_id": session_id, "user_id": user_id}.items() if v}
            printer, tools = _Printer(), []
            async with http.stream("POST", "/api/v1/chat/stream", json=body) as response:
                if response.status_code != 200:
                    error = json.loads(await response.aread())
                    printer.whole(error.get("response", "?"))
                    return session_id or "", f"error: {error.get('error')}"
                event = ""
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        data = json.loads(line[6:])
                        if event == "text":
                            printer.delta(data["text"])
                        elif event == "tool" and data["status"] != "running":
                            tools.append(f"{data['name']}:{data['status']}")
                        elif event in ("done", "error"):
                            printer.whole(data["response"])
                            session_id = data.get("session_id") or session_id
            return session_id or "", f"tools: {', '.join(tools) or 'none'}"

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

        async def exchange(text: str, session_id: str | None) -> tuple[str, str]:
            printer = _Printer()
            async for event in conversations.chat_events(text, session_id=session_id, user_id=user_id):
                if isinstance(event, TextDelta):
                    printer.delta(event.text)
                elif isinstance(event, ChatReply):
                    printer.whole(event.reply)
                    tools = ", ".join(f"{t.name}:{t.status}" for t in event.tool_calls) or "none"
                    return event.session_id, f"{event.model_calls} model calls; tools: {tools}"
            raise AssertionError("a chat always ends with its reply")  # pragma: no cover

        await _loop(exchange)
