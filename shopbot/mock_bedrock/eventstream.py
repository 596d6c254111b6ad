"""The AWS event-stream binary framing, encoder side.

One message is::

    prelude   total length (u32) | headers length (u32) | CRC32 of those 8 bytes (u32)
    headers   name length (u8) | name | type (u8) | value ...
    payload   bytes
    trailer   CRC32 of everything before it (u32)

all big-endian. `botocore.eventstream.EventStreamBuffer` is the decoder this
encoder is tested against. Converse's stream events carry three string
headers and a JSON payload; the header block of each event type is built once.
"""

from __future__ import annotations

import functools
import struct
import uuid
import zlib
from collections.abc import Mapping
from typing import Any

import msgspec

__all__ = ["HeaderValue", "encode_event", "encode_exception", "encode_headers", "encode_message"]

HeaderValue = bool | int | str | bytes | uuid.UUID

_PRELUDE = struct.Struct("!III")
_CRC = struct.Struct("!I")
_INT32 = struct.Struct("!i")
_INT64 = struct.Struct("!q")
_U16 = struct.Struct("!H")
_MAX_HEADERS = 128 * 1024
_MAX_PAYLOAD = 24 * 1024 * 1024
_JSON = msgspec.json.Encoder()


def _header(name: str, value: HeaderValue) -> bytes:
    raw_name = name.encode()
    if not 1 <= len(raw_name) <= 255:
        raise ValueError(f"header name must be 1..255 bytes: {name!r}")
    prefix = bytes((len(raw_name),)) + raw_name
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return prefix + (b"\x00" if value else b"\x01")
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return prefix + b"\x04" + _INT32.pack(value)
        return prefix + b"\x05" + _INT64.pack(value)
    if isinstance(value, uuid.UUID):
        return prefix + b"\x09" + value.bytes
    raw, kind = (value.encode(), b"\x07") if isinstance(value, str) else (bytes(value), b"\x06")
    if len(raw) > 0xFFFF:
        raise ValueError(f"header {name!r} value is longer than 65535 bytes")
    return prefix + kind + _U16.pack(len(raw)) + raw


def encode_headers(headers: Mapping[str, HeaderValue]) -> bytes:
    """The header block of a message (type codes as botocore decodes them)."""
    block = b"".join(_header(name, value) for name, value in headers.items())
    if len(block) > _MAX_HEADERS:
        raise ValueError("header block is larger than 128 KiB")
    return block


def _frame(header_block: bytes, payload: bytes) -> bytes:
    if len(payload) > _MAX_PAYLOAD:
        raise ValueError("payload is larger than 24 MiB")
    total = _PRELUDE.size + len(header_block) + len(payload) + _CRC.size
    head = struct.pack("!II", total, len(header_block))
    prelude = head + _CRC.pack(zlib.crc32(head))
    body = prelude + header_block + payload
    return body + _CRC.pack(zlib.crc32(body))


def encode_message(headers: Mapping[str, HeaderValue], payload: bytes = b"") -> bytes:
    """One event-stream message.

    Header values map to wire types by Python type: `bool` → boolean, `int` →
    int32 (int64 when it does not fit), `str` → string, `bytes` → byte array,
    `uuid.UUID` → uuid.
    """
    return _frame(encode_headers(headers), payload)


@functools.lru_cache(maxsize=64)
def _event_headers(event_type: str) -> bytes:
    return encode_headers(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    )


@functools.lru_cache(maxsize=16)
def _exception_headers(exception_type: str) -> bytes:
    return encode_headers(
        {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    )


def encode_event(event_type: str, payload: Any) -> bytes:
    """A Converse stream event, e.g. `encode_event("messageStart", {"role": "assistant"})`."""
    return _frame(_event_headers(event_type), _JSON.encode(payload))


def encode_exception(exception_type: str, message: str) -> bytes:
    """An in-stream error, e.g. `encode_exception("throttlingException", "Too many requests")`.

    botocore raises it as `EventStreamError` whose code is `exception_type`.
    """
    return _frame(_exception_headers(exception_type), _JSON.encode({"message": message}))
