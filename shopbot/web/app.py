"""The Litestar app: wiring only.

`create_app(settings)` opens the runtime (model, storefront client, session
store) in the app's lifespan; tests and embedders may pass an open `runtime`
(and the `metrics` its observer reports to). `GET /metrics` serves the metrics.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sized
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.config.cors import CORSConfig
from litestar.datastructures import CacheControlHeader, State
from litestar.di import Provide
from litestar.enums import MediaType
from litestar.exceptions import ClientException, HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import RedocRenderPlugin, SwaggerRenderPlugin
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from shopbot import __version__
from shopbot.errors import ConfigurationError
from shopbot.logs import request_id
from shopbot.observability import Observer, Observers, tracing_enabled
from shopbot.observability.metrics import CONTENT_TYPE, Metrics
from shopbot.ratelimit import RateLimiter
from shopbot.runtime import Runtime, open_runtime
from shopbot.settings import Settings
from shopbot.web.auth import Authenticator, Caller
from shopbot.web.errors import error_response
from shopbot.web.routes import (
    ChatController,
    SessionController,
    health,
    readiness,
    record_turn,
    service_info,
)
from shopbot.web.schemas import ErrorResponse

__all__ = ["create_app"]

MAX_BODY_BYTES = 64 * 1024
_DEMO_PAGE = Path(__file__).parent / "static" / "demo.html"
_SWAGGER = SwaggerRenderPlugin(path="/swagger")
_REDOC = RedocRenderPlugin(path="/redoc")


def create_app(settings: Settings, *, runtime: Runtime | None = None, metrics: Metrics | None = None) -> Litestar:
    """The chat service's ASGI app for `settings`.

    Raises `ConfigurationError` at once for an unusable auth or metrics configuration.
    """
    authenticator = Authenticator(settings)
    metrics = metrics or Metrics.from_settings(settings)
    open_tracing = _tracing(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.authenticator = authenticator
        app.state.metrics = metrics
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(metrics.close)
            limiter = RateLimiter.from_settings(settings)
            stack.push_async_callback(limiter.aclose)
            app.state.limiter = limiter
            if runtime is None:
                observer: Observer = metrics
                if open_tracing is not None:
                    observer = Observers(metrics, stack.enter_context(open_tracing(settings)))
                app.state.runtime = await stack.enter_async_context(open_runtime(settings, observer=observer))
            else:
                app.state.runtime = runtime
            yield

    def handle_error(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorResponse]:
        response = error_response(request, exc)
        code = response.content.error.partition(":")[0]
        metrics.request_refused(response.status_code, code, scope=getattr(exc, "scope", None))
        if request.method == "POST" and request.url.path in _CHAT_PATHS:
            record_turn(request, code)
        return response

    return Litestar(
        route_handlers=[
            ChatController,
            SessionController,
            health,
            readiness,
            service_info,
            demo_page,
            openapi_json,
            swagger_ui,
            redoc,
            metrics_page,
        ],
        dependencies={
            "runtime": Provide(_runtime, sync_to_thread=False),
            "authenticator": Provide(_authenticator, sync_to_thread=False),
            "limiter": Provide(_limiter, sync_to_thread=False),
            "caller": Provide(_caller),
        },
        lifespan=[lifespan],
        middleware=[RequestIdMiddleware],
        request_class=JsonRequest,
        exception_handlers={Exception: handle_error},
        cors_config=_cors(settings.cors_allow_origins),
        request_max_body_size=MAX_BODY_BYTES,
        logging_config=None,
        openapi_config=OpenAPIConfig(
            title="shopbot — Shopping Assistant Chatbot API",
            version=__version__,
            description="Chat with the shop's assistant: search, recommendations and the shopper's cart.",
            path="/schema",
            render_plugins=[_SWAGGER, _REDOC],
        ),
    )


_CHAT_PATHS = frozenset({ChatController.path, f"{ChatController.path}/stream"})


def _tracing(settings: Settings) -> Callable[[Settings], contextlib.AbstractContextManager[Observer]] | None:
    """`open_tracing` when tracing is configured (opentelemetry is imported only then), else None."""
    if not tracing_enabled(settings):
        return None
    try:
        from shopbot.observability.tracing import open_tracing
    except ImportError as exc:
        raise ConfigurationError(f"tracing needs the otel extra (pip install 'shopbot[otel]'): {exc}") from None
    return open_tracing


def _runtime(state: State) -> Runtime:
    return state.runtime


def _authenticator(state: State) -> Authenticator:
    return state.authenticator


def _limiter(state: State) -> RateLimiter:
    return state.limiter


async def _caller(request: Request[Any, Any, Any], state: State) -> Caller:
    return await state.authenticator.authenticate(request.headers.get("authorization"))


def _cors(origins: tuple[str, ...]) -> CORSConfig | None:
    if not origins:
        return None
    return CORSConfig(
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=["Content-Type", "Authorization", "Idempotency-Key", "X-Request-ID"],
        expose_headers=["X-Request-ID"],
        # Browsers refuse credentials with a wildcard origin; never offer both.
        allow_credentials="*" not in origins,
    )


@get("/demo", include_in_schema=False, media_type=MediaType.HTML, cache_control=CacheControlHeader(no_cache=True))
async def demo_page() -> bytes:
    """The chat widget: one static page, nothing loaded from elsewhere."""
    return _DEMO_PAGE.read_bytes()


@get("/metrics", include_in_schema=False, cache_control=CacheControlHeader(no_store=True))
async def metrics_page(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The Prometheus metrics, in the text exposition format."""
    state = request.app.state
    if isinstance(state.runtime.store, Sized):  # the memory store; Redis has no cheap count
        state.metrics.sessions(len(state.runtime.store))
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE)


@get("/openapi.json", include_in_schema=False, media_type=MediaType.JSON)
async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 document."""
    return request.app.openapi_schema.to_schema()


@get("/docs", include_in_schema=False, media_type=MediaType.HTML)
async def swagger_ui(request: Request[Any, Any, Any]) -> bytes:
    """Swagger UI."""
    return _SWAGGER.render(request, request.app.openapi_schema.to_schema())


@get("/redoc", include_in_schema=False, media_type=MediaType.HTML)
async def redoc(request: Request[Any, Any, Any]) -> bytes:
    """ReDoc."""
    return _REDOC.render(request, request.app.openapi_schema.to_schema())


class JsonRequest(Request[Any, Any, Any]):
    """A request whose JSON body must say it is JSON, and whose decoding failures are the client's.

    Only `application/json` is accepted: the other types a browser may send
    cross-origin without a CORS preflight (`text/plain`, forms) are refused.
    Litestar maps msgspec's decode errors to 400 but not a recursion limit hit
    by deeply nested JSON or invalid UTF-8 inside a string, which would be 500s.
    """

    async def json(self) -> Any:
        await self.body()  # over the size limit: 413 before anything else
        media_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise HTTPException(status_code=415, detail="Content-Type must be application/json")
        try:
            return await super().json()
        except (RecursionError, UnicodeDecodeError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else "not valid UTF-8"
            raise ClientException(f"JSON is malformed: {reason}") from None


class RequestIdMiddleware:
    """Gives every request an id (the caller's `X-Request-ID` if sane), logs it, and returns it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        sane = 8 <= len(incoming) <= 64 and incoming.isascii() and incoming.replace("-", "").isalnum()
        rid = incoming if sane else uuid.uuid4().hex
        token = request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
