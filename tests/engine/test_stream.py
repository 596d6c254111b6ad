"""The engine's streamed turn: the same loop, seen as it happens."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from shopbot.engine.loop import Engine, ToolFinished, ToolStarted, TurnFinished
from shopbot.engine.prompt import ReasoningFilter
from shopbot.engine.scripted import ScriptedModel, text_response, tool_response
from shopbot.messages import TextDelta
from shopbot.storefront.client import StorefrontClient
from shopbot.tools.dispatcher import Toolbox


async def test_a_streamed_turn_yields_tools_deltas_and_the_result(storefront: StorefrontClient) -> None:
    model = ScriptedModel(
        [
            tool_response(("view_cart", {}), ("list_categories", {}), text="<thinking>two lookups</thinking>"),
            text_response("<thinking>all empty</thinking>Your cart is empty, and we sell many things."),
        ]
    )
    events = [e async for e in Engine(model, Toolbox(storefront)).turn_events([], "cart?", user_id="u1")]
    kinds = [type(e) for e in events]
    assert kinds[:4] == [ToolStarted, ToolStarted, ToolFinished, ToolFinished]
    assert kinds[-1] is TurnFinished and set(kinds[4:-1]) == {TextDelta}
    result = events[-1].result
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == result.reply
    assert result.reply == "Your cart is empty, and we sell many things."
    assert [(e.name, e.status) for e in events if isinstance(e, ToolFinished)] == [
        ("view_cart", "success"),
        ("list_categories", "success"),
    ]


async def test_streamed_and_whole_turns_store_the_same_messages(storefront: StorefrontClient) -> None:
    script = [tool_response(("view_cart", {})), text_response("Empty.")]
    whole = await Engine(ScriptedModel(list(script)), Toolbox(storefront)).run_turn([], "cart?", user_id="u1", turn_id="t")
    events = [e async for e in Engine(ScriptedModel(list(script)), Toolbox(storefront)).turn_events([], "cart?", user_id="u1", turn_id="t")]
    assert events[-1].result.messages == whole.messages


THINKING = re.compile(r"<thinking>.*?(</thinking>|$)", re.DOTALL | re.IGNORECASE)
pieces = st.lists(st.sampled_from(["a", "b ", "<", ">", "<thinking>", "</thinking>", "<Thinking>", "think", "ing"]))


@given(pieces, st.lists(st.integers(1, 7), min_size=1))
def test_reasoning_is_filtered_across_any_split(parts: list[str], cuts: list[int]) -> None:
    text = "".join(parts) + "."
    chunks, position, index = [], 0, 0
    while position < len(text):
        size = cuts[index % len(cuts)]
        chunks.append(text[position : position + size])
        position, index = position + size, index + 1
    hidden = ReasoningFilter()
    shown = "".join(hidden.feed(chunk) for chunk in chunks)
    assert shown == THINKING.sub("", text)
