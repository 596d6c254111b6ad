"""Who is calling: the `Authorization` header turned into a `Caller`.

Three modes, chosen by `Settings.auth`:

* ``none`` (the demo): everyone is anonymous and may name any shopper.
* ``api_key`` (a shop's own backend): a bearer key from `Settings.api_keys`;
  the backend vouches for its shoppers, so it may name any of them.
* ``jwt`` (shoppers' browsers): a bearer token signed with `jwt_secret`
  (HS*) or a key from `jwt_jwks_url` (RS*, ES*, PS*, EdDSA); the token's
  ``sub`` *is* the shopper, and naming anyone else is forbidden.

Failures raise `NotAuthenticated` (401) or `Forbidden` (403) with a short
reason that never repeats the credential.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re

import jwt
import msgspec

from shopbot.errors import ConfigurationError, ShopbotError
from shopbot.settings import Settings

__all__ = ["Authenticator", "Caller", "Forbidden", "NotAuthenticated"]

# Clock skew tolerated between the token issuer and us, in seconds.
_LEEWAY = 5
_JWKS_TIMEOUT = 5.0
_USER_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")

# Most specific first: InvalidSignatureError is a DecodeError.
_TOKEN_ERRORS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.InvalidIssuedAtError, "token issued in the future"),
    (jwt.exceptions.InvalidSubjectError, "invalid subject"),
    (jwt.PyJWKSetError, "signing keys unavailable"),
    (jwt.DecodeError, "malformed token"),
)


class NotAuthenticated(ShopbotError):
    """The request carries no usable credential (401)."""


class Forbidden(ShopbotError):
    """The caller is known but may not act for the shopper it named (403)."""


class Caller(msgspec.Struct, frozen=True):
    """What a credential proves about the caller."""

    # The shopper the credential proves (a token's `sub`), else None.
    user_id: str | None
    # Whether a user_id named in the request body or query is accepted.
    may_name_user: bool
    # Stable and non-secret: the key for rate limits and idempotency scoping.
    identity: str


ANONYMOUS = Caller(None, True, "anonymous")


class Authenticator:
    """Checks `Authorization` headers under the configured mode."""

    def __init__(self, settings: Settings) -> None:
        """Validate the auth settings; raises `ConfigurationError` when the mode cannot work."""
        self._mode = settings.auth or "none"
        self._settings = settings
        # Digests, so every comparison is over equal-length bytes whatever the caller sends.
        self._key_digests = tuple(hashlib.sha256(key.encode()).digest() for key in settings.api_keys)
        self._jwks: jwt.PyJWKClient | None = None
        if self._mode == "api_key" and not self._key_digests:
            raise ConfigurationError("SHOPBOT_AUTH=api_key needs at least one key in SHOPBOT_API_KEYS")
        if self._mode == "jwt":
            self._check_jwt_settings(settings)
            if settings.jwt_jwks_url:
                # The JWK set is cached for 5 minutes and refetched early for an unknown `kid`. No
                # per-key cache (`cache_keys`): it never expires, so a withdrawn key would stay trusted.
                self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url, timeout=_JWKS_TIMEOUT)

    @staticmethod
    def _check_jwt_settings(settings: Settings) -> None:
        algorithms = settings.jwt_algorithms
        if not settings.jwt_secret and not settings.jwt_jwks_url:
            raise ConfigurationError("SHOPBOT_AUTH=jwt needs SHOPBOT_JWT_SECRET or SHOPBOT_JWT_JWKS_URL")
        if not algorithms:
            raise ConfigurationError("SHOPBOT_AUTH=jwt needs at least one algorithm in SHOPBOT_JWT_ALGORITHMS")
        unknown = [a for a in algorithms if a not in jwt.algorithms.get_default_algorithms() or a == "none"]
        if unknown:
            raise ConfigurationError(f"SHOPBOT_JWT_ALGORITHMS has unsupported algorithms: {', '.join(unknown)}")
        if any(a.startswith("HS") for a in algorithms) and not settings.jwt_secret:
            raise ConfigurationError("HS* algorithms in SHOPBOT_JWT_ALGORITHMS need SHOPBOT_JWT_SECRET")
        # RFC 7518 §3.2: an HMAC key at least as long as the hash; PyJWT warns on every decode otherwise.
        needed = max((int(a[2:]) // 8 for a in algorithms if a.startswith("HS")), default=0)
        if settings.jwt_secret and len(settings.jwt_secret.encode()) < needed:
            raise ConfigurationError(f"SHOPBOT_JWT_SECRET must be at least {needed} bytes long for HS{needed * 8}")
        if any(not a.startswith("HS") for a in algorithms) and not settings.jwt_jwks_url:
            raise ConfigurationError("public-key algorithms in SHOPBOT_JWT_ALGORITHMS need SHOPBOT_JWT_JWKS_URL")

    async def authenticate(self, authorization: str | None) -> Caller:
        """The caller behind the raw `Authorization` header value (None when absent)."""
        if self._mode == "none":
            return ANONYMOUS
        token = _bearer_token(authorization)
        if self._mode == "api_key":
            return self._check_api_key(token)
        return await self._check_jwt(token)

    def shopper(self, caller: Caller, requested_user_id: str | None) -> str | None:
        """The shopper a request acts for, given the user_id it names (None: a guest).

        A token-bearing caller acts for its own `sub` only; naming anyone else is `Forbidden`.
        """
        if caller.may_name_user:
            return requested_user_id
        if requested_user_id is not None and requested_user_id != caller.user_id:
            raise Forbidden("user_id does not match the token's subject")
        return caller.user_id

    def _check_api_key(self, token: str) -> Caller:
        presented = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        matched: bytes | None = None
        # Every key is compared, with no early exit, so timing says nothing about which matched.
        for digest in self._key_digests:
            if hmac.compare_digest(presented, digest):
                matched = digest
        if matched is None:
            raise NotAuthenticated("invalid API key")
        return Caller(None, True, f"key:{matched.hex()[:12]}")

    async def _check_jwt(self, token: str) -> Caller:
        settings = self._settings
        try:
            header = jwt.get_unverified_header(token)
            alg = header.get("alg")
            if alg not in settings.jwt_algorithms:
                raise NotAuthenticated("algorithm not allowed")
            key = settings.jwt_secret if alg.startswith("HS") else await self._signing_key(header.get("kid"))
            claims = jwt.decode(
                token,
                key,
                algorithms=list(settings.jwt_algorithms),
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                leeway=_LEEWAY,
                options={"require": ["exp", "sub"]},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise NotAuthenticated(f"token has no {exc.claim} claim") from None
        except jwt.PyJWTError as exc:
            reason = next((text for kind, text in _TOKEN_ERRORS if isinstance(exc, kind)), "invalid token")
            raise NotAuthenticated(reason) from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not _USER_ID.fullmatch(subject):
            raise NotAuthenticated("invalid subject")
        return Caller(subject, False, f"user:{subject}")

    async def _signing_key(self, kid: str | None) -> jwt.PyJWK:
        assert self._jwks is not None  # guaranteed by _check_jwt_settings
        try:
            # PyJWKClient fetches with blocking urllib; keep it off the event loop.
            return await asyncio.to_thread(self._jwks.get_signing_key, kid)
        except jwt.PyJWKClientConnectionError:
            raise NotAuthenticated("signing keys unavailable") from None
        except jwt.PyJWKClientError:
            raise NotAuthenticated("unknown signing key") from None


def _bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    # The scheme is case-insensitive (RFC 9110 §11.1); a token has no spaces.
    if scheme.lower() != "bearer" or not token or " " in token:
        raise NotAuthenticated("missing bearer token")
    return token
