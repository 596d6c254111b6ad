"""Logging: JSON and readable lines, and nothing secret or personal reaching the stream."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import string
import subprocess
import sys
import uuid

import msgspec
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from shopbot.errors import ConfigurationError
from shopbot.logs import Redactor, configure_logging, redact, request_id

NOISY = ("httpx", "httpcore", "botocore", "aiobotocore", "boto3", "aioboto3", "s3transfer", "urllib3")

# Passed to configure_logging as known secrets.
API_KEY = "sk-canary-4f7b1c2d9e8a"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYCANARYKEY1"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjCANARY//////////wEaCXVzLXdlc3QtMiJHMEUCIQ=="
# Caught by shape alone.
KEY_ID = "AKIA" + "IOSFODNN7CANARY1"  # assembled: a fake key, but no key-shaped literal in the repo
OTHER_TOKEN = "FwoGZXIvYXdzCANARYEHQaDEXAMPLE/token+value=="
OTHER_SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbCANARYSECR"
SIGNATURE = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
BEARER = "tok_live_9f8e7d6c5b4a3210canary"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlY2FuYXJ5"
PASSWORD = "hunter2-canary pass"
EMAIL = "jane.canary@example.com"
PHONES = ("+1 415 555 0142", "(415) 555-0142", "415-555-0142", "+44 20 7946 0958")
CARDS = ("4111 1111 1111 1111", "5555555555554444", "3782-822463-10005")
CANARIES = (API_KEY, AWS_SECRET, SESSION_TOKEN, KEY_ID, OTHER_TOKEN, OTHER_SECRET, SIGNATURE, BEARER, JWT)
CANARIES += (PASSWORD, "hunter2", EMAIL, *PHONES, *CARDS, "4111111111111111", "378282246310005")

SESSION_ID = "550e8400-e29b-41d4-a716-446655440000"
CHAT = (
    f"Hi, I'm Jane ({EMAIL}), call {PHONES[0]} or {PHONES[1]}; card {CARDS[0]}. Is the HP Pavilion 15 799.99 in stock?"
)
SIGNED_HEADERS = "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"
CREDENTIAL = f"Credential={KEY_ID}/20261125/us-west-2/bedrock/aws4_request"
AUTHORIZATION = f"AWS4-HMAC-SHA256 {CREDENTIAL}, {SIGNED_HEADERS}, Signature={SIGNATURE}"
STILL_THERE = (
    "HP Pavilion 15 799.99",
    SESSION_ID,
    "2026-11-25T11:30:01Z",
    "'X-Amz-Date': '20261125T113001Z'",
    "/model/us.amazon.nova-pro-v1:0/converse",
    "bedrock-runtime.us-west-2.amazonaws.com",
    "dell-xps-13",
    "127.0.0.1:8080",
)


@pytest.fixture(autouse=True)
def restore_logging():
    """configure_logging changes process-wide state; put it back after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in NOISY}
    yield
    for handler in root.handlers[:]:
        if handler not in handlers and handler.get_name() == "shopbot.logs":  # pytest's own come and go by phase
            root.removeHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def capture(level: str = "DEBUG", **options) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(level, stream=stream, **options)
    return stream


