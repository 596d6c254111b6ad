"""How the offline model reads a conversation: plain text rules and bookkeeping, no model.

`parse_intent` turns one user message into an `Intent` (what to do, a search
query, a category, a price range, a quantity, the products the shopper named).
`read_turn` finds the pending request and this turn's tool rounds; `Memory`
keeps what earlier tool results showed, and ties "the HP" or "my laptop" to a
product id with the fuzzy name matching of `match_score`.

The rules are deliberately small and predictable: they are meant to drive
demos, tests and benchmarks through every tool, not to understand English.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from shopbot.messages import Message, ToolCall, ToolResult

__all__ = [
    "CATEGORY_WORDS", "PRONOUNS", "Intent", "Memory", "Step", "best_match", "category_of", "load_json",
    "match_score", "parse_intent", "read_turn", "words",
]

Kind = Literal["greet", "thanks", "help", "categories", "search", "details", "add", "cart", "update", "remove",
               "clear", "recommend", "compare"]

# Long messages are cut before parsing: every rule looks at the start of a
# request, and a bounded input keeps the regexes fast whatever arrives.
MAX_PARSED_CHARS = 2_000

CATEGORY_WORDS: dict[str, str] = {
    **dict.fromkeys(["laptop", "laptops", "notebook", "notebooks", "ultrabook", "ultrabooks"], "laptops"),
    **dict.fromkeys(["headphone", "headphones", "earbud", "earbuds", "earphones", "headset", "headsets"], "headphones"),
    **dict.fromkeys(["monitor", "monitors", "display", "displays"], "monitors"),
    **dict.fromkeys(["keyboard", "keyboards"], "keyboards"),
    **dict.fromkeys(["mouse", "mice"], "mice"),
    **dict.fromkeys(["phone", "phones", "smartphone", "smartphones"], "phones"),
    **dict.fromkeys(["tablet", "tablets", "ipad", "ipads"], "tablets"),
    **dict.fromkeys(["camera", "cameras", "webcam", "webcams"], "cameras"),
    **dict.fromkeys(["speaker", "speakers"], "speakers"),
    **dict.fromkeys(["accessory", "accessories"], "accessories"),
    **dict.fromkeys(["console", "consoles", "controller", "controllers", "gamepad", "gamepads"], "gaming"),
    **dict.fromkeys(["router", "routers", "modem", "modems", "wifi", "mesh", "networking"], "networking"),
    **dict.fromkeys(["bulb", "bulbs", "plug", "plugs", "thermostat", "thermostats"], "smart-home"),
    **dict.fromkeys(["ssd", "ssds", "drive", "drives", "storage"], "storage"),
    **dict.fromkeys(["watch", "watches", "smartwatch", "smartwatches", "tracker", "trackers"], "wearables"),
}

PRODUCT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
PRONOUNS = frozenset({"", "it", "that", "this", "them", "one", "that one", "this one", "the one"})

NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a couple": 2, "couple of": 2,
    "a pair of": 2, "a few": 3, "few": 3,
}
_NUMBER = r"(?:\d{1,3}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + ")"

FILLER = frozenset(
    "show me find search for some a an any the please i i'm im need want wanted looking look do you have "
    "sell carry stock got list browse all can could would like to get what which are there is in of "
    "with your good best great nice cheap cheapest new products product items item stuff something "
    "things hi hey hello thanks and or us we our let's lets see".split()
)
# Words that tie a reference to the shopper rather than name a product ("my laptop").
STOPWORDS = frozenset("the a an my our your that this those these one of to please from in".split())

# An amount and an optional "k" (thousands); the lookahead refuses to match a
# prefix of a longer number.
_AMOUNT = r"(\d{1,9}(?:,\d{3}){0,3}(?:\.\d{1,2})?)(?![\d,.]?\d)\s?(k\b)?"
_MONEY = rf"\$?\s?{_AMOUNT}\s?(?:dollars|usd|bucks)?"
_IN_CART = r"(?:my|the)\s+(?:cart|basket|bag)\b"
_BETWEEN = re.compile(rf"\b(?:between|from)\s+{_MONEY}\s*(?:and|to|-)\s*{_MONEY}")
_RANGE = re.compile(rf"(?<![\w.])\${_AMOUNT}\s?(?:-|–|to)\s?{_MONEY}")
_UNDER = re.compile(
    rf"\b(?:under|below|less than|cheaper than|up to|at most|no more than|max(?:imum)?|within)\s+{_MONEY}"
)
_OVER = re.compile(rf"\b(?:over|above|more than|at least|min(?:imum)?|starting at)\s+{_MONEY}")

_COMPARE = re.compile(r"\b(?:compare|comparison|vs\.?|versus|difference between)\b")
_COMPARE_SPLIT = re.compile(r"\s+(?:vs\.?|versus|and|with|or|to|against)\s+")
_CLEAR = re.compile(rf"\b(?:clear|empty)\s+(?:out\s+)?{_IN_CART}|\bremove\s+(?:everything|all)\b")
_REMOVE = re.compile(
    rf"\b(?:remove|delete|take out|drop|get rid of)\b\s*(.*?)\s*(?:\b(?:from|out of)\s+{_IN_CART}.*)?$"
)
_UPDATE = re.compile(
    rf"\b(?:change|update|set|adjust)\s+(?:the\s+)?(?:quantity|qty|number|amount|count)?\s*(?:of\s+)?(.*?)\s*"
    rf"(?:\bin\s+(?:my|the)\s+cart\s+)?\bto\s+({_NUMBER})\b"
)
_MAKE_IT = re.compile(rf"\bmake\s+(?:it|that|this|them)\s+({_NUMBER})\b")
_ADD = re.compile(
    r"\b(?:add|put|buy|purchase|order|grab|i'?ll take|i will take|i'?ll have|i'?ll buy|i want to buy|"
    rf"i'?d like to buy|i would like to buy|get me)\b\s*(.*?)\s*(?:\b(?:to|in|into|on)\s+{_IN_CART}.*)?$"
)
_CART = re.compile(r"\b(?:cart|basket|bag)\b")
_RECOMMEND = re.compile(
    r"\b(?:recommend\w*|suggest\w*|goes? (?:well )?with|pairs? (?:well )?with|accessor\w*|complement\w*|what else)\b"
)
_RECOMMEND_REF = re.compile(r"\b(?:for|with|to)\s+(.+)$")
_CATEGORIES = re.compile(
    r"\bcategor(?:y|ies)\b|\bwhat (?:else )?do you (?:sell|carry|stock)\b|\bwhat kinds?\b|\bdepartments?\b"
)
_DETAILS = re.compile(
    r"\b(?:tell me (?:more )?about|more (?:info|information|details) (?:on|about)|details (?:of|on|about|for)|"
    r"describe|specs (?:of|for|on)|what(?: is|'s|are) the (?:price|rating|specs?|details) (?:of|for|on)|"
    r"how much (?:is|does)|"
    r"info (?:on|about))\s+(.*)$"
)
_SEARCH = re.compile(
    r"\b(?:search|find|show|list|browse|look(?:ing)? for|do you (?:have|sell|carry|stock)|got any|any|need|want|"
    r"looking|shop for|cheap\w*)\b"
)
_GREET = re.compile(r"^(?:hi|hello|hey|hiya|howdy|good (?:morning|afternoon|evening)|greetings)\b")
_THANKS = re.compile(r"\b(?:thanks?|thank you|thx|cheers|ty)\b")
_HELP = re.compile(r"\b(?:help|what can you do|how does this work)\b")


class Intent(msgspec.Struct, frozen=True):
    """One shopper request, understood: what to do and with what."""

    kind: Kind
    query: str = ""
    category: str | None = None
    min_price: int | float | None = None
    max_price: int | float | None = None
    quantity: int = 1
    refs: tuple[str, ...] = ()


def words(text: str) -> list[str]:
    """Lower-case alphanumeric tokens of `text`."""
    return re.findall(r"[a-z0-9]+", text.lower())


def category_of(word: str, known: tuple[str, ...] = ()) -> str | None:
    """The catalog category a word names, preferring categories the shop has reported."""
    for name in known:
        if word in (name.lower(), name.lower().rstrip("s"), name.lower() + "s"):
            return name
    return CATEGORY_WORDS.get(word)


def match_score(ref: str, name: str, extra: str = "") -> float:
    """How well the words of `ref` name a product called `name` (0 = not at all).

    Each reference word found in the name (or in `extra`: id, brand) counts one;
    a word of three or more letters may match the start of a name word ("mac"
    for "MacBook"). A match needs at least half the reference words, and a
    name covered more completely wins ties ("Dell XPS 13" over "Dell XPS 13 Plus").
    """
    wanted = [w for w in words(ref) if w not in STOPWORDS]
    have = words(name) + words(extra)
    if not wanted or not have:
        return 0.0
    hits = [w for w in wanted if w in have or (len(w) >= 3 and any(h.startswith(w) for h in have))]
    if not any(not w.isdigit() for w in hits) or len(hits) * 2 < len(wanted):
        return 0.0
    covered = sum(1 for h in words(name) if h in hits) / max(1, len(words(name)))
    return len(hits) + covered / 2


def parse_intent(text: str, known_categories: tuple[str, ...] = ()) -> Intent:
    """The shopper's request in `text`; `help` when nothing is recognised."""
    text = _normalise(text)
    if not text:
        return Intent("help")
    if _COMPARE.search(text):
        return _compare(text)
    if _CLEAR.search(text):
        return Intent("clear")
    if m := _REMOVE.search(text):
        return Intent("remove", refs=(_ref(m.group(1)),))
    if m := _UPDATE.search(text):
        return Intent("update", quantity=_quantity(m.group(2), low=0), refs=(_ref(m.group(1)),))
    if m := _MAKE_IT.search(text):
        return Intent("update", quantity=_quantity(m.group(1), low=0), refs=("it",))
    if m := _ADD.search(text):
        quantity, ref = _leading_quantity(m.group(1))
        return Intent("add", quantity=quantity, refs=(_ref(ref),))
    if _CART.search(text):
        return Intent("cart")
    search = _search(text, known_categories)
    if _RECOMMEND.search(text):
        m = _RECOMMEND_REF.search(text)
        ref = _ref(m.group(1)) if m else ""
        if ref or (search.category is None and search.min_price is None and search.max_price is None):
            return Intent("recommend", refs=(ref,) if ref else ())
        return search
    if (search.category is None and search.min_price is None and search.max_price is None
            and _CATEGORIES.search(text)):
        return Intent("categories")
    if m := _DETAILS.search(text):
        ref = _ref(m.group(1))
        if ref not in PRONOUNS or not search.category:
            return Intent("details", refs=(ref,))
    if _SEARCH.search(text) or search.category or search.min_price is not None or search.max_price is not None:
        return search
    if _GREET.search(text):
        return Intent("greet")
    if _THANKS.search(text):
        return Intent("thanks")
    return Intent("help")


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text[:MAX_PARSED_CHARS]).lower()
    return " ".join(text.replace("’", "'").split())


