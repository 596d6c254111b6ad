"""Session stores: where conversations live between turns."""

from shopbot.sessions.memory import MemorySessionStore
from shopbot.sessions.store import Session, SessionStore

__all__ = ["MemorySessionStore", "Session", "SessionStore"]
