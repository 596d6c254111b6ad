"""Recommendations: complementary -> cart -> personal -> popular, as the contract orders them.

Products "go with" a product through explicit complement rules between categories
(a laptop wants a mouse, a sleeve, a keyboard...). An accessory that declares a
``compatible`` attribute only goes with the categories it names. Within a category,
products rank by popularity (distinct users who added them to a cart), then rating;
the result then takes one product per category in turn, so five recommendations
are not five mice. Never recommended: the product asked about, products in the
user's cart, products out of stock; ``personal`` also skips what the user already
had in the cart before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from shopbot.shop.models import Product, Recommendations, Strategy

COMPLEMENTS: dict[str, tuple[str, ...]] = {
    "laptops": ("mice", "accessories", "keyboards", "headphones", "monitors", "storage"),
    "headphones": ("accessories", "phones", "tablets", "wearables"),
    "monitors": ("keyboards", "mice", "accessories", "speakers"),
    "keyboards": ("mice", "accessories", "monitors"),
    "mice": ("keyboards", "accessories", "monitors"),
    "phones": ("accessories", "headphones", "wearables", "storage"),
    "tablets": ("accessories", "keyboards", "headphones"),
    "accessories": ("storage", "mice", "keyboards", "headphones"),
    "smart-home": ("smart-home", "networking", "speakers"),
    "cameras": ("storage", "accessories"),
    "storage": ("accessories", "networking"),
    "speakers": ("smart-home", "networking", "phones"),
    "wearables": ("accessories", "phones", "headphones"),
    "networking": ("smart-home", "accessories", "storage"),
    "gaming": ("accessories", "headphones", "monitors", "storage"),
}


@dataclass(frozen=True)
class Context:
    """What the strategy can look at: the product asked about, the cart, the history."""

    product: Product | None = None
    cart: Sequence[Product] = ()
    history: Sequence[Product] = ()
    popularity: dict[str, int] = field(default_factory=dict)


def recommend(candidates: Sequence[Product], context: Context, limit: int) -> Recommendations:
    """Pick up to ``limit`` products from ``candidates`` for this context."""
    excluded = {p.id for p in context.cart}
    strategy: Strategy
    if context.product is not None:
        strategy, sources = "complementary", [context.product]
        excluded.add(context.product.id)
        categories = _complement_categories(sources)
    elif context.cart:
        strategy, sources = "cart", list(context.cart)
        owned = {p.category for p in sources}
        ranked = _complement_categories(sources)
        categories = [c for c in ranked if c not in owned] + [c for c in ranked if c in owned]
    elif context.history:
        strategy, sources = "personal", list(context.history)
        excluded.update(p.id for p in sources)
        related = (c for p in sources for c in (p.category, *COMPLEMENTS.get(p.category, ())))
        categories = list(dict.fromkeys(related))
    else:
        strategy, sources = "popular", []
        categories = None
    pool = [
        p for p in candidates
        if p.stock > 0 and p.id not in excluded and _fits(p, sources)
        and (categories is None or p.category in categories)
    ]
    pool.sort(key=lambda p: (-context.popularity.get(p.id, 0), -(p.rating or 0.0), p.name, p.id))
    return Recommendations(items=_one_per_category(pool, categories)[:limit], strategy=strategy)


def _complement_categories(sources: Iterable[Product]) -> list[str]:
    return list(dict.fromkeys(c for p in sources for c in COMPLEMENTS.get(p.category, ())))


def _fits(candidate: Product, sources: Sequence[Product]) -> bool:
    compatible = candidate.attributes.get("compatible")
    if compatible is None or not sources:
        return True
    names = {name.strip() for name in compatible.split(",")}
    return any(p.category in names for p in sources)


def _one_per_category(ranked: list[Product], categories: list[str] | None) -> list[Product]:
    """Interleave: the best of each category in turn, categories in the given order."""
    order = categories if categories is not None else list(dict.fromkeys(p.category for p in ranked))
    queues = {c: [p for p in ranked if p.category == c] for c in order}
    result: list[Product] = []
    while any(queues.values()):
        for category in order:
            if queues[category]:
                result.append(queues[category].pop(0))
    return result