def _ref(text: str) -> str:
    """A product reference, without punctuation, politeness and leading articles."""
    text = re.sub(r"[?!.,;:]+$|\bplease\b", "", text).strip()
    text = re.sub(r"^(?:the|a|an|my|some)\s+", "", text).strip()
    return text if text not in PRONOUNS else "it"


def _quantity(word: str, low: int = 1) -> int:
    value = int(word) if word.isdigit() else NUMBER_WORDS.get(word, 1)
    return max(low, min(99, value))


def _leading_quantity(text: str) -> tuple[int, str]:
    m = re.match(rf"({_NUMBER})\s+(?:x\s+|of\s+(?:the\s+)?)?(.*)$", text)
    if m and m.group(2):
        return _quantity(m.group(1)), m.group(2)
    return 1, text


def _number(digits: str, thousands: str | None) -> int | float:
    value = float(digits.replace(",", "")) * (1000 if thousands else 1)
    return int(value) if value.is_integer() else round(value, 2)


def _prices(text: str) -> tuple[int | float | None, int | float | None, str]:
    """(min, max, text without the price phrase)."""
    low = high = None
    if m := _BETWEEN.search(text) or _RANGE.search(text):
        low, high = _number(m.group(1), m.group(2)), _number(m.group(3), m.group(4))
    elif m := _UNDER.search(text):
        high = _number(m.group(1), m.group(2))
    elif m := _OVER.search(text):
        low = _number(m.group(1), m.group(2))
    if m is None:
        return None, None, text
    if low is not None and high is not None and low > high:
        low, high = high, low
    return low, high, text[: m.start()] + " " + text[m.end():]


