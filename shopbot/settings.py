"""Configuration: the only module that reads the environment.

`Settings.from_env()` reads it once, at the edge (the CLI, an app factory),
together with an optional `.env` file (the environment wins); everything else
receives the typed `Settings` value. Names follow the seed where it had them
(`AWS_REGION`, `BEDROCK_*`, `BACKEND_*`, `SERVER_*`, `LOG_LEVEL`,
`CORS_ALLOW_ORIGINS`); shopbot's own settings start with `SHOPBOT_`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from dotenv import dotenv_values

from shopbot.errors import ConfigurationError
from shopbot.pricing import ModelPrice

__all__ = ["SECRET_FIELDS", "Settings", "env_name"]

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
HttpUrl = Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/]+(/\S*)?$")]

SECRET_FIELDS = frozenset(
    {"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "backend_api_key", "api_keys", "jwt_secret"}
)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every setting shopbot has, with its default."""

    # The model: Bedrock by default in `serve`, the offline demo model by default in `demo` and `chat`.
    model_provider: Literal["bedrock", "offline"] | None = None
    aws_region: str = "us-west-2"
    # Usually absent: the standard credential chain (profile, IAM role) applies.
    # Read here so that keys from a `.env` file reach aioboto3 and the log redactor.
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    bedrock_model_id: str = "us.amazon.nova-pro-v1:0"
    bedrock_temperature: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.7
    bedrock_max_tokens: PositiveInt = 2048
    bedrock_endpoint_url: HttpUrl | None = None
    bedrock_retry_mode: Literal["standard", "adaptive"] = "standard"
    bedrock_max_attempts: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    bedrock_connect_timeout: PositiveFloat = 5.0
    bedrock_read_timeout: PositiveFloat = 60.0
    bedrock_max_connections: PositiveInt = 256
    # None: the model family's own default (greedy decoding for Nova's tool use).
    bedrock_greedy_decoding: bool | None = None
    # None: cache points for the families that support them (Nova, Claude); false turns them off.
    bedrock_prompt_caching: bool | None = None
    # USD per 1,000 tokens by model id or family, over the built-in Nova prices (JSON in the environment).
    model_prices: dict[str, ModelPrice] = {}

    # The shop backend; required by `serve` (the demo embeds its own shop).
    backend_api_url: HttpUrl | None = None
    backend_api_key: str | None = None
    backend_timeout: PositiveFloat = 10.0
    backend_max_connections: PositiveInt = 256
    backend_retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 2
    # After this many failed calls in a row the backend is presumed down: calls fail at once
    # (503) until a trial call, `backend_breaker_reset_seconds` later, finds it back.
    backend_breaker_failures: PositiveInt = 5
    backend_breaker_reset_seconds: PositiveFloat = 10.0

    # The conversation. A turn past its deadline ends with 503 and leaves no trace.
    turn_timeout_seconds: PositiveFloat = 30.0
    max_tool_rounds: Annotated[int, msgspec.Meta(ge=1, le=50)] = 8
    history_max_turns: PositiveInt = 20
    system_prompt: str | None = None
    # "memory", or a Redis URL (redis://, rediss://, unix://) shared by every worker and instance.
    session_store: Annotated[str, msgspec.Meta(pattern=r"^(memory|(rediss?|unix)://\S+)$")] = "memory"
    session_ttl_seconds: PositiveInt = 24 * 3600
    max_sessions: PositiveInt = 100_000
    # How long a request waits for the session's running turn before answering 409.
    session_lock_wait_seconds: Annotated[float, msgspec.Meta(ge=0)] = 10.0
    # A turn holding a session longer than this is presumed dead (its worker was killed).
    session_lock_ttl_seconds: PositiveFloat = 60.0

    # Who may call the API: none (demo), api_key (a shop's backend), jwt (shoppers' browsers).
    auth: Literal["none", "api_key", "jwt"] | None = None
    api_keys: tuple[str, ...] = ()
    jwt_secret: str | None = None
    jwt_jwks_url: HttpUrl | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: tuple[str, ...] = ("HS256",)

    # Requests per minute, per shopper and per client address; 0 turns a limit off.
    rate_limit_per_user: Annotated[int, msgspec.Meta(ge=0)] = 30
    rate_limit_per_address: Annotated[int, msgspec.Meta(ge=0)] = 120

    # The HTTP service.
    server_host: str = "0.0.0.0"
    # On SIGTERM: readiness answers 503 for the drain, then running turns get the grace period.
    shutdown_drain_seconds: Annotated[float, msgspec.Meta(ge=0)] = 5.0
    shutdown_grace_seconds: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    server_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    cors_allow_origins: tuple[str, ...] = ()

    # Observability. Prometheus metrics at /metrics; with several workers, a directory they share
    # (set in the process environment: prometheus_client reads it at import).
    prometheus_multiproc_dir: str | None = None
    # OpenTelemetry traces over OTLP/HTTP (the `otel` extra); None: on when an endpoint is set.
    tracing: bool | None = None
    otel_exporter_otlp_endpoint: HttpUrl | None = None
    otel_service_name: str = "shopbot"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, env_file: str | Path | None = None) -> Settings:
        """Build settings from environment variables (`os.environ` by default) over an optional `.env` file.

        Raises `ConfigurationError` with one line naming the variable, the
        value's problem and what is allowed.
        """
        variables: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            variables.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        variables.update(os.environ if environ is None else environ)
        raw: dict[str, Any] = {}
        for field in msgspec.structs.fields(cls):
            value = next((variables[n] for n in _env_names(field.name) if variables.get(n, "").strip()), None)
            if value is not None:
                raw[field.name] = _parse(field.name, value.strip())
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigurationError(_explain(exc, raw)) from None

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict, with secret values hidden (for `shopbot config`)."""
        values = msgspec.structs.asdict(self)
        return {k: ("***" if k in SECRET_FIELDS and v else v) for k, v in values.items()}

    def secret_values(self) -> tuple[str, ...]:
        """The configured secrets, for the log redactor."""
        found: list[str] = []
        for name in SECRET_FIELDS:
            value = getattr(self, name)
            found.extend(value if isinstance(value, tuple) else [value] if value else [])
        return tuple(found)


# Seed names and AWS's own names; everything else is SHOPBOT_<FIELD>.
_NAMES = {
    "aws_region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "aws_access_key_id": ("AWS_ACCESS_KEY_ID",),
    "aws_secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
    "aws_session_token": ("AWS_SESSION_TOKEN",),
    "bedrock_endpoint_url": ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "SHOPBOT_BEDROCK_ENDPOINT_URL"),
    "server_host": ("SERVER_HOST",),
    "server_port": ("SERVER_PORT",),
    "log_level": ("LOG_LEVEL",),
    "cors_allow_origins": ("CORS_ALLOW_ORIGINS",),
    "prometheus_multiproc_dir": ("PROMETHEUS_MULTIPROC_DIR",),
    "otel_exporter_otlp_endpoint": ("OTEL_EXPORTER_OTLP_ENDPOINT",),
    "otel_service_name": ("OTEL_SERVICE_NAME",),
}


def _env_names(field: str) -> tuple[str, ...]:
    if field in _NAMES:
        return _NAMES[field]
    if field.startswith(("bedrock_", "backend_")):
        return (field.upper(), f"SHOPBOT_{field.upper()}")
    return (f"SHOPBOT_{field.upper()}",)


def env_name(field: str) -> str:
    """The environment variable that sets `field`."""
    return _env_names(field)[0]


def _parse(field: str, value: str) -> Any:
    if field in ("cors_allow_origins", "api_keys", "jwt_algorithms"):
        return tuple(origin.strip() for origin in value.split(",") if origin.strip())
    if field == "model_prices":
        try:
            return msgspec.json.decode(value)
        except msgspec.DecodeError:
            return value  # reported by the conversion, naming the variable
    if field in ("log_level", "model_provider", "bedrock_retry_mode", "auth"):
        return value.upper() if field == "log_level" else value.lower()
    return value


def _allowed(field: str) -> str:
    """What values `field` accepts, from its type's constraints."""
    info = next(f for f in msgspec.inspect.type_info(Settings).fields if f.name == field).type
    if isinstance(info, msgspec.inspect.UnionType):
        info = next(t for t in info.types if not isinstance(t, msgspec.inspect.NoneType))
    if isinstance(info, msgspec.inspect.LiteralType):
        return "one of " + ", ".join(map(str, info.values))
    if isinstance(info, (msgspec.inspect.IntType, msgspec.inspect.FloatType)):
        kind = "an integer" if isinstance(info, msgspec.inspect.IntType) else "a number"
        low = info.ge if info.ge is not None else info.gt
        high = info.le if info.le is not None else info.lt
        if low is not None and high is not None:
            return f"{kind} from {low} to {high}"
        if low is not None:
            return f"{kind} {'>' if info.gt is not None else '>='} {low}"
        return kind
    if isinstance(info, msgspec.inspect.BoolType):
        return "true or false"
    if isinstance(info, msgspec.inspect.DictType):
        return 'a JSON object like {"amazon.nova-pro": {"input": "0.0008", "output": "0.0032"}}'
    if isinstance(info, msgspec.inspect.StrType) and info.pattern:
        return "memory, or a redis:// or rediss:// URL" if field == "session_store" else "an http:// or https:// URL"
    return "text"


def _explain(exc: msgspec.ValidationError, raw: Mapping[str, Any]) -> str:
    # msgspec says "Expected `float` <= 1.0 - at `$.bedrock_temperature`".
    text, _, path = str(exc).rpartition(" - at `$.")
    field = path.rstrip("`").split("[")[0]
    if field not in raw:
        return f"invalid configuration: {exc}"
    value = raw[field]
    text = "not of the expected form" if "matching regex" in text else text
    shown = "***" if field in SECRET_FIELDS else (",".join(value) if isinstance(value, tuple) else value)
    return f"invalid setting {env_name(field)}={shown!r}: {text.rstrip('.')}; allowed: {_allowed(field)}"
