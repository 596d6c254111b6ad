"""Any sequence of saves, loads and deletes behaves like a small LRU dict."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from hypothesis import given, settings
from hypothesis import strategies as st

from shopbot.sessions import MemorySessionStore, Session

BOUND = 3
ids = st.sampled_from(["a", "b", "c", "d", "e"])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("save"), ids, st.integers(0, 3)),
        st.tuples(st.just("load"), ids, st.just(0)),
        st.tuples(st.just("delete"), ids, st.just(0)),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(operations)
def test_the_memory_store_matches_a_dict_model(steps: list[tuple[str, str, int]]) -> None:
    async def run() -> None:
        store = MemorySessionStore(max_sessions=BOUND)
        model: OrderedDict[str, Session] = OrderedDict()
        for action, session_id, version in steps:
            if action == "save":
                model[session_id] = Session(session_id, "alice", updated_at=version)
                model.move_to_end(session_id)
                while len(model) > BOUND:
                    model.popitem(last=False)
                await store.save(model[session_id])
            elif action == "load":
                if session_id in model:
                    model.move_to_end(session_id)
                assert await store.load(session_id) == model.get(session_id)
            else:
                assert await store.delete(session_id) is (model.pop(session_id, None) is not None)
            assert len(store) == len(model)

    asyncio.run(run())
