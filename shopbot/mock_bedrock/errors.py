"""Bedrock Runtime's errors as they travel on the wire.

Bedrock answers an error with its HTTP status, the header
``x-amzn-ErrorType: <Code>:http://internal.amazon.com/coral/com.amazon.bedrock/``
(botocore keeps the part before the colon as ``Error.Code``) and the body
``{"message": "..."}``. Inside a stream, the same error is an exception event
whose ``:exception-type`` is the code with a lower-case first letter.
"""

from __future__ import annotations

__all__ = ["ERROR_STATUS", "BedrockError"]

ERROR_STATUS: dict[str, int] = {
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "UnknownOperationException": 404,
    "ModelTimeoutException": 408,
    "ThrottlingException": 429,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
}

_ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


class BedrockError(Exception):
    """An error the endpoint answers exactly as Bedrock would."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = ERROR_STATUS[code]

    @property
    def error_type_header(self) -> str:
        """The value of the ``x-amzn-ErrorType`` header."""
        return self.code + _ERROR_TYPE_SUFFIX

    @classmethod
    def validation(cls, message: str) -> BedrockError:
        """A 400 ``ValidationException``."""
        return cls("ValidationException", message)

    @classmethod
    def constraint(cls, value: object, where: str, constraint: str) -> BedrockError:
        """A 400 in the service framework's words, for a field that breaks the API model."""
        shown = "null" if value is None else f"'{value}'"
        return cls.validation(
            f"1 validation error detected: Value {shown} at '{where}' failed to satisfy constraint: {constraint}"
        )
