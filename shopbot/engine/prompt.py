"""The system prompt, and cleaning the model's text before a shopper sees it."""

from __future__ import annotations

import re

__all__ = ["SYSTEM_PROMPT", "ReasoningFilter", "clean_text"]

SYSTEM_PROMPT = """\
You are the shopping assistant of an online shop. You help shoppers find products, \
compare them, get recommendations, and manage their cart.

Rules:
- Use the tools for every fact about products, prices, stock and the cart; never invent them.
- Quote prices exactly as the tools give them, with their currency.
- Refer to products by name. Use a product's id only in tool calls; find ids with search_products.
- When a request needs several independent lookups (for example comparing two products), \
call the tools together in one message.
- Before changing the cart, be sure which product the shopper means; ask if it is ambiguous.
- If a tool reports an error, tell the shopper plainly what went wrong and what they can do.
- Keep answers short and friendly; use markdown lists for several products.
"""

# Nova writes its reasoning in <thinking> tags; shoppers should only see the answer.
_THINKING = re.compile(r"<thinking>.*?(</thinking>|$)", re.DOTALL | re.IGNORECASE)


def clean_text(text: str) -> str:
    """The model's text without reasoning tags and surrounding blank space."""
    return _THINKING.sub("", text).strip()


class ReasoningFilter:
    """Drops `<thinking>…</thinking>` from text that arrives in pieces.

    A tag may be split across deltas, so text that could be the start of a tag
    is held back until the next piece shows what it is.
    """

    OPEN, CLOSE = "<thinking>", "</thinking>"

    def __init__(self) -> None:
        self._pending = ""
        self._inside = False

    def feed(self, text: str) -> str:
        """The part of `text` (with what was held back) that may be shown now."""
        buffer, shown = self._pending + text, []
        while True:
            tag = self.CLOSE if self._inside else self.OPEN
            found = buffer.lower().find(tag)
            if found >= 0:
                if not self._inside:
                    shown.append(buffer[:found])
                buffer, self._inside = buffer[found + len(tag) :], not self._inside
                continue
            keep = _partial_tag_length(buffer, tag)
            if not self._inside:
                shown.append(buffer[: len(buffer) - keep])
            self._pending = buffer[len(buffer) - keep :]
            return "".join(shown)


def _partial_tag_length(text: str, tag: str) -> int:
    """How many characters at the end of `text` could begin `tag`."""
    lowered = text.lower()
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(lowered[-size:]):
            return size
    return 0
