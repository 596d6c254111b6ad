"""Tool input schemas for Converse's `toolConfig`, generated from the msgspec structs.

msgspec writes a `$ref` to `$defs` at the top, titles, `anyOf [X, null]` for
optional fields and `"format": "decimal"` strings for `Decimal`. Nova accepts
only `type`, `properties` and `required` at the top level and no references,
so the schema is inlined and stripped here; optional fields simply leave
`required`, and money is a JSON number (msgspec turns it into an exact Decimal
when the call is validated).
"""

from __future__ import annotations

import inspect
from typing import Any

import msgspec

from shopbot.messages import ToolSpec

__all__ = ["input_schema", "tool_spec"]

_TOP_LEVEL_KEYS = ("type", "properties", "required")


def input_schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """A self-contained JSON schema for a tool input struct (no `$ref`, no `$defs`)."""
    raw = msgspec.json.schema(struct)
    definitions = raw.get("$defs", {})
    inlined = _inline(raw, definitions)
    inlined.setdefault("properties", {})
    inlined.setdefault("required", [])
    return {key: inlined[key] for key in _TOP_LEVEL_KEYS}


def tool_spec(name: str, struct: type[msgspec.Struct]) -> ToolSpec:
    """The `ToolSpec` of a tool: its name, its struct's docstring, its input schema."""
    description = " ".join(inspect.cleandoc(struct.__doc__ or name).split())
    return ToolSpec(name, description, input_schema(struct))


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = definitions[node["$ref"].rsplit("/", 1)[-1]]
        return _inline(target, definitions)
    if "anyOf" in node:
        options = [option for option in node["anyOf"] if option.get("type") != "null"]
        if len(options) == 1:
            merged = {**_inline(options[0], definitions)}
            if "default" in node and node["default"] is not None:
                merged["default"] = node["default"]
            return merged
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "$defs", "additionalProperties") or (key == "default" and value is None):
            continue
        out[key] = value if key in ("required", "enum") else _inline(value, definitions)
    if out.get("format") == "decimal":
        del out["format"]
        out["type"] = "number"
    return out
