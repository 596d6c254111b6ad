"""The one exception mapper: every failure becomes a documented status and the error body.

| exception                                  | status | `error`                |
|--------------------------------------------|--------|------------------------|
| malformed JSON, failed validation          | 400    | `invalid_request: …`   |
| `SessionNotFound`                          | 404    | `session_not_found`    |
| an unknown route / method                  | 404/405| `not_found` / `method_not_allowed` |
| a body over the size limit                 | 413    | `request_too_large`    |
| `ModelUnavailable`                         | 503    | `model_unavailable`    |
| `StorefrontUnavailable`                    | 503    | `storefront_unavailable` |
| anything else                              | 500    | `internal_error`       |

The body never carries a stack trace or internal detail; a 500 is logged in
full with the request id, which the response's `X-Request-ID` header repeats.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from shopbot.errors import ModelUnavailable, SessionNotFound, StorefrontUnavailable
from shopbot.web.schemas import ErrorResponse

__all__ = ["error_response", "RESPONSE_TEXT"]

log = logging.getLogger("shopbot.web")

RESPONSE_TEXT = {
    400: "Sorry, I couldn't read that request.",
    404: "Sorry, I couldn't find that.",
    405: "Sorry, that isn't supported here.",
    413: "Sorry, that request is too large.",
    500: "Sorry, something went wrong on our side. Please try again.",
    503: "I'm having trouble reaching the shop right now. Please try again in a moment.",
}
_HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorResponse]:
    """Map `exc` to its status and the `/api/v1` error body."""
    status, error = _classify(exc)
    if status == 500:
        log.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    elif status == 503:
        log.warning("dependency unavailable: %s", error)
    session_id = request.scope.get("state", {}).get("session_id") or ""
    headers = exc.headers if isinstance(exc, HTTPException) and exc.headers else None
    body = ErrorResponse(response=RESPONSE_TEXT.get(status, RESPONSE_TEXT[400]), session_id=session_id, error=error)
    return Response(body, status_code=status, headers=headers)


def _classify(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, ValidationException):
        return 400, f"invalid_request: {_validation_reason(exc)}"
    if isinstance(exc, SessionNotFound):
        return 404, "session_not_found"
    if isinstance(exc, ModelUnavailable):
        return 503, "model_unavailable"
    if isinstance(exc, StorefrontUnavailable):
        return 503, "storefront_unavailable"
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        if exc.status_code == 400:
            return 400, f"invalid_request: {exc.detail}"
        return exc.status_code, _HTTP_ERRORS.get(exc.status_code, "invalid_request")
    return 500, "internal_error"


def _validation_reason(exc: ValidationException) -> str:
    reasons = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        key, message = item.get("key", ""), str(item.get("message", ""))
        if message == f"'{key}'":  # msgspec's KeyError text: there was no body at all
            reasons.append("a JSON body is required")
        elif key in ("", "data"):
            reasons.append(message)
        else:
            reasons.append(f"{key}: {message}")
    return "; ".join(reasons) or str(exc.detail)
