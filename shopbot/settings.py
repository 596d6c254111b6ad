"""Configuration: the only module that reads the environment.

`Settings.from_env()` reads it once, at the edge (the CLI, an app factory);
everything else receives the typed `Settings` value. Names follow the seed
where it had them (`AWS_REGION`, `BEDROCK_*`, `BACKEND_*`); shopbot's own
settings start with `SHOPBOT_`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

from shopbot.errors import ConfigurationError

__all__ = ["Settings"]

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every setting shopbot has, with its default."""

    # The model on Bedrock.
    aws_region: str = "us-west-2"
    bedrock_model_id: str = "us.amazon.nova-pro-v1:0"
    bedrock_temperature: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.7
    bedrock_max_tokens: PositiveInt = 2048
    bedrock_endpoint_url: str | None = None
    bedrock_retry_mode: Literal["standard", "adaptive"] = "standard"
    bedrock_max_attempts: PositiveInt = 3
    bedrock_connect_timeout: PositiveFloat = 5.0
    bedrock_read_timeout: PositiveFloat = 60.0
    bedrock_max_connections: PositiveInt = 256
    # None: the model family's own default (greedy decoding for Nova's tool use).
    bedrock_greedy_decoding: bool | None = None

    # The shop backend.
    backend_api_url: str = "http://127.0.0.1:3001"
    backend_api_key: str | None = None
    backend_timeout: PositiveFloat = 10.0
    backend_max_connections: PositiveInt = 256
    backend_retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 2

    # The conversation.
    max_tool_rounds: PositiveInt = 8
    history_max_turns: PositiveInt = 20
    system_prompt: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (`os.environ` by default).

        Raises `ConfigurationError` naming the variable when a value is bad.
        """
        environ = os.environ if environ is None else environ
        raw: dict[str, str] = {}
        for field in msgspec.structs.fields(cls):
            for name in _env_names(field.name):
                value = environ.get(name)
                if value is not None and value.strip() != "":
                    raw[field.name] = value.strip()
                    break
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigurationError(f"invalid setting: {_explain(exc)}") from None


_SEED_NAMES = {
    "aws_region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "bedrock_endpoint_url": ("SHOPBOT_BEDROCK_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"),
}


def _env_names(field: str) -> tuple[str, ...]:
    if field in _SEED_NAMES:
        return _SEED_NAMES[field]
    if field.startswith(("bedrock_", "backend_api_")):
        return (field.upper(), f"SHOPBOT_{field.upper()}")
    return (f"SHOPBOT_{field.upper()}",)


def _explain(exc: msgspec.ValidationError) -> str:
    # msgspec says "... - at `$.bedrock_temperature`"; name the variable instead.
    message = str(exc)
    if " - at `$." in message:
        text, _, path = message.rpartition(" - at `$.")
        field = path.rstrip("`")
        return f"{_env_names(field)[0]}: {text}"
    return message