def log_the_canaries() -> None:
    log = logging.getLogger("shopbot.web")
    log.info("calling the backend with key %s", API_KEY)
    log.info(f"aws secret {AWS_SECRET} token {SESSION_TOKEN}")
    log.info("chat turn", extra={"session_id": SESSION_ID, "latency_ms": 812.4, "tools": ["search_products:ok"]})
    log.info("chat message: %s", CHAT, extra={"shopper": {"email": EMAIL, "phone": PHONES[3], "card": CARDS[1]}})
    log.info("headers %s", {"Authorization": f"Bearer {BEARER}", "x-api-key": API_KEY, "Cookie": f"session={JWT}"})
    log.info("extras", extra={"api_key": API_KEY, "headers": {"Authorization": f"Bearer {BEARER}"}, "note": JWT})
    log.warning("login failed: password=%s, retry with {'password': %r}", PASSWORD, PASSWORD)
    log.info("parsed at 2026-11-25T11:30:01Z from dell-xps-13 via 127.0.0.1:8080, amex %s", CARDS[2])
    try:
        try:
            raise KeyError(f"no session for {EMAIL}")
        except KeyError as exc:
            raise ValueError(f"backend refused key {API_KEY} and card {CARDS[0]}") from exc
    except ValueError:
        log.exception("turn failed for %s", PHONES[2])
    # What botocore writes at DEBUG when it signs and sends a Converse request.
    params = {
        "url_path": "/model/us.amazon.nova-pro-v1:0/converse",
        "headers": {
            "X-Amz-Date": "20261125T113001Z",
            "X-Amz-Security-Token": OTHER_TOKEN.encode(),
            "Authorization": AUTHORIZATION.encode(),
        },
        "body": msgspec.json.encode({"messages": [{"role": "user", "content": [{"text": CHAT}]}]}),
    }
    logging.getLogger("botocore.endpoint").debug(
        "Making request for OperationModel(name=Converse) with params: %s", params
    )
    canonical = (
        "POST\n/model/us.amazon.nova-pro-v1%3A0/converse\n\nhost:bedrock-runtime.us-west-2.amazonaws.com\n"
        f"x-amz-date:20261125T113001Z\nx-amz-security-token:{OTHER_TOKEN}\n"
    )
    logging.getLogger("botocore.auth").debug("CanonicalRequest:\n%s", canonical)
    logging.getLogger("botocore.auth").debug("Signature:\n%s", SIGNATURE)
    logging.getLogger("botocore.auth").debug(
        "headers:\nAuthorization: %s\nX-Amz-Security-Token: %s", AUTHORIZATION, OTHER_TOKEN
    )
    logging.getLogger("botocore.credentials").debug(
        'Response body: {"Credentials": {"AccessKeyId": "%s", "SecretAccessKey": "%s", "SessionToken": "%s"}}',
        KEY_ID, OTHER_SECRET, OTHER_TOKEN,
    )  # fmt: skip
    logging.getLogger("aiobotocore.credentials").debug(
        "<AssumeRoleResult><SecretAccessKey>%s</SecretAccessKey></AssumeRoleResult> aws_secret_access_key = %s",
        OTHER_SECRET, OTHER_SECRET,
    )  # fmt: skip


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "readable"])
def test_no_canary_reaches_the_output_and_the_rest_does(as_json: bool) -> None:
    stream = capture("DEBUG", json=as_json, secrets=[API_KEY, AWS_SECRET, SESSION_TOKEN])
    log_the_canaries()
    out = stream.getvalue()
    # JSON escapes could hide a canary from a plain search: also search the decoded values.
    texts = (
        [out, *(json.dumps(json.loads(line), ensure_ascii=False) for line in out.splitlines())] if as_json else [out]
    )
    for text in texts:
        leaked = [canary for canary in CANARIES if canary in text]
        assert not leaked, f"leaked {leaked}"
    for kept in STILL_THERE:
        assert kept in out, f"{kept!r} was redacted"
    assert "Making request for OperationModel" in out and "ValueError: backend refused key [REDACTED]" in out


def test_json_lines_carry_the_documented_fields() -> None:
    stream = capture("INFO")
    log = logging.getLogger("shopbot.web")
    token = request_id.set("abc123")
    try:
        log.info(
            "chat turn", extra={"session_id": SESSION_ID, "latency_ms": 812.4, "model_calls": 2, "tools": ["a:ok"]}
        )
        try:
            {}["missing"]
        except KeyError:
            log.exception("failed")
    finally:
        request_id.reset(token)
    log.warning("outside a request")
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first.keys() == {
        "ts",
        "level",
        "logger",
        "message",
        "request_id",
        "session_id",
        "latency_ms",
        "model_calls",
        "tools",
    }
    assert (first["level"], first["logger"], first["message"], first["request_id"]) == (
        "INFO",
        "shopbot.web",
        "chat turn",
        "abc123",
    )
    assert (first["session_id"], first["latency_ms"], first["model_calls"], first["tools"]) == (
        SESSION_ID,
        812.4,
        2,
        ["a:ok"],
    )
    ts = dt.datetime.fromisoformat(first["ts"])
    assert ts.utcoffset() == dt.timedelta(0) and abs(dt.datetime.now(dt.UTC) - ts) < dt.timedelta(minutes=1)
    assert (
        second["exc"].startswith("Traceback")
        and "KeyError: 'missing'" in second["exc"]
        and second["request_id"] == "abc123"
    )
    assert "request_id" not in third and third["level"] == "WARNING"


