"""Conversation histories that Converse accepts: checking, repairing, trimming.

A stored history is a sequence of complete turns. A turn is::

    user(text)  [assistant(tool calls)  user(tool results)]*  assistant(text)

so the whole history starts with a user message, alternates roles, answers
every tool call in the very next message (same ids, nothing extra), has no
empty text, and ends with the assistant. A history that breaks these rules
would make every later Converse call fail with the same ValidationException,
bricking the session — so it is checked before every call and repaired (cut
back to its longest valid run of whole turns) rather than sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from shopbot.errors import HistoryError
from shopbot.messages import Message, TextPart, ToolCall, ToolResult

__all__ = ["check_request", "check_stored", "compact", "repair", "split_turns", "trim"]


def _check_parts(index: int, message: Message) -> None:
    if not message.parts:
        raise HistoryError(f"message {index} has no content")
    for part in message.parts:
        if isinstance(part, TextPart) and not part.text.strip():
            raise HistoryError(f"message {index} has an empty text block")
        if isinstance(part, ToolResult) and (message.role != "user" or not part.content.strip()):
            raise HistoryError(f"message {index} has a misplaced or empty tool result")
        if isinstance(part, ToolCall) and message.role != "assistant":
            raise HistoryError(f"message {index} has a tool call from the user")


def _check_answers(index: int, calls: Sequence[ToolCall], answer: Message | None) -> None:
    results = answer.tool_results if answer is not None else ()
    if [c.id for c in calls] != [r.tool_call_id for r in results]:
        raise HistoryError(f"the tool calls of message {index} are not answered in the next message")
    if answer is not None and len(results) != len(answer.parts):
        raise HistoryError(f"message {index + 1} mixes tool results with other content")


def check_request(messages: Sequence[Message]) -> None:
    """Raise `HistoryError` unless `messages` may be sent to Converse as they are.

    A request ends with the user; every tool call before it must be answered.
    """
    if not messages:
        raise HistoryError("a conversation needs at least one message")
    if messages[0].role != "user" or messages[0].tool_results:
        raise HistoryError("a conversation must start with a user message")
    if messages[-1].role != "user":
        raise HistoryError("a request must end with a user message")
    previous_calls: tuple[ToolCall, ...] = ()
    for index, message in enumerate(messages):
        _check_parts(index, message)
        if index and message.role == messages[index - 1].role:
            raise HistoryError(f"messages {index - 1} and {index} have the same role")
        if previous_calls or message.tool_results:
            _check_answers(index - 1, previous_calls, message)
        previous_calls = message.tool_calls


def check_stored(history: Sequence[Message]) -> None:
    """Raise `HistoryError` unless `history` is a run of complete turns."""
    if not history:
        return
    if history[-1].role != "assistant" or history[-1].tool_calls:
        raise HistoryError("a stored history must end with the assistant's answer")
    check_request(history[:-1])
    _check_parts(len(history) - 1, history[-1])


def split_turns(history: Sequence[Message]) -> list[list[Message]]:
    """The history cut into turns, each starting at a user message with text."""
    turns: list[list[Message]] = []
    for message in history:
        if message.role == "user" and not message.tool_results:
            turns.append([])
        if turns:
            turns[-1].append(message)
    return turns


def repair(history: Sequence[Message]) -> list[Message]:
    """The longest prefix of `history` made of whole, valid turns."""
    try:
        check_stored(history)
        return list(history)
    except HistoryError:
        pass
    kept: list[Message] = []
    if not history or history[0].role != "user":
        return kept
    for turn in split_turns(history):
        candidate = kept + turn
        try:
            check_stored(candidate)
        except HistoryError:
            break
        kept = candidate
    return kept


def trim(history: Sequence[Message], max_turns: int) -> list[Message]:
    """The last `max_turns` turns of a valid history (never splits a tool call from its result)."""
    turns = split_turns(history)
    if max_turns <= 0:
        return []
    if len(turns) <= max_turns:
        return list(history)
    return [message for turn in turns[-max_turns:] for message in turn]


def compact(history: Sequence[Message], keep_turns: int, shorten: Callable[[str], str]) -> list[Message]:
    """The history with the tool results of the turn just past the last `keep_turns` passed through `shorten`.

    Older results are re-sent on every call of every later turn; what a shopper
    refers back to ("add the HP") needs far less than what answered the question.
    Called after every turn, this shortens each turn once, as it ages out of the
    last `keep_turns` (turns before it were shortened when they aged). Only
    result contents change, so a valid history stays valid.
    """
    turns = split_turns(history)
    aging = len(turns) - keep_turns - 1
    if aging < 0:
        return list(history)
    turns[aging] = [_shortened(message, shorten) for message in turns[aging]]
    return [message for turn in turns for message in turn]


def _shortened(message: Message, shorten: Callable[[str], str]) -> Message:
    if not message.tool_results:
        return message
    parts = tuple(
        ToolResult(part.tool_call_id, shorten(part.content), part.is_error)
        if isinstance(part, ToolResult) and not part.is_error
        else part
        for part in message.parts
    )
    return Message(message.role, parts)
