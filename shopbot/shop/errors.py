"""Errors the storefront answers with, and their wire body.

::

    ShopError (status, code)       -> {"error": code, "message": text}
     +-- InvalidRequest   422 invalid_request
     +-- Unauthorized     401 unauthorized
     +-- NotFound         404 not_found
     +-- OutOfStock       409 out_of_stock

Domain code raises these; ``app.py`` maps them, and Litestar's own HTTP errors,
to the body shape in one exception handler.
"""

from __future__ import annotations

import msgspec


class ErrorBody(msgspec.Struct):
    """The body of every non-2xx response."""

    error: str
    message: str


class ShopError(Exception):
    """Base of the storefront's own errors; carries the HTTP status and error code."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> bytes:
        """The encoded ``{"error", "message"}`` body for this error."""
        return encode_error(self.code, self.message)


class InvalidRequest(ShopError):
    """A malformed parameter, header or body."""

    status = 422
    code = "invalid_request"


class Unauthorized(ShopError):
    """A missing or wrong bearer key."""

    status = 401
    code = "unauthorized"


class NotFound(ShopError):
    """An unknown product, or a product that is not in the cart."""

    status = 404
    code = "not_found"


class OutOfStock(ShopError):
    """The requested quantity exceeds the product's stock."""

    status = 409
    code = "out_of_stock"


def encode_error(code: str, message: str) -> bytes:
    """Encode the contract's error body."""
    return msgspec.json.encode(ErrorBody(error=code, message=message))
