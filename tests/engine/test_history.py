"""History rules: checking, repairing and trimming keep a history Converse accepts."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopbot.engine import history as histories
from shopbot.errors import HistoryError
from shopbot.messages import Message, TextPart, ToolCall, ToolResult

words = st.text(alphabet=string.ascii_letters + " ", min_size=1, max_size=20).filter(
    str.strip
)


@st.composite
def turns(draw: st.DrawFn, prefix: str = "t") -> list[Message]:
    """One complete, valid turn with 0-3 rounds of 1-3 tool calls."""
    messages = [Message.user(draw(words))]
    for round_index in range(draw(st.integers(0, 3))):
        count = draw(st.integers(1, 3))
        calls = tuple(
            ToolCall(f"{prefix}{round_index}_{i}", "view_cart", {})
            for i in range(count)
        )
        text = (TextPart(draw(words)),) if draw(st.booleans()) else ()
        messages.append(Message("assistant", text + calls))
        results = tuple(
            ToolResult(c.id, '{"ok":true}', draw(st.booleans())) for c in calls
        )
        messages.append(Message("user", results))
    messages.append(Message.assistant(draw(words)))
    return messages


@st.composite
def valid_histories(draw: st.DrawFn) -> list[Message]:
    count = draw(st.integers(0, 6))
    return [m for n in range(count) for m in draw(turns(prefix=f"t{n}x"))]


def corrupt(history: list[Message], data: st.DataObject) -> list[Message]:
    """The history with one random defect of the kinds that have bricked sessions."""
    if not history:
        return [Message("assistant", (TextPart("hi"),))]
    index = data.draw(st.integers(0, len(history) - 1))
    kind = data.draw(
        st.sampled_from(["drop", "duplicate", "empty_text", "orphan_call", "truncate"])
    )
    broken = list(history)
    if kind == "drop":
        del broken[index]
    elif kind == "duplicate":
        broken.insert(index, broken[index])
    elif kind == "empty_text":
        broken[index] = Message(broken[index].role, (TextPart("  "),))
    elif kind == "orphan_call":
        broken.append(Message("assistant", (ToolCall("orphan", "view_cart", {}),)))
    else:
        broken = broken[:index]
    return broken


@given(valid_histories())
def test_generated_histories_are_valid(history: list[Message]) -> None:
    histories.check_stored(history)


@given(valid_histories(), st.data())
@settings(max_examples=300)
def test_repair_always_returns_a_valid_prefix(
    history: list[Message], data: st.DataObject
) -> None:
    broken = corrupt(history, data)
    repaired = histories.repair(broken)
    histories.check_stored(repaired)
    assert repaired == broken[: len(repaired)]


@given(valid_histories())
def test_repair_keeps_a_valid_history_whole(history: list[Message]) -> None:
    assert histories.repair(history) == history


@given(valid_histories(), st.integers(0, 8))
def test_trim_keeps_whole_turns(history: list[Message], max_turns: int) -> None:
    trimmed = histories.trim(history, max_turns)
    histories.check_stored(trimmed)
    assert len(histories.split_turns(trimmed)) == min(
        max_turns, len(histories.split_turns(history))
    )
    assert trimmed == history[len(history) - len(trimmed) :]


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ([], "at least one"),
        ([Message.assistant("hi")], "start with a user"),
        ([Message.user("a"), Message.user("b")], "same role"),
        ([Message.user(" ")], "empty text"),
        (
            [
                Message.user("a"),
                Message("assistant", (ToolCall("x", "view_cart", {}),)),
            ],
            "end with a user",
        ),
        (
            [
                Message.user("a"),
                Message("assistant", (ToolCall("x", "view_cart", {}),)),
                Message.user("b"),
            ],
            "not answered",
        ),
        (
            [
                Message.user("a"),
                Message("assistant", (ToolCall("x", "view_cart", {}),)),
                Message("user", (ToolResult("y", "{}"),)),
            ],
            "not answered",
        ),
        (
            [
                Message.user("a"),
                Message("assistant", (ToolCall("x", "view_cart", {}),)),
                Message("user", (ToolResult("x", "{}"), ToolResult("x", "{}"))),
            ],
            "not answered",
        ),
        (
            [
                Message.user("a"),
                Message("assistant", (ToolCall("x", "view_cart", {}),)),
                Message("user", (ToolResult("x", "{}"), TextPart("more"))),
            ],
            "mixes",
        ),
        (
            [
                Message.user("a"),
                Message.assistant("b"),
                Message("user", (ToolResult("x", "{}"),)),
            ],
            "not answered",
        ),
        ([Message("user", (ToolResult("x", "{}"),))], "start with a user"),
        (
            [
                Message.user("a"),
                Message.assistant("b"),
                Message("user", (ToolResult("x", " "),)),
            ],
            "empty tool result",
        ),
    ],
)
def test_check_request_refuses_what_converse_refuses(
    messages: list[Message], reason: str
) -> None:
    with pytest.raises(HistoryError, match=reason):
        histories.check_request(messages)


def test_stored_history_must_end_with_an_answer() -> None:
    with pytest.raises(HistoryError, match="end with the assistant"):
        histories.check_stored([Message.user("a")])


@given(st.lists(turns(), max_size=6), st.integers(0, 3))
def test_compacting_after_every_turn_shortens_all_but_the_recent_turns(
    played: list[list[Message]], keep: int
) -> None:
    # As Conversations does: after each turn, the turn that ages out is shortened, once.
    history: list[Message] = []
    for n, turn in enumerate(played):
        turn = [
            Message(
                m.role,
                tuple(
                    ToolResult(f"t{n}{p.tool_call_id}", p.content, p.is_error)
                    if isinstance(p, ToolResult)
                    else ToolCall(f"t{n}{p.id}", p.name, p.input)
                    if isinstance(p, ToolCall)
                    else p
                    for p in m.parts
                ),
            )
            for m in turn
        ]
        history = histories.compact(
            [*history, *turn], keep, lambda content: "short:" + content
        )
        histories.check_stored(history)
    split = histories.split_turns(history)
    recent = split[len(split) - min(keep, len(split)) :]
    old = split[: len(split) - len(recent)]
    for turn in recent:
        assert not any(
            r.content.startswith("short:") for m in turn for r in m.tool_results
        )
    for turn in old:  # shortened exactly once; error results left as they are
        assert all(
            r.content.startswith("short:") != r.is_error
            for m in turn
            for r in m.tool_results
        )
        assert not any(
            r.content.startswith("short:short:") for m in turn for r in m.tool_results
        )
