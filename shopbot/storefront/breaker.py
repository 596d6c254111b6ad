"""A circuit breaker for the storefront: a dead backend fails calls at once, and is retried on its own.

closed → (`failures` failures in a row) → open → (`reset_after` seconds) → half-open:
one trial call goes through; its success closes the circuit, its failure opens it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from shopbot.errors import CircuitOpen

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """Counts failed calls in a row and stops calls while the backend is presumed down."""

    def __init__(self, *, failures: int = 5, reset_after: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.failures = failures
        self.reset_after = reset_after
        self._clock = clock
        self._failed = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        """`closed`, `open` or `half-open`."""
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self._opened_at >= self.reset_after else "open"

    def before_call(self) -> None:
        """Raise `CircuitOpen` unless a call may go through now."""
        state = self.state
        if state == "open" or (state == "half-open" and self._trial_running):
            raise CircuitOpen("the storefront is presumed down after repeated failures")
        self._trial_running = state == "half-open"

    def succeeded(self) -> None:
        """The backend answered (any answer but an outage counts)."""
        self._failed, self._opened_at, self._trial_running = 0, None, False

    def failed(self) -> None:
        """The backend was unreachable or answered 5xx."""
        self._failed += 1
        self._trial_running = False
        if self._failed >= self.failures or self._opened_at is not None:
            self._opened_at = self._clock()

    def abandoned(self) -> None:
        """The call was cancelled before the backend answered: it counts neither way."""
        self._trial_running = False