def test_readable_lines_are_one_per_record_plus_the_traceback() -> None:
    stream = capture("INFO", json=False)
    log = logging.getLogger("shopbot.web")
    token = request_id.set("abc123")
    log.info("chat turn", extra={"session_id": SESSION_ID, "latency_ms": 812.4, "tools": ["a:ok"], "note": "two words"})
    request_id.reset(token)
    log.info("a shopper wrote\n2026-11-25 11:30:01 INFO shopbot.web forged")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    lines = stream.getvalue().splitlines()
    record = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (INFO|ERROR) shopbot\.web ")
    assert [bool(record.match(line)) for line in lines] == [True, True, True, False, False, False, False]
    assert lines[0].endswith(
        f'[req=abc123] chat turn session_id={SESSION_ID} latency_ms=812.4 tools=["a:ok"] note="two words"'
    )
    assert lines[1].endswith("a shopper wrote\\n2026-11-25 11:30:01 INFO shopbot.web forged")
    assert lines[3] == "Traceback (most recent call last):" and lines[-1] == "RuntimeError: boom"


def test_configuring_twice_does_not_duplicate_lines_or_touch_other_handlers() -> None:
    foreign = logging.StreamHandler(io.StringIO())
    logging.getLogger().addHandler(foreign)
    try:
        first = capture("INFO")
        second = capture("INFO")
        logging.getLogger("shopbot").info("once")
    finally:
        logging.getLogger().removeHandler(foreign)
    assert first.getvalue() == ""
    assert [json.loads(line)["message"] for line in second.getvalue().splitlines()] == ["once"]
    assert foreign.stream.getvalue() == "once\n"


def test_noisy_libraries_are_quieted_unless_debugging() -> None:
    capture("INFO")
    assert [logging.getLogger(n).getEffectiveLevel() for n in ("httpx", "botocore", "urllib3")] == [logging.WARNING] * 3
    assert logging.getLogger("shopbot").getEffectiveLevel() == logging.INFO
    capture("DEBUG")
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("botocore.endpoint").getEffectiveLevel() == logging.DEBUG
    capture("ERROR")
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.ERROR


def test_an_unknown_level_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="VERBOSE"):
        configure_logging("VERBOSE")


def test_a_broken_record_is_reported_without_its_content(capsys: pytest.CaptureFixture[str]) -> None:
    stream = capture("INFO", secrets=[API_KEY])
    # Straight to our handler: pytest's own handler would raise on the broken record first.
    (ours,) = (h for h in logging.getLogger().handlers if h.get_name() == "shopbot.logs")
    ours.handle(logging.makeLogRecord({"msg": "key %s and %s", "args": (API_KEY,)}))  # one argument short
    assert stream.getvalue() == ""
    err = capsys.readouterr().err
    assert "logging error: TypeError" in err and API_KEY not in err