def _search(text: str, known_categories: tuple[str, ...]) -> Intent:
    low, high, rest = _prices(text)
    tokens = re.findall(r"[\w'&+-]+", rest)
    found = [category_of(word, known_categories) for word in tokens]
    # The last category word is the head noun ("gaming laptops"); earlier ones narrow the query.
    category = next((f for f in reversed(found) if f), None)
    kept = [w for w, f in zip(tokens, found, strict=True) if f not in (None, category) or (not f and w not in FILLER)]
    query = " ".join(kept)[:200].strip()
    return Intent("search", query=query, category=category[:64] if category else None, min_price=low, max_price=high)


def _compare(text: str) -> Intent:
    body = re.sub(r"^.*?\b(?:compare|comparison of|difference between)\b\s*", "", text)
    refs = [_ref(part) for part in _COMPARE_SPLIT.split(body, maxsplit=1)]
    refs = [r for r in refs if r and r != "it"]
    return Intent("compare", refs=tuple(refs))


class Step(msgspec.Struct, frozen=True):
    """One tool result of the current turn, beside the call it answers (if known)."""

    name: str
    input: dict[str, Any]
    result: ToolResult
    view: Any


def read_turn(messages: Sequence[Message]) -> tuple[str | None, list[list[Step]]]:
    """The shopper's pending request (the latest user text) and the tool rounds that followed it.

    Without any user text (a history of tool results only) the request is None
    and every round of the history counts.
    """
    start = next((i for i in range(len(messages) - 1, -1, -1)
                  if messages[i].role == "user" and not messages[i].tool_results and messages[i].text.strip()), None)
    calls = {c.id: c for m in messages for c in m.tool_calls}
    rounds = []
    for message in messages[start + 1:] if start is not None else messages:
        steps = []
        for result in message.tool_results:
            call = calls.get(result.tool_call_id)
            view = None if result.is_error else load_json(result.content)
            steps.append(Step(call.name if call else "", dict(call.input) if call else {}, result, view))
        if steps:
            rounds.append(steps)
    return (messages[start].text if start is not None else None), rounds


