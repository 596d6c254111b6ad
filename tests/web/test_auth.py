"""The three auth modes, every way a credential fails, and who a request may act for."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st
from litestar import Litestar, get

from shopbot.errors import ConfigurationError
from shopbot.serving import serve_in_background
from shopbot.settings import Settings
from shopbot.web.auth import Authenticator, Caller, Forbidden, NotAuthenticated

KEYS = ("k-first-0123456789abcdef", "k-second-fedcba9876543210")
SECRET = "test-secret-that-is-at-least-32-bytes-long"
ISSUER = "https://issuer.example"
AUDIENCE = "shopbot"


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "alice", "exp": now + 300, "iat": now, "iss": ISSUER, "aud": AUDIENCE, **overrides}
    return {k: v for k, v in claims.items() if v is not None}


def _hs256(**overrides: Any) -> str:
    return jwt.encode(_claims(**overrides), SECRET, algorithm="HS256")


def _jwt_auth(**settings: Any) -> Authenticator:
    base = {"auth": "jwt", "jwt_secret": SECRET, "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE}
    return Authenticator(Settings(**{**base, **settings}))


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _reason(auth: Authenticator, header: str | None) -> str:
    with pytest.raises(NotAuthenticated) as caught:
        await auth.authenticate(header)
    return str(caught.value)


# --- mode none -------------------------------------------------------------


@pytest.mark.parametrize("mode", [None, "none"])
@pytest.mark.parametrize("header", [None, "", "Bearer whatever", "Basic Zm9vOmJhcg=="])
async def test_mode_none_makes_everyone_anonymous(mode: str | None, header: str | None) -> None:
    caller = await Authenticator(Settings(auth=mode)).authenticate(header)
    assert caller == Caller(None, True, "anonymous")


# --- mode api_key ----------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
async def test_api_key_accepts_every_configured_key(key: str) -> None:
    caller = await Authenticator(Settings(auth="api_key", api_keys=KEYS)).authenticate(f"Bearer {key}")
    assert caller == Caller(None, True, f"key:{hashlib.sha256(key.encode()).hexdigest()[:12]}")
    assert key not in caller.identity


async def test_api_key_scheme_is_case_insensitive() -> None:
    caller = await Authenticator(Settings(auth="api_key", api_keys=KEYS)).authenticate(f"bearer  {KEYS[0]} ")
    assert caller.may_name_user and caller.identity.startswith("key:")


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", f"Basic {KEYS[0]}", KEYS[0], f"Bearer {KEYS[0]} extra"]
)
async def test_api_key_without_a_bearer_token_is_refused(header: str | None) -> None:
    auth = Authenticator(Settings(auth="api_key", api_keys=KEYS))
    assert await _reason(auth, header) == "missing bearer token"


@pytest.mark.parametrize(
    "presented",
    [
        KEYS[0][:-1],  # a prefix
        KEYS[0] + "0",  # an extension
        KEYS[0][:-1] + "g",  # the last character changed
        KEYS[0].upper(),
        KEYS[0] + KEYS[1],
        "ключ-" + KEYS[0],  # non-ASCII must be refused, not crash the comparison
    ],
)
async def test_api_key_refuses_near_misses_without_echoing_them(presented: str) -> None:
    auth = Authenticator(Settings(auth="api_key", api_keys=KEYS))
    reason = await _reason(auth, f"Bearer {presented}")
    assert reason == "invalid API key"
    assert presented not in reason


@given(st.text(alphabet=st.characters(blacklist_categories=("Zs", "Cc", "Cs")), min_size=1, max_size=64))
def test_api_key_refuses_any_other_key(presented: str) -> None:
    auth = Authenticator(Settings(auth="api_key", api_keys=KEYS))
    if presented in KEYS:
        return
    with pytest.raises(NotAuthenticated, match="^invalid API key$"):
        asyncio.run(auth.authenticate(f"Bearer {presented}"))


# --- mode jwt with a shared secret ------------------------------------------


async def test_jwt_hs256_token_proves_its_subject() -> None:
    caller = await _jwt_auth().authenticate(f"Bearer {_hs256(sub='user-42@shop')}")
    assert caller == Caller("user-42@shop", False, "user:user-42@shop")


async def test_jwt_without_audience_or_issuer_settings_checks_neither() -> None:
    auth = Authenticator(Settings(auth="jwt", jwt_secret=SECRET))
    caller = await auth.authenticate(f"Bearer {_hs256(aud=None, iss='anyone')}")
    assert caller.user_id == "alice"


async def test_jwt_tolerates_a_little_clock_skew() -> None:
    caller = await _jwt_auth().authenticate(f"Bearer {_hs256(exp=int(time.time()) - 2)}")
    assert caller.user_id == "alice"


def _alg_none_token() -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (_hs256(exp=int(time.time()) - 60), "token expired"),
        (_hs256(nbf=int(time.time()) + 60), "token not yet valid"),
        (jwt.encode(_claims(), "another-secret-that-is-32-bytes-long!", algorithm="HS256"), "bad signature"),
        (_hs256(aud="someone-else"), "wrong audience"),
        (_hs256(iss="https://evil.example"), "wrong issuer"),
        (_hs256(sub=None), "token has no sub claim"),
        (_hs256(exp=None), "token has no exp claim"),
        (_hs256(aud=None), "token has no aud claim"),
        (_alg_none_token(), "algorithm not allowed"),
        (jwt.encode(_claims(), SECRET + SECRET, algorithm="HS512"), "algorithm not allowed"),
        ("not-a-token", "malformed token"),
        (f"{_b64({'alg': 'HS256'})}.e30.!!!", "malformed token"),
        (_hs256(sub=""), "invalid subject"),
        (_hs256(sub="has space"), "invalid subject"),
        (_hs256(sub="x" * 129), "invalid subject"),
        (_hs256(sub="alice\n"), "invalid subject"),
        (_hs256(sub=12345), "invalid subject"),
    ],
)
async def test_jwt_refusals_name_the_reason(token: str, reason: str) -> None:
    assert await _reason(_jwt_auth(), f"Bearer {token}") == reason


async def test_jwt_without_a_bearer_token_is_refused() -> None:
    assert await _reason(_jwt_auth(), None) == "missing bearer token"
    assert await _reason(_jwt_auth(), f"Basic {_hs256()}") == "missing bearer token"


# --- mode jwt with keys from a JWKS endpoint --------------------------------


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return _rsa_key()


@pytest.fixture
async def jwks_url(signing_key: rsa.RSAPrivateKey) -> AsyncIterator[tuple[str, list[int]]]:
    """A real JWKS endpoint on a loopback port, and a list counting its fetches."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    fetches: list[int] = []

    @get("/.well-known/jwks.json", sync_to_thread=False)
    def jwks() -> dict[str, Any]:
        fetches.append(1)
        return {"keys": [{**public, "kid": "key-1", "alg": "RS256", "use": "sig"}]}

    async with serve_in_background(Litestar([jwks])) as base_url:
        yield f"{base_url}/.well-known/jwks.json", fetches


