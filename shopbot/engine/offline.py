"""`OfflineModel`: a deterministic, rule-based shopping model for demos, tests and benchmarks.

This is NOT a language model. It reads the shopper's latest request with a few
text rules (`offline_intents`), calls the shop's tools the way a good model
would, and writes its answers from the tool results with fixed templates. It
lets the whole tool-use loop run with no AWS at all, in-process or behind the
local Converse-compatible endpoint.

It is a pure function of the `ModelRequest`: the same request gets the same
response, down to the tool call ids (a hash of the conversation so far) and
the token counts (bytes in and out, divided by four, so benchmarks see
plausible numbers). Whatever it is sent, it answers with a valid response:
odd requests get a friendly text saying what it can do.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from shopbot.engine.model import stream_whole_response
from shopbot.engine.offline_intents import (
    Intent,
    Memory,
    Step,
    best_match,
    parse_intent,
    read_turn,
)
from shopbot.messages import (
    Message,
    ModelRequest,
    ModelResponse,
    StopReason,
    StreamEvent,
    ToolCall,
    Usage,
)

__all__ = ["OfflineModel"]

# A turn that has not finished after this many tool rounds is answered from
# what it has: a rule-based model must never loop forever on an odd shop.
MAX_ROUNDS = 4
MAX_ERROR_CHARS = 300

CAPABILITIES = (
    "I can search the catalog (\"show me laptops under $1000\"), list the categories, tell you about a "
    "product, compare two products, recommend things that go together, and manage your cart "
    "(add, change quantities, remove, show it)."
)
TEXTS = {
    "greet": "Hi! I'm the shop's assistant. " + CAPABILITIES + " What are you looking for?",
    "thanks": "You're welcome! Anything else I can help you find?",
    "help": "I'm not sure what you'd like me to do. " + CAPABILITIES,
}
ERRORS = {
    "search_products": "I couldn't search the catalog right now",
    "get_product": "I couldn't look that product up",
    "list_categories": "I couldn't load the categories right now",
    "add_to_cart": "I couldn't add that",
    "view_cart": "I couldn't reach the cart right now",
    "update_cart_item": "I couldn't update your cart",
    "remove_from_cart": "I couldn't remove that",
    "get_recommendations": "I couldn't get recommendations right now",
}

Plan = list[tuple[str, dict[str, Any]]] | str


class OfflineModel:
    """A `ModelClient` that needs no network: shopping rules in, tool calls and answers out.

    `strict=True` lets a bug surface as an exception (for tests); by default a
    tool result shaped in a way the templates did not expect costs one plain
    answer instead of the shopper's turn.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict

    async def respond(self, request: ModelRequest) -> ModelResponse:
        """Answer one request (see the module docstring)."""
        return self.reply(request)

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """The same answer, replayed as a stream of text deltas."""
        return stream_whole_response(self.reply(request))

    def reply(self, request: ModelRequest) -> ModelResponse:
        """The synchronous core of `respond`."""
        try:
            plan = decide(request)
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError, IndexError):
            if self.strict:
                raise
            plan = "Sorry, something went wrong on my side. " + CAPABILITIES
        if isinstance(plan, str):
            message, stop = Message.assistant(plan), StopReason.END_TURN
        else:
            salt = hashlib.sha256(msgspec.json.encode(request.messages)).digest()
            calls = tuple(ToolCall(_call_id(salt, i), name, args) for i, (name, args) in enumerate(plan))
            message, stop = Message("assistant", calls), StopReason.TOOL_USE
        usage = Usage(
            input_tokens=max(1, len(msgspec.json.encode(request)) // 4),
            output_tokens=max(1, len(msgspec.json.encode(message)) // 4),
        )
        return ModelResponse(message, stop, usage)


def _call_id(salt: bytes, index: int) -> str:
    return "tooluse_" + hashlib.sha256(salt + index.to_bytes(4, "big")).hexdigest()[:16]


def decide(request: ModelRequest) -> Plan:
    """The next tool calls, or the final text, for `request`."""
    messages = request.messages
    if not messages or messages[-1].role != "user":
        return "Is there anything else I can help you with? " + CAPABILITIES
    if not messages[-1].tool_results and not messages[-1].text.strip():
        return TEXTS["help"]
    memory = Memory(messages)
    text, rounds = read_turn(messages)
    if text is None:
        return render(rounds[-1], None, memory) if rounds else TEXTS["help"]
    intent = parse_intent(text, tuple(memory.categories))
    plan = _next(intent, rounds, memory)
    if isinstance(plan, str):
        return plan
    offered = [t.name for t in request.tools]
    missing = [name for name, _ in plan if name not in offered]
    if not offered:
        return "I can't reach the shop's tools right now, so I can't look that up. Please try again later."
    if missing:
        return f"I can't do that right now: the {missing[0]} tool isn't available to me."
    return plan


def _next(intent: Intent, rounds: list[list[Step]], memory: Memory) -> Plan:
    """What to do next for `intent`, given this turn's tool rounds so far."""
    last = rounds[-1] if rounds else []
    if failed := next((s for s in last if s.result.is_error), None):
        return _error_text(failed)
    if len(rounds) >= MAX_ROUNDS or intent.kind in TEXTS:
        return render(last, intent, memory) if last else TEXTS.get(intent.kind, TEXTS["help"])
    ref = intent.refs[0] if intent.refs else ""
    kind = intent.kind
    if kind in ("search", "categories", "cart", "recommend", "compare") and last:
        return render(last, intent, memory)
    if kind == "search":
        return [("search_products", _search_input(intent))]
    if kind == "categories":
        return [("list_categories", {})]
    if kind == "cart":
        return [("view_cart", {})]
    if kind == "recommend":
        found, _ = memory.resolve(ref) if ref else (None, [])
        return [("get_recommendations", {"product_id": found, "limit": 5} if found else {"limit": 5})]
    if kind == "compare":
        if len(intent.refs) < 2:
            return "Which two products would you like me to compare? For example: \"compare the HP and the Dell\"."
        plan: list[tuple[str, dict[str, Any]]] = []
        for each in intent.refs[:2]:
            found, _ = memory.resolve(each)
            plan.append(("get_product", {"product_id": found}) if found else ("search_products", _query_input(each)))
        return plan
    if kind in ("details", "add"):
        tool = "get_product" if kind == "details" else "add_to_cart"
        args = {} if kind == "details" else {"quantity": intent.quantity}
        if last and last[0].name != "search_products":
            return render(last, intent, memory)
        if last:
            best = best_match(ref, _items(last[0].view))
            if best is None:
                return f"I couldn't find \"{ref}\" in the catalog. Could you check the name, or search more broadly?"
            return [(tool, {"product_id": best["id"], **args})]
        found, candidates = memory.resolve(ref)
        if found:
            return [(tool, {"product_id": found, **args})]
        if candidates or ref == "it":
            return _which(candidates)
        return [("search_products", _query_input(ref))]
    looked = any(s.name == "view_cart" for r in rounds for s in r)
    if last and last[0].name != "view_cart":
        return render(last, intent, memory)
    if kind == "clear":
        if not looked:
            return [("view_cart", {})]
        lines = memory.cart_ids()
        return [("remove_from_cart", {"product_id": i}) for i in lines] if lines else "Your cart is already empty."
    # update or remove: the product must be in the cart, so prefer the cart's lines.
    found, candidates = memory.resolve(ref, cart_only=memory.cart is not None)
    if candidates and not found:
        return _which(candidates)
    if found is None:
        if not looked:
            return [("view_cart", {})]
        return f"I couldn't find \"{ref}\" in your cart. " + render(last, None, memory)
    if kind == "update":
        return [("update_cart_item", {"product_id": found, "quantity": intent.quantity})]
    return [("remove_from_cart", {"product_id": found})]


def _search_input(intent: Intent) -> dict[str, Any]:
    optional = {key: getattr(intent, key) for key in ("category", "min_price", "max_price")}
    return {"query": intent.query, "limit": 8} | {k: v for k, v in optional.items() if v is not None}


def _query_input(ref: str) -> dict[str, Any]:
    return {"query": " ".join(w for w in ref.split() if w not in ("the", "my"))[:200], "limit": 3}


def _which(candidates: list[str]) -> str:
    if not candidates:
        return "Which product do you mean? Tell me its name, or ask me to search for it."
    return "Which one do you mean: " + ", ".join(f"**{n}**" for n in candidates[:5]) + "?"


def _error_text(step: Step) -> str:
    lead = ERRORS.get(step.name, "Something went wrong")
    detail = " ".join(step.result.content.split())[:MAX_ERROR_CHARS].rstrip(".")
    return f"{lead}: {detail}." if detail else f"{lead}."


# -- answers -------------------------------------------------------------------------------


def render(steps: list[Step], intent: Intent | None, memory: Memory) -> str:
    """The final answer from one round of tool results."""
    if intent is not None and intent.kind == "compare" and len(steps) >= 2:
        return _compare(steps, intent)
    removed = [s for s in steps if s.name == "remove_from_cart"]
    if len(removed) > 1:
        names = ", ".join(_line_name(s, memory) for s in removed)
        return f"Removed {names} from your cart. " + _cart_summary(removed[-1].view)
    parts = [_render_one(s, memory) for s in steps]
    return "\n\n".join(p for p in parts if p) or "I got an answer I couldn't read. Could you try again?"


def _render_one(step: Step, memory: Memory) -> str:
    view, name = step.view, step.name
    if view is None:
        return "I got an answer from the shop that I couldn't read. Could you try again?"
    if not name:
        name = _guess_tool(view)
    if name == "search_products":
        return _search_text(view, step.input)
    if name == "get_product":
        return _product_text(view)
    if name == "list_categories":
        cats = [c for c in _items(view, "categories") if isinstance(c.get("name"), str)]
        if not cats:
            return "The catalog has no categories yet."
        rows = (f"- **{c['name']}** ({c.get('products', '?')} products)" for c in cats)
        return "We have these categories:\n" + "\n".join(rows)
    if name == "get_recommendations":
        return _recommendations_text(view, step.input, memory)
    if name == "add_to_cart":
        quantity = step.input.get("quantity", 1)
        return f"Added {quantity} × {_line_name(step, memory)} to your cart. " + _cart_summary(view)
    if name == "update_cart_item":
        quantity = step.input.get("quantity", 0)
        line = _line_name(step, memory)
        done = f"Removed {line} from" if quantity == 0 else f"Set {line} to {quantity} in"
        return f"{done} your cart. " + _cart_summary(view)
    if name == "remove_from_cart":
        return f"Removed {_line_name(step, memory)} from your cart. " + _cart_summary(view)
    if name == "view_cart":
        return _cart_text(view)
    return "Here is what the shop said: " + msgspec.json.encode(view).decode()[:500]


def _guess_tool(view: Any) -> str:
    """The tool a result most likely came from, by its shape (for results without a known call)."""
    shapes = (("categories", "list_categories"), ("subtotal", "view_cart"), ("strategy", "get_recommendations"),
              ("items", "search_products"), ("id", "get_product"))
    return next((tool for key, tool in shapes if key in view), "") if isinstance(view, dict) else ""


def _items(view: Any, key: str = "items") -> list[dict[str, Any]]:
    found = view.get(key) if isinstance(view, dict) else None
    return [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []


def money(amount: Any, currency: Any) -> str:
    """A price for the shopper: `$799.99` for dollars, `799.99 EUR` otherwise."""
    return f"${amount}" if currency in ("USD", None) else f"{amount} {currency}"


def _stock(stock: Any) -> str:
    if not isinstance(stock, int):
        return "stock unknown"
    return "out of stock" if stock <= 0 else f"only {stock} left" if stock <= 3 else "in stock"


def _bullet(item: dict[str, Any]) -> str:
    rating = item.get("rating")
    notes = ([f"rating {rating}"] if isinstance(rating, int | float) else []) + [_stock(item.get("stock"))]
    price = money(item.get("price", "?"), item.get("currency"))
    return f"- **{item.get('name', item.get('id', '?'))}** — {price} ({', '.join(notes)})"


def _describe(args: dict[str, Any]) -> str:
    what = " ".join(str(args[k]) for k in ("query", "category") if args.get(k)) or "products"
    low, high = args.get("min_price"), args.get("max_price")
    if low is not None and high is not None:
        return f"{what} between ${low} and ${high}"
    if high is not None:
        return f"{what} under ${high}"
    return f"{what} over ${low}" if low is not None else what


def _search_text(view: Any, args: dict[str, Any]) -> str:
    items = [i for i in _items(view) if Memory.usable(i)]
    if not items:
        return (f"I couldn't find any {_describe(args)}. "
                "Try a broader search: fewer words, another category or a wider price range.")
    total = view.get("total") if isinstance(view.get("total"), int) else len(items)
    head = f"I found {total} {'result' if total == 1 else 'results'} for {_describe(args)}"
    head += ":" if total <= len(items) else f" (here are the first {len(items)}):"
    bullets = "\n".join(_bullet(i) for i in items)
    return f"{head}\n{bullets}\n\nWant details on one of them, or shall I add one to your cart?"


def _product_text(view: Any) -> str:
    if not Memory.usable(view):
        return "I couldn't read that product's details."
    lines = [_bullet(view)[2:], str(view.get("about") or ""), f"- Category: {view.get('category', '?')}"]
    if isinstance(view.get("stock"), int) and view["stock"] > 0:
        lines.append(f"- Stock: {view['stock']} available")
    attributes = view.get("attributes")
    lines += [f"- {key}: {value}" for key, value in attributes.items()] if isinstance(attributes, dict) else []
    return "\n".join(line for line in lines if line)


def _recommendations_text(view: Any, args: dict[str, Any], memory: Memory) -> str:
    items = [i for i in _items(view) if Memory.usable(i)]
    if not items:
        return "I don't have any recommendations right now. Would you like to browse a category instead?"
    base = memory.products.get(str(args.get("product_id")), {}).get("name")
    head = f"These go well with the {base}:" if base else "You might like these:"
    return head + "\n" + "\n".join(_bullet(i) for i in items)


def _line_name(step: Step, memory: Memory) -> str:
    wanted = step.input.get("product_id")
    for line in _items(step.view):
        if line.get("product_id") == wanted and isinstance(line.get("name"), str):
            return line["name"]
    return str(memory.products.get(str(wanted), {}).get("name", wanted or "that item"))


def _count(n: Any) -> str:
    return f"{n} {'item' if n == 1 else 'items'}"


def _cart_summary(view: Any) -> str:
    if not isinstance(view, dict) or not view.get("item_count"):
        return "Your cart is now empty."
    subtotal = money(view.get("subtotal", "?"), view.get("currency"))
    return f"Your cart now has {_count(view['item_count'])}, subtotal {subtotal}."


def _cart_text(view: Any) -> str:
    lines = _items(view)
    if not lines:
        return "Your cart is empty. Would you like me to find something?"
    currency = view.get("currency")
    body = "\n".join(
        f"- {line.get('quantity', '?')} × **{line.get('name', line.get('product_id', '?'))}** — "
        f"{money(line.get('line_total', '?'), currency)}" for line in lines
    )
    total = f"Subtotal: {money(view.get('subtotal', '?'), currency)} ({_count(view.get('item_count', '?'))})"
    return "Your cart:\n" + body + "\n" + total


def _compare(steps: list[Step], intent: Intent) -> str:
    found = []
    for ref, step in zip(intent.refs, steps, strict=False):
        product = step.view if step.name == "get_product" else best_match(ref, _items(step.view))
        if not Memory.usable(product):
            return f"I couldn't find \"{ref}\" to compare. Could you check the name?"
        found.append(product)
    a, b = found[0], found[1]
    lines = ["Here's how they compare:"]
    for p in (a, b):
        line = _bullet(p)
        if isinstance(p.get("attributes"), dict):
            line += "; " + ", ".join(f"{k}: {v}" for k, v in list(p["attributes"].items())[:4])
        elif p.get("about"):
            line += f"; {p['about']}"
        lines.append(line)
    cheap = top = None
    saving = rated = ""
    pa, pb = _decimal(a.get("price")), _decimal(b.get("price"))
    if pa is not None and pb is not None and pa != pb and a.get("currency") == b.get("currency"):
        cheap, saving = (a if pa < pb else b), f"by {money(abs(pa - pb), a.get('currency'))}"
    ra, rb = a.get("rating"), b.get("rating")
    if isinstance(ra, int | float) and isinstance(rb, int | float) and ra != rb:
        top, low = (a, b) if ra > rb else (b, a)
        rated = f"rated higher ({top['rating']} vs {low['rating']})"
    if cheap is not None and cheap is top:
        verdict = [f"the {cheap['name']} is both cheaper ({saving}) and {rated}"]
    else:
        verdict = ([f"the {cheap['name']} is cheaper {saving}"] if cheap else []) + (
            [f"the {top['name']} is {rated}"] if top else [])
    if verdict:
        text = "; ".join(verdict)
        lines.append("\n" + text[0].upper() + text[1:] + ".")
    return "\n".join(lines)


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None

