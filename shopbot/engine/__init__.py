"""The shopbot engine: a hand-built Converse tool-use loop, usable without any web framework.

    from shopbot.engine import Conversations, MemorySessionStore, OfflineModel, StorefrontClient, create_engine

    async with StorefrontClient("http://127.0.0.1:3001") as shop:
        engine = create_engine(OfflineModel(), shop)
        chat = Conversations(engine, MemorySessionStore())
        reply = await chat.chat("a laptop under $1000")
"""

from shopbot.engine.bedrock import BedrockModel, open_bedrock_model
from shopbot.engine.conversations import ChatReply, Conversations
from shopbot.engine.loop import Engine, TurnResult
from shopbot.engine.model import ModelClient
from shopbot.engine.offline import OfflineModel
from shopbot.engine.scripted import ScriptedModel
from shopbot.observability.observer import NO_OBSERVER, Observer
from shopbot.sessions import MemorySessionStore, Session, SessionStore
from shopbot.settings import Settings
from shopbot.storefront.client import StorefrontClient
from shopbot.tools.dispatcher import ToolActivity, Toolbox

__all__ = [
    "BedrockModel",
    "ChatReply",
    "Conversations",
    "Engine",
    "MemorySessionStore",
    "ModelClient",
    "OfflineModel",
    "ScriptedModel",
    "Session",
    "SessionStore",
    "Settings",
    "StorefrontClient",
    "ToolActivity",
    "Toolbox",
    "TurnResult",
    "create_engine",
    "open_bedrock_model",
]


def create_engine(
    model: ModelClient,
    storefront: StorefrontClient,
    settings: Settings | None = None,
    *,
    observer: Observer = NO_OBSERVER,
) -> Engine:
    """An engine for `model` with the shop's tools on `storefront`, configured by `settings`, reporting to `observer`."""
    settings = settings or Settings()
    return Engine(
        model,
        Toolbox(storefront, observer=observer),
        system_prompt=settings.system_prompt,
        max_rounds=settings.max_tool_rounds,
        max_history_turns=settings.history_max_turns,
        turn_timeout=settings.turn_timeout_seconds,
        observer=observer,
    )
