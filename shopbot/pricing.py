"""What model calls cost: a price table per model, and the estimate for a turn's usage.

Prices are USD per 1,000 tokens, as `Decimal` (money is never a float). The
defaults are Amazon Nova's on-demand prices; `SHOPBOT_MODEL_PRICES` (JSON:
`{"<model id or family>": {"input": "0.0008", "output": "0.0032"}}`) adds or
replaces entries. A model is matched by the longest key contained in its id,
so `amazon.nova-pro` prices `us.amazon.nova-pro-v1:0`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import msgspec

from shopbot.messages import Usage

__all__ = ["DEFAULT_PRICES", "ModelPrice", "Pricing"]

THOUSAND = Decimal(1000)
COST_PLACES = Decimal("0.000001")


class ModelPrice(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """USD per 1,000 tokens. Cache reads default to a quarter of input, cache writes to input."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None

    def cost(self, usage: Usage) -> Decimal:
        """The estimated cost of `usage`, in USD, to a millionth of a dollar."""
        cache_read = self.cache_read if self.cache_read is not None else self.input / 4
        cache_write = self.cache_write if self.cache_write is not None else self.input
        total = (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_read_tokens * cache_read
            + usage.cache_write_tokens * cache_write
        ) / THOUSAND
        return total.quantize(COST_PLACES)


DEFAULT_PRICES: dict[str, ModelPrice] = {
    "amazon.nova-pro": ModelPrice(Decimal("0.0008"), Decimal("0.0032")),
    "amazon.nova-lite": ModelPrice(Decimal("0.00006"), Decimal("0.00024")),
    "amazon.nova-micro": ModelPrice(Decimal("0.000035"), Decimal("0.00014")),
}


class Pricing:
    """The price table: the defaults with the configured entries over them."""

    def __init__(self, overrides: Mapping[str, ModelPrice] | None = None) -> None:
        self.prices = {**DEFAULT_PRICES, **(overrides or {})}

    def price(self, model_id: str) -> ModelPrice | None:
        """The price of `model_id`, or None for a model with no price (the offline one)."""
        keys = [key for key in self.prices if key in model_id]
        return self.prices[max(keys, key=len)] if keys else None

    def cost(self, model_id: str, usage: Usage) -> Decimal | None:
        """The estimated cost of `usage` on `model_id` in USD, or None when it has no price."""
        price = self.price(model_id)
        return price.cost(usage) if price else None
