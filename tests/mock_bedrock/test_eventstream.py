"""The event-stream encoder, checked with botocore's own decoder."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from hypothesis import given
from hypothesis import strategies as st

from shopbot.messages import (
    Message,
    ModelResponse,
    StopReason,
    TextPart,
    ToolCall,
    Usage,
)
from shopbot.mock_bedrock.endpoint import stream_events
from shopbot.mock_bedrock.eventstream import (
    encode_event,
    encode_exception,
    encode_message,
)

header_values = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.uuids(),
)
headers = st.dictionaries(
    st.text(min_size=1, max_size=20).filter(lambda name: len(name.encode()) <= 255), header_values, max_size=6
)


def decode(data: bytes, split_at: list[int] = ()) -> list:
    buffer = EventStreamBuffer()
    messages = []
    start = 0
    for cut in [*sorted(split_at), len(data)]:
        buffer.add_data(data[start:cut])
        messages.extend(buffer)
        start = cut
    return messages


def as_decoded(value):
    return value.bytes if isinstance(value, uuid.UUID) else value


@given(st.lists(st.tuples(headers, st.binary(max_size=300)), min_size=1, max_size=4), st.data())
def test_messages_round_trip_through_botocore(messages, data):
    stream = b"".join(encode_message(h, payload) for h, payload in messages)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=5))

    decoded = decode(stream, cuts)

    assert [(m.headers, m.payload) for m in decoded] == [
        ({name: as_decoded(value) for name, value in h.items()}, payload) for h, payload in messages
    ]


def test_event_and_exception_headers():
    stream = encode_event("messageStart", {"role": "assistant"}) + encode_exception("throttlingException", "slow down")

    [event, error] = decode(stream)

    assert event.headers == {
        ":event-type": "messageStart",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(event.payload) == {"role": "assistant"}
    assert error.headers == {
        ":exception-type": "throttlingException",
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    assert json.loads(error.payload) == {"message": "slow down"}
    assert error.to_response_dict()["status_code"] == 400


@pytest.mark.parametrize("where", [5, 20, -2])
def test_corruption_is_detected(where):
    message = bytearray(encode_event("messageStop", {"stopReason": "end_turn"}))
    message[where] ^= 0xFF

    with pytest.raises(ChecksumMismatch):
        decode(bytes(message))


def test_oversized_header_name_is_refused():
    with pytest.raises(ValueError):
        encode_message({"x" * 256: "v"})


tool_inputs = st.dictionaries(
    st.text(min_size=1, max_size=10),
    st.one_of(
        st.text(max_size=30),
        st.integers(-(10**6), 10**6),
        st.booleans(),
        st.none(),
        st.lists(st.text(max_size=5), max_size=3),
    ),
    max_size=5,
)
parts = st.one_of(
    st.builds(TextPart, st.text(min_size=1, max_size=120)),
    st.builds(
        ToolCall, st.from_regex(r"tooluse_[a-zA-Z0-9]{1,20}", fullmatch=True), st.just("search_products"), tool_inputs
    ),
)


@given(st.lists(parts, min_size=1, max_size=4), st.sampled_from(list(StopReason)))
def test_stream_events_rebuild_the_message(message_parts, stop):
    response = ModelResponse(Message("assistant", tuple(message_parts)), stop, Usage(11, 22))

    events = [(m.headers[":event-type"], json.loads(m.payload)) for m in decode(b"".join(stream_events(response)))]

    assert events[0] == ("messageStart", {"role": "assistant"})
    assert events[-2] == ("messageStop", {"stopReason": stop.value})
    assert events[-1][0] == "metadata" and events[-1][1]["usage"]["totalTokens"] == 33
    blocks: dict[int, dict[str, str]] = defaultdict(lambda: {"text": "", "input": ""})
    for kind, payload in events[1:-2]:
        block = blocks[payload["contentBlockIndex"]]
        if kind == "contentBlockStart":
            block.update(payload["start"]["toolUse"])
        elif kind == "contentBlockDelta":
            block["text"] += payload["delta"].get("text", "")
            block["input"] += payload["delta"].get("toolUse", {}).get("input", "")
    rebuilt = [
        ToolCall(b["toolUseId"], b["name"], json.loads(b["input"])) if "toolUseId" in b else TextPart(b["text"])
        for _, b in sorted(blocks.items())
    ]
    assert rebuilt == message_parts
    indices = [p["contentBlockIndex"] for k, p in events if k == "contentBlockStop"]
    assert indices == list(range(len(message_parts)))
