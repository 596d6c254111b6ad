"""Bedrock's prompt caching, simulated, so that cache points and cache usage can be tested locally.

A request's content up to each `cachePoint` block (system blocks first, then
messages) is a prefix. A prefix seen before is read from the cache; a new one
is written. Usage then reports `cacheReadInputTokens` (the longest prefix read)
and `cacheWriteInputTokens` (what the longest new prefix adds beyond it), and
`inputTokens` keeps only the rest, as Bedrock does. Tokens are bytes ÷ 4.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import msgspec

from shopbot.messages import Usage

__all__ = ["PromptCache"]

_encode = msgspec.json.encode


class PromptCache:
    """The prefixes seen so far (least recently used go first past `capacity`)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[str, None] = OrderedDict()

    def account(self, wire: dict[str, Any], usage: Usage) -> Usage:
        """`usage` with the cache's part of the input split off."""
        read = written = 0
        for digest, tokens in _prefixes(wire):
            if digest in self._seen:
                self._seen.move_to_end(digest)
                read = max(read, tokens)
            else:
                self._seen[digest] = None
                written = max(written, tokens)
                if len(self._seen) > self.capacity:
                    self._seen.popitem(last=False)
        written = max(0, written - read)
        rest = max(0, usage.input_tokens - read - written)
        return msgspec.structs.replace(usage, input_tokens=rest, cache_read_tokens=read, cache_write_tokens=written)


def _prefixes(wire: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """(digest, tokens) of the content up to each cache point, in order."""
    hasher, size = hashlib.sha256(), 0
    blocks = [(None, block) for block in wire.get("system", [])]
    blocks += [(message.get("role"), block) for message in wire.get("messages", []) for block in message["content"]]
    for role, block in blocks:
        if "cachePoint" in block:
            yield hasher.copy().hexdigest(), size // 4
            continue
        chunk = _encode([role, block])
        hasher.update(chunk)
        size += len(chunk)
