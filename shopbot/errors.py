"""The exceptions shopbot raises to its callers.

Two families, kept apart on purpose:

* What the **model** is told — a bad tool input, an unknown tool, a failed
  backend call — never raises out of the loop: the dispatcher turns it into a
  `ToolResult(is_error=True)` and the loop goes on. Those failures are the
  `StorefrontError` subclasses below (caught by the dispatcher) and
  `msgspec.ValidationError` (bad tool input).
* What the **caller** gets ends the turn and maps to an HTTP status::

    ShopbotError
    ├── ModelError                    the model could not answer
    │   ├── ModelUnavailable          throttled, down, timed out (503, retried first)
    │   └── ModelRequestRejected      validation / access / configuration (500, never retried)
    ├── StorefrontError               the shop backend failed a call
    │   ├── StorefrontUnavailable     unreachable, 5xx, timed out (503)
    │   │   └── CircuitOpen           presumed down after repeated failures: not even tried
    │   ├── StorefrontContractError   an answer that breaks the contract
    │   └── StorefrontRejected        a documented 4xx error body
    │       ├── NotFound              `not_found`
    │       ├── OutOfStock            `out_of_stock`
    │       ├── InvalidRequest        `invalid_request`
    │       └── Unauthorized          `unauthorized`
    ├── TurnTimeout                   the turn ran past its deadline (503)
    ├── HistoryError                  a history that Converse would refuse
    ├── SessionNotFound               an unknown session id (or someone else's)
    ├── SessionBusy                   another turn of the session ran past the wait
    ├── SessionStoreUnavailable       the session store (Redis) does not answer
    ├── IdempotencyConflict           an Idempotency-Key reused with another request
    └── ConfigurationError            a setting with a bad value

Foreign exceptions (botocore, httpx) are translated once, at the adapter that
meets them; nothing above the adapters catches them.
"""

from __future__ import annotations

__all__ = [
    "CircuitOpen",
    "TurnTimeout",
    "ConfigurationError",
    "HistoryError",
    "IdempotencyConflict",
    "InvalidRequest",
    "ModelError",
    "ModelRequestRejected",
    "ModelUnavailable",
    "NotFound",
    "OutOfStock",
    "SessionBusy",
    "SessionStoreUnavailable",
    "SessionNotFound",
    "ShopbotError",
    "StorefrontContractError",
    "StorefrontError",
    "StorefrontRejected",
    "StorefrontUnavailable",
    "Unauthorized",
]


class ShopbotError(Exception):
    """Base of every error shopbot raises on purpose."""


class ModelError(ShopbotError):
    """The model call failed."""


class ModelUnavailable(ModelError):
    """The model is throttled, down or too slow; worth trying again later."""


class ModelRequestRejected(ModelError):
    """The model service refused the request itself (validation, access, model id).

    Retrying cannot help: it points at a bug or at configuration.
    """


class StorefrontError(ShopbotError):
    """A storefront call failed."""


class StorefrontUnavailable(StorefrontError):
    """The storefront could not be reached, timed out or answered 5xx."""


class CircuitOpen(StorefrontUnavailable):
    """The storefront failed repeatedly; calls fail at once until a trial call succeeds.

    Unlike a single failed call (which the model is told about), this ends the
    turn: a dead backend should fail turns fast, not let each of them try.
    """


class StorefrontContractError(StorefrontError):
    """The storefront answered something the contract does not allow."""


class StorefrontRejected(StorefrontError):
    """The storefront answered one of the contract's 4xx error bodies."""

    code = "error"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class NotFound(StorefrontRejected):
    """`not_found`: no such product, or the product is not in the cart."""

    code = "not_found"


class OutOfStock(StorefrontRejected):
    """`out_of_stock`: not enough stock for the requested quantity."""

    code = "out_of_stock"


class InvalidRequest(StorefrontRejected):
    """`invalid_request`: the storefront refused the request's input."""

    code = "invalid_request"


class Unauthorized(StorefrontRejected):
    """`unauthorized`: the backend API key is missing or wrong."""

    code = "unauthorized"


class TurnTimeout(ShopbotError):
    """The turn did not finish before its deadline."""


class HistoryError(ShopbotError):
    """A conversation history that breaks Converse's rules."""


class SessionNotFound(ShopbotError):
    """No session with that id (expired, deleted, or never created)."""


class SessionBusy(ShopbotError):
    """Another turn of this session is running and did not finish within the wait."""


class SessionStoreUnavailable(ShopbotError):
    """The session store cannot be reached right now."""


class IdempotencyConflict(ShopbotError):
    """An Idempotency-Key was used before with a different request."""


class ConfigurationError(ShopbotError):
    """A setting is missing or has a value shopbot cannot use."""