def load_json(content: str) -> Any:
    """A tool result's JSON, or None when it is not JSON."""
    try:
        return msgspec.json.decode(content)
    except msgspec.DecodeError:
        return None


def best_match(ref: str, items: list[Any]) -> dict[str, Any] | None:
    """The search hit whose name best matches `ref`; the shop's first hit when none does."""
    usable = [i for i in items if Memory.usable(i)]
    scored = [(match_score(ref, i["name"], i["id"]), -n, i) for n, i in enumerate(usable)]
    best = max(scored, key=lambda s: s[:2], default=None)
    return best[2] if best else None


class Memory:
    """What the conversation so far has shown: products seen (most recent last), the cart, categories.

    `mentions` records each time products were named, oldest first: a tool
    call's `product_id`, a product's details, a list of hits. "It" is the
    product of the latest mention, when that mention names one product.
    """

    def __init__(self, messages: Sequence[Message]) -> None:
        self.products: dict[str, dict[str, Any]] = {}
        self.cart: dict[str, Any] | None = None
        self.categories: list[str] = []
        self.mentions: list[list[str]] = []
        for message in messages:
            for part in message.parts:
                if isinstance(part, ToolCall):
                    pid = part.input.get("product_id")
                    if isinstance(pid, str) and PRODUCT_ID.match(pid):
                        self.mentions.append([pid])
                elif isinstance(part, ToolResult) and not part.is_error:
                    self._learn(load_json(part.content))

    @staticmethod
    def usable(item: Any) -> bool:
        """Whether `item` is a product view with a valid id and a name."""
        return (isinstance(item, dict) and isinstance(item.get("id"), str) and bool(PRODUCT_ID.match(item["id"]))
                and isinstance(item.get("name"), str))

    def cart_ids(self) -> list[str]:
        """The product ids of the latest cart seen, in cart order."""
        lines = self.cart.get("items") if self.cart else None
        ids = [line.get("product_id") for line in lines if isinstance(line, dict)] if isinstance(lines, list) else []
        return [i for i in ids if isinstance(i, str) and PRODUCT_ID.match(i)]

    def resolve(self, ref: str, cart_only: bool = False) -> tuple[str | None, list[str]]:
        """The product id `ref` names, or None and the names it could mean."""
        in_cart = self.cart_ids()
        pool = [(pid, p) for pid, p in self.products.items() if not cart_only or pid in in_cart]
        names = {pid: p["name"] for pid, p in pool}
        if ref == "it":
            for ids in reversed(self.mentions):
                ids = [i for i in ids if not cart_only or i in in_cart]
                if len(ids) == 1:
                    return ids[0], []
                if ids:
                    return None, [names.get(i, i) for i in ids]
            return None, []
        wanted = [w for w in words(ref) if w not in STOPWORDS]
        categories = [category_of(w, tuple(self.categories)) for w in wanted]
        if wanted and None not in categories and len(set(categories)) == 1:
            # "my laptop": a product of that category, the one in the cart if there is one.
            hits = [pid for pid, p in pool if p.get("category") == categories[0]]
            carted = [pid for pid in hits if pid in in_cart]
            if carted or len(hits) == 1:
                return (carted or hits)[-1], []
            return None, [names[pid] for pid in hits]
        scored = [(match_score(ref, p["name"], f"{pid} {p.get('category', '')}"), n, pid)
                  for n, (pid, p) in enumerate(pool)]
        best = max(scored, default=None)
        return (best[2], []) if best and best[0] > 0 else (None, [])

    def _remember(self, item: dict[str, Any]) -> None:
        known = self.products.pop(item["id"], {})
        self.products[item["id"]] = {**known, **{k: v for k, v in item.items() if v is not None}}

    def _learn(self, view: Any) -> None:
        if not isinstance(view, dict):
            return
        if isinstance(view.get("categories"), list):
            self.categories = [c["name"] for c in view["categories"]
                               if isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"]][:50]
        items = view["items"] if isinstance(view.get("items"), list) else []
        if "subtotal" in view or any(isinstance(i, dict) and "product_id" in i for i in items):
            self.cart = view
            for line in (i for i in items if isinstance(i, dict)):
                item = {"id": line.get("product_id"), "name": line.get("name"),
                        "price": line.get("unit_price"), "currency": view.get("currency")}
                if self.usable(item):
                    self._remember(item)
            return
        found = [view] if self.usable(view) else [i for i in items if self.usable(i)]
        for item in found:
            self._remember(item)
        if found:
            self.mentions.append([i["id"] for i in found])