def test_importing_the_module_configures_nothing() -> None:
    code = (
        "import logging, shopbot.logs; assert not logging.getLogger().handlers; assert logging.getLogger().level == 30"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-123", "Authorization: [REDACTED]"),
        ("{'authorization': 'Basic dXNlcjpwYXNz'}", "{'authorization': '[REDACTED]'}"),
        ('{"x-api-key": "k-123456"}', '{"x-api-key": "[REDACTED]"}'),
        ("apikey=abc123&q=laptops", "apikey=[REDACTED]&q=laptops"),
        ("password: 'correct horse'", "password: '[REDACTED]'"),
        ("secret=s3cr3t token=t0k3n", "secret=[REDACTED] token=[REDACTED]"),
        ("sent with bearer abcdefgh12345678", "sent with bearer [REDACTED]"),
        ("redis://:pw123456@cache:6379/0", "redis://:[REDACTED]@cache:6379/0"),
        (f"id {KEY_ID} and ASIAY34FZKBOKMUTVV7A", "id [REDACTED] and [REDACTED]"),
        (f"<SessionToken>{OTHER_TOKEN}</SessionToken>", "<SessionToken>[REDACTED]</SessionToken>"),
        (f"jwt {JWT}.", "jwt [REDACTED]."),
        ("mail Jane.Doe+shop@mail.example.co.uk.", "mail [EMAIL]."),
        ("call +1 (415) 555-0100, 1-800-555-0199 or 4155550100", "call [PHONE], [PHONE] or [PHONE]"),
        ("+44 20 7946 0958 or 020 7946 0958 or +49 30 1234567", "[PHONE] or [PHONE] or [PHONE]"),
        ("pay 4111-1111-1111-1111 or 6011 1111 1111 1117 now", "pay [CARD] or [CARD] now"),
        ("qty 2 card 4111 1111 1111 1111 1234", "qty 2 card [CARD] 1234"),
        ("card 4000000000006 0A, tel +44 20 7946 0958 1B", "card [CARD] 0A, tel [PHONE] 1B"),
        ("max_tokens=2048 input_tokens=1523 tokenizer: nova", "max_tokens=2048 input_tokens=1523 tokenizer: nova"),
        (
            "4111 1111 1111 1112 fails Luhn, 1764070201123 is epoch ms",
            "4111 1111 1111 1112 fails Luhn, 1764070201123 is epoch ms",
        ),
        ("score 0.4111111111111111 ids 2026-11-25 2026-11-26", "score 0.4111111111111111 ids 2026-11-25 2026-11-26"),
        (
            "HP Pavilion 15 799.99 ($1,299.00) at 2026-11-25 11:30:01",
            "HP Pavilion 15 799.99 ($1,299.00) at 2026-11-25 11:30:01",
        ),
        (f"{SESSION_ID} 00000000-0000-4000-8000-000000000000 epoch 1764070201", None),
        ("GET http://127.0.0.1:8080/products/dell-xps-13 200 latency_ms=12.5", None),
    ],
)
def test_redact_examples(text: str, expected: str | None) -> None:
    assert redact(text) == (text if expected is None else expected)


def test_known_secrets_are_replaced_only_when_long_enough() -> None:
    redactor = Redactor(["a/b+c=d/e", "abc", "", "sk-live-123456"])
    assert redactor("x sk-live-123456 a%2Fb%2Bc%3Dd%2Fe abc") == "x [REDACTED] [REDACTED] abc"
    assert redact("key sk-live-123456!", ["sk-live-123456"]) == "key [REDACTED]!"


# Hypothesis: what redact must always catch, and what it must always leave.

filler = st.text(max_size=30)
SECRET_ALPHABET = string.ascii_letters + string.digits + "-_+/=.:~"


def luhn_complete(partial: str) -> str:
    """`partial` plus the check digit that makes it Luhn-valid."""
    for check in "0123456789":
        digits = partial + check
        total = sum(int(d) for d in digits[-1::-2]) + sum(sum(divmod(2 * int(d), 10)) for d in digits[-2::-2])
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


@st.composite
def cards(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["4", "51", "55", "2221", "34", "37", "6011", "65", "35", "62"]))
    length = draw(st.integers(13, 19))
    body = draw(st.text("0123456789", min_size=length - len(prefix) - 1, max_size=length - len(prefix) - 1))
    digits = luhn_complete(prefix + body)
    separator = draw(st.sampled_from(["", " ", "-"]))
    return separator.join(digits[i : i + 4] for i in range(0, len(digits), 4))


