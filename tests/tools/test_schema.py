"""Tool schemas: generated from the structs, and in the shape Bedrock (Nova) accepts."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopbot.tools.schema import input_schema, tool_spec
from shopbot.tools.specs import TOOL_INPUTS, SearchProducts

# The public contract (shared/contracts/tools.md): names and input fields, exactly.
CONTRACT = {
    "search_products": {"query", "category", "min_price", "max_price", "limit"},
    "get_product": {"product_id"},
    "list_categories": set(),
    "add_to_cart": {"product_id", "quantity"},
    "view_cart": set(),
    "update_cart_item": {"product_id", "quantity"},
    "remove_from_cart": {"product_id"},
    "get_recommendations": {"product_id", "limit"},
}


def test_tools_match_the_contract() -> None:
    assert {name: set(input_schema(struct)["properties"]) for name, struct in TOOL_INPUTS.items()} == CONTRACT


@pytest.mark.parametrize("name", sorted(TOOL_INPUTS))
def test_schema_is_self_contained_and_nova_shaped(name: str) -> None:
    spec = tool_spec(name, TOOL_INPUTS[name])
    assert re.fullmatch(r"[a-z0-9_]{1,64}", spec.name)
    assert spec.description and "\n" not in spec.description
    assert list(spec.input_schema) == ["type", "properties", "required"]
    assert spec.input_schema["type"] == "object"
    text = json.dumps(spec.input_schema)
    for forbidden in ("$ref", "$defs", "title", "additionalProperties", "anyOf", '"null"', "decimal"):
        assert forbidden not in text
    assert "user" not in spec.input_schema["properties"]


def test_required_fields_are_the_ones_without_defaults() -> None:
    assert input_schema(TOOL_INPUTS["update_cart_item"])["required"] == ["product_id", "quantity"]
    assert input_schema(TOOL_INPUTS["add_to_cart"])["required"] == ["product_id"]
    assert input_schema(TOOL_INPUTS["search_products"])["required"] == []


def test_money_is_a_number_in_the_schema() -> None:
    properties = input_schema(SearchProducts)["properties"]
    assert properties["max_price"]["type"] == "number"
    assert properties["limit"] == {
        "description": "How many products to return.",
        "type": "integer",
        "minimum": 1,
        "maximum": 20,
        "default": 8,
    }


@given(st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False))
def test_prices_from_json_numbers_become_exact_decimals(price: Decimal) -> None:
    # Converse hands tool input over as parsed JSON, where a price is a float.
    decoded = msgspec.convert(json.loads(json.dumps({"max_price": float(price)})), SearchProducts)
    assert isinstance(decoded.max_price, Decimal)
    assert decoded.max_price == price


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("search_products", {"limit": 0}),
        ("search_products", {"limit": 21}),
        ("search_products", {"min_price": -1}),
        ("search_products", {"min_price": 10, "max_price": 5}),
        ("search_products", {"query": "x" * 201}),
        ("search_products", {"user_id": "someone-else"}),
        ("get_product", {}),
        ("get_product", {"product_id": "../admin"}),
        ("add_to_cart", {"product_id": "a", "quantity": 0}),
        ("add_to_cart", {"product_id": "a", "quantity": 100}),
        ("add_to_cart", {"product_id": "a", "quantity": True}),
        ("update_cart_item", {"product_id": "a"}),
        ("update_cart_item", {"product_id": "a", "quantity": -1}),
        ("get_recommendations", {"limit": 11}),
        ("view_cart", {"user_id": "someone-else"}),
    ],
)
def test_invalid_inputs_are_refused(name: str, payload: dict) -> None:
    with pytest.raises((msgspec.ValidationError, ValueError)):
        msgspec.convert(payload, TOOL_INPUTS[name])


@pytest.mark.parametrize("price", ["1e999999", "1e-999999", "0.001", 10**10, -1, "NaN", "Infinity"])
def test_absurd_prices_are_refused(price: object) -> None:
    with pytest.raises((msgspec.ValidationError, ValueError)):
        msgspec.convert({"max_price": price}, SearchProducts)
