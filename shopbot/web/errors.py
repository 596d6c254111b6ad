"""The one exception mapper: every failure becomes a documented status and the error body.

| exception                                  | status | `error`                |
|--------------------------------------------|--------|------------------------|
| malformed JSON, failed validation          | 400    | `invalid_request: …`   |
| `NotAuthenticated`                         | 401    | `unauthorized: …`      |
| `Forbidden`                                | 403    | `forbidden: …`         |
| `SessionNotFound`                          | 404    | `session_not_found`    |
| an unknown route / method                  | 404/405| `not_found` / `method_not_allowed` |
| `SessionBusy`                              | 409    | `session_busy`         |
| a body over the size limit                 | 413    | `request_too_large`    |
| a body that is not `application/json`      | 415    | `unsupported_media_type` |
| `IdempotencyConflict`                      | 422    | `idempotency_key_reused` |
| `RateLimited`                              | 429    | `rate_limited` (and `Retry-After`) |
| `ModelUnavailable`                         | 503    | `model_unavailable`    |
| `StorefrontUnavailable`                    | 503    | `storefront_unavailable` |
| `SessionStoreUnavailable`                  | 503    | `session_store_unavailable` |
| `TurnTimeout`                              | 503    | `turn_timeout`         |
| anything else                              | 500    | `internal_error`       |

The body never carries a stack trace or internal detail; a 500 is logged in
full with the request id, which the response's `X-Request-ID` header repeats.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from shopbot.errors import (
    IdempotencyConflict,
    ModelUnavailable,
    SessionBusy,
    SessionNotFound,
    SessionStoreUnavailable,
    StorefrontUnavailable,
    TurnTimeout,
)
from shopbot.ratelimit import RateLimited
from shopbot.web.auth import Forbidden, NotAuthenticated
from shopbot.web.schemas import ErrorResponse

__all__ = ["RESPONSE_TEXT", "error_body", "error_response"]

log = logging.getLogger("shopbot.web")

RESPONSE_TEXT = {
    400: "Sorry, I couldn't read that request.",
    401: "Please sign in again.",
    403: "Sorry, you can't do that.",
    404: "Sorry, I couldn't find that.",
    405: "Sorry, that isn't supported here.",
    409: "I'm still working on your previous message. Please try again in a moment.",
    413: "Sorry, that request is too large.",
    415: "Sorry, I couldn't read that request.",
    422: "That request was already sent with different content.",
    429: "You're sending messages too quickly. Please wait a moment.",
    500: "Sorry, something went wrong on our side. Please try again.",
    503: "I'm having trouble reaching the shop right now. Please try again in a moment.",
}
_HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large", 415: "unsupported_media_type"}


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorResponse]:
    """Map `exc` to its status and the `/api/v1` error body."""
    status, body = error_body(request, exc)
    headers = exc.headers if isinstance(exc, HTTPException) and exc.headers else None
    if isinstance(exc, NotAuthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    return Response(body, status_code=status, headers=headers)


def error_body(request: Request[Any, Any, Any], exc: Exception) -> tuple[int, ErrorResponse]:
    """The status and error body for `exc` (logged as it deserves); also the stream's `error` event."""
    status, error = _classify(exc)
    if status == 500:
        log.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    elif status == 503:
        log.warning("dependency unavailable: %s", error)
    session_id = request.scope.get("state", {}).get("session_id") or ""
    return status, ErrorResponse(RESPONSE_TEXT.get(status, RESPONSE_TEXT[400]), session_id, error)


# The known failures, in the order they are checked (subclasses before their bases).
# `{}` in an error code takes the exception's message: the reason a credential was refused.
_KNOWN: tuple[tuple[type[Exception], int, str], ...] = (
    (NotAuthenticated, 401, "unauthorized: {}"),
    (Forbidden, 403, "forbidden: {}"),
    (SessionNotFound, 404, "session_not_found"),
    (SessionBusy, 409, "session_busy"),
    (IdempotencyConflict, 422, "idempotency_key_reused"),
    (RateLimited, 429, "rate_limited"),
    (SessionStoreUnavailable, 503, "session_store_unavailable"),
    (TurnTimeout, 503, "turn_timeout"),
    (ModelUnavailable, 503, "model_unavailable"),
    (StorefrontUnavailable, 503, "storefront_unavailable"),
)


def _classify(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, ValidationException):
        return 400, f"invalid_request: {_validation_reason(exc)}"
    for kind, status, error in _KNOWN:
        if isinstance(exc, kind):
            return status, error.format(exc)
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        if exc.status_code == 400:
            return 400, f"invalid_request: {exc.detail}"
        return exc.status_code, _HTTP_ERRORS.get(exc.status_code, "invalid_request")
    return 500, "internal_error"


# What a value that fails its pattern should look like, said in words rather than a regex.
_PATTERNS = {
    "session_id": "session_id: must be 1-100 letters, digits, '.', '_' or '-'",
    "user_id": "user_id: must be 1-128 letters, digits, '.', '_', ':', '@' or '-'",
    "idempotency_key": "Idempotency-Key: must be 1-200 printable ASCII characters",
}


def _validation_reason(exc: ValidationException) -> str:
    reasons = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        key, message = item.get("key", ""), str(item.get("message", ""))
        if message == f"'{key}'":  # msgspec's KeyError text: there was no body at all
            reasons.append("a JSON body is required")
        elif "matching regex" in message and key in _PATTERNS:
            reasons.append(_PATTERNS[key])
        elif key in ("", "data"):
            reasons.append(message)
        else:
            reasons.append(f"{key}: {message}")
    return "; ".join(reasons) or str(exc.detail)