def _rs256(key: rsa.RSAPrivateKey, kid: str = "key-1", **overrides: Any) -> str:
    return jwt.encode(_claims(**overrides), key, algorithm="RS256", headers={"kid": kid})


def _jwks_auth(url: str) -> Authenticator:
    return _jwt_auth(jwt_secret=None, jwt_jwks_url=url, jwt_algorithms=("RS256",))


async def test_jwt_rs256_verified_with_a_key_from_the_jwks_endpoint(jwks_url, signing_key) -> None:
    url, fetches = jwks_url
    auth = _jwks_auth(url)
    caller = await auth.authenticate(f"Bearer {_rs256(signing_key)}")
    assert caller == Caller("alice", False, "user:alice")
    await auth.authenticate(f"Bearer {_rs256(signing_key, sub='bob')}")
    assert len(fetches) == 1  # the key set is cached


async def test_jwt_rs256_refusals(jwks_url, signing_key) -> None:
    url, _ = jwks_url
    auth = _jwks_auth(url)
    assert await _reason(auth, f"Bearer {_rs256(_rsa_key())}") == "bad signature"
    assert await _reason(auth, f"Bearer {_rs256(signing_key, kid='key-2')}") == "unknown signing key"
    assert await _reason(auth, f"Bearer {_rs256(signing_key, exp=int(time.time()) - 60)}") == "token expired"
    # An HMAC token must not be accepted where only public-key algorithms are allowed.
    assert await _reason(auth, f"Bearer {_hs256()}") == "algorithm not allowed"


async def test_jwt_unreachable_jwks_endpoint_refuses_without_hanging(signing_key) -> None:
    async with serve_in_background(Litestar([])) as base_url:
        pass  # the port is free again: nothing listens there now
    auth = _jwks_auth(f"{base_url}/.well-known/jwks.json")
    assert await _reason(auth, f"Bearer {_rs256(signing_key)}") == "signing keys unavailable"


# --- whom a request acts for ------------------------------------------------


@pytest.mark.parametrize("caller", [Caller(None, True, "anonymous"), Caller(None, True, "key:0123456789ab")])
@pytest.mark.parametrize("requested", [None, "alice", "bob"])
def test_callers_who_may_name_a_user_act_for_that_user(caller: Caller, requested: str | None) -> None:
    assert Authenticator(Settings()).shopper(caller, requested) == requested


@pytest.mark.parametrize("requested", [None, "alice"])
def test_token_callers_act_for_their_subject(requested: str | None) -> None:
    caller = Caller("alice", False, "user:alice")
    assert _jwt_auth().shopper(caller, requested) == "alice"


def test_token_callers_may_not_name_someone_else() -> None:
    with pytest.raises(Forbidden):
        _jwt_auth().shopper(Caller("alice", False, "user:alice"), "bob")


# --- configuration ------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        Settings(auth="api_key"),
        Settings(auth="jwt"),
        Settings(auth="jwt", jwt_secret=SECRET, jwt_algorithms=()),
        Settings(auth="jwt", jwt_secret=SECRET, jwt_algorithms=("none",)),
        Settings(auth="jwt", jwt_secret=SECRET, jwt_algorithms=("HS999",)),
        Settings(auth="jwt", jwt_secret="short"),
        Settings(auth="jwt", jwt_secret=SECRET, jwt_algorithms=("HS512",)),
        Settings(auth="jwt", jwt_secret=SECRET, jwt_algorithms=("RS256",)),
        Settings(auth="jwt", jwt_jwks_url="https://id.example/jwks.json"),
    ],
)
def test_unusable_auth_settings_are_refused(settings: Settings) -> None:
    with pytest.raises(ConfigurationError):
        Authenticator(settings)


@pytest.mark.parametrize(
    "settings",
    [
        Settings(),
        Settings(auth="none"),
        Settings(auth="api_key", api_keys=KEYS),
        Settings(auth="jwt", jwt_secret=SECRET),
        Settings(auth="jwt", jwt_jwks_url="https://id.example/jwks.json", jwt_algorithms=("RS256", "ES256")),
        Settings(
            auth="jwt",
            jwt_secret=SECRET,
            jwt_jwks_url="https://id.example/jwks.json",
            jwt_algorithms=("HS256", "RS256"),
        ),
    ],
)
def test_usable_auth_settings_are_accepted(settings: Settings) -> None:
    Authenticator(settings)