@st.composite
def phones(draw: st.DrawFn) -> str:
    area, exchange, line = draw(st.integers(200, 999)), draw(st.integers(200, 999)), draw(st.integers(0, 9999))
    national = draw(st.text("0123456789", min_size=9, max_size=10))
    shape = draw(
        st.sampled_from(
            ["+1 {a} {e} {n}", "({a}) {e}-{n}", "{a}-{e}-{n}", "{a}.{e}.{n}", "1-{a}-{e}-{n}", "{a}{e}{n}",
             "+44 20 {x:.8}", "+49 30 {x}", "0{x}", "+33 {x:.9}"]
        )
    )  # fmt: skip
    return shape.format(a=area, e=exchange, n=f"{line:04d}", x=national)


@given(filler, st.emails(), filler)
def test_redact_never_lets_an_email_through(before: str, email: str, after: str) -> None:
    assert email not in redact(f"{before} {email} {after}")


@given(filler, cards(), filler)
def test_redact_never_lets_a_card_number_through(before: str, card: str, after: str) -> None:
    out = redact(f"{before} {card} {after}")
    assert card not in out and card.replace(" ", "").replace("-", "") not in out


@given(filler, phones(), filler)
def test_redact_never_lets_a_phone_number_through(before: str, phone: str, after: str) -> None:
    assert phone not in redact(f"{before} {phone} {after}")


@given(st.text(), st.text(SECRET_ALPHABET, min_size=6, max_size=60), st.text())
def test_redact_never_lets_a_known_secret_through(before: str, secret: str, after: str) -> None:
    assume(secret not in "[REDACTED][EMAIL][PHONE][CARD]")
    assert secret not in redact(before + secret + after + secret, [secret])


prices = st.tuples(st.decimals(min_value=0, max_value=10**7, places=2), st.booleans()).map(
    lambda p: f"${p[0]:,.2f}" if p[1] else f"{p[0]:.2f}"
)
timestamps = st.tuples(st.datetimes(timezones=st.none() | st.just(dt.UTC)), st.integers(0, 2)).map(
    lambda t: (t[0].isoformat(), t[0].strftime("%Y-%m-%d %H:%M:%S"), t[0].date().isoformat())[t[1]]
)
benign = st.one_of(
    prices,
    timestamps,
    st.uuids().map(str),
    st.uuids().map(lambda u: u.hex),
    st.integers(0, 10**6).map(lambda n: f"latency_ms={n / 10}"),
    st.integers(1, 65535).map(lambda port: f"127.0.0.1:{port}"),
    st.sampled_from(["HP", "Pavilion", "15", "dell-xps-13", "in stock", "chat turn", "session", "search_products:ok"]),
)


@given(st.lists(benign, max_size=10))
def test_redact_leaves_prices_uuids_and_timestamps_alone(parts: list[str]) -> None:
    text = " ".join(parts)
    assert redact(text) == text


def test_json_hides_values_under_secret_looking_keys() -> None:
    stream = capture("INFO")
    extra = {"password": "hunter2-xyz", "has_password": True, "api_key": None, "input_tokens": 12}
    logging.getLogger("shopbot").info("login", extra={**extra, "request": {"headers": {"X-Amz-Security-Token": "abc"}}})
    line = json.loads(stream.getvalue())
    assert (line["password"], line["has_password"], line["api_key"], line["input_tokens"]) == (
        "[REDACTED]",
        True,
        None,
        12,
    )
    assert line["request"] == {"headers": {"X-Amz-Security-Token": "[REDACTED]"}}


@given(st.integers(10**12, 10**19 - 1))
def test_redact_leaves_long_numbers_that_fail_luhn(number: int) -> None:
    digits = str(number)
    assume(luhn_complete(digits[:-1]) != digits)
    assert redact(f"order {digits} shipped") == f"order {digits} shipped"


def test_the_session_uuid_survives_in_json_extras() -> None:
    stream = capture("INFO")
    session = str(uuid.uuid4())
    logging.getLogger("shopbot").info("turn", extra={"session_id": session, "big": 4111111111111111})
    line = json.loads(stream.getvalue())
    assert line["session_id"] == session and line["big"] == "[CARD]"
