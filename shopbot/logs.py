"""Structured logging, with secrets and shopper data redacted at the logging layer.

`configure_logging` installs one handler on the root logger; its formatter
writes JSON lines or readable lines, and every piece of text it writes — the
`%`-formatted message, the formatted traceback, each `extra` value (nested
keys too) and the request id — passes through a `Redactor` once it
has its final text. Whatever code logs a secret, ours or botocore's DEBUG dump
of a signed request, it never reaches the stream. The framing added after
redaction is the formatter's own: timestamp, level, logger name, field names,
quotes.

Pieces are redacted before they are framed, not the framed line, because a
pattern meeting JSON escapes (`\\n` just before an email, `\\"` around a
token) could miss a value or corrupt the line. For the same reason values
under secret-looking keys (`"api_key"`, `"Authorization"`) are replaced whole:
framed as JSON, they no longer sit next to their key name.

What a `Redactor` replaces:

* known secret values (and their URL-encoded form) → `[REDACTED]`;
* credentials by shape → `[REDACTED]`: `Authorization`/`Cookie` header values,
  values after `api_key`, `x-api-key`, `token`, `secret`, `password`,
  `SecretAccessKey`, `X-Amz-Security-Token`, `Signature`… (`=`, `:`, JSON,
  dict reprs, `b'…'`, XML), `Bearer` tokens, JWTs, AWS access key ids,
  passwords in URLs;
* emails → `[EMAIL]`; phone numbers (international with `+`, North American,
  national with a leading 0) → `[PHONE]`; Luhn-valid card numbers of 13–19
  digits starting with 2–6, contiguous or in groups of 3–6 → `[CARD]`.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import logging
import re
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any, TextIO
from urllib.parse import quote

import msgspec

from shopbot.errors import ConfigurationError

__all__ = ["Redactor", "configure_logging", "redact", "request_id"]

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("shopbot_request_id", default=None)

REDACTED, EMAIL, PHONE, CARD = "[REDACTED]", "[EMAIL]", "[PHONE]", "[CARD]"
MIN_SECRET_LENGTH = 6
_CACHED_LENGTH, _CACHED_STRINGS = 200, 4096

_HANDLER_NAME = "shopbot.logs"
# Loggers that put URLs with shopper ids or whole signed requests into INFO/DEBUG records.
_ALWAYS_QUIET = ("httpx", "httpcore")
_QUIET_UNLESS_DEBUG = ("botocore", "aiobotocore", "boto3", "aioboto3", "s3transfer", "urllib3")
_RECORD_ATTRS = frozenset({
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "exc_info", "exc_text",
    "stack_info", "lineno", "funcName", "created", "msecs", "relativeCreated", "thread", "threadName",
    "processName", "process", "taskName", "message", "asctime",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
})  # fmt: skip

_SECRET_NAME = (
    r"(?:secret[_-]?(?:access[_-]?)?key|private[_-]?key|api[_-]?key|apikey|token|secret"
    r"|passw(?:or)?d|passphrase|signature)"
)
_HEADER_NAME = r"(?:authorization|cookie)"
_SECRET_KEY = re.compile(rf"(?:{_SECRET_NAME}|{_HEADER_NAME})$", re.IGNORECASE)
# The key's closing quote, then `=`/`:` (queries, headers, dicts, JSON) or `>` (XML).
_ASSIGN = r"""\\?["']?(?:\s*[:=]\s*|>)"""
_OPEN_QUOTE = r"""b?\\?["']"""
_CREDENTIAL = re.compile(
    rf"""
    (?P<header>{_HEADER_NAME}{_ASSIGN}(?:{_OPEN_QUOTE})?)[^"'\\\r\n]+
  | (?P<key>{_SECRET_NAME}{_ASSIGN}(?P<quoted>{_OPEN_QUOTE})?)(?(quoted)[^"'\\\r\n]+|[^\s"'\\,;&<>()\[\]{{}}]+)
  | (?P<scheme>(?<![\w-])bearer\s+)[\w.~+/-]{{8,}}=*
  | (?P<userinfo>://[^/\s:@]*:)[^/\s@]+(?=@)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_AWS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
_JWT = re.compile(r"(?<![\w-])eyJ[\w-]++\.[\w-]++\.[\w-]*+", re.ASCII)
_EMAIL_LOCAL = r"[\w.!#$%&*+?^`{|}~-]"
_EMAIL = re.compile(rf"(?:(?<!{_EMAIL_LOCAL}){_EMAIL_LOCAL}++|(?<=['=/]))@[\w-]++(?:\.[\w-]++)+")
# Eight digits close together: the fewest a phone number has (`+49 30 1234`), so nothing less needs the scans below.
_NUMBERISH = re.compile(r"[0-9](?:[ ().-]{0,2}[0-9]){7}")
# 13+ digits with single spaces or dashes between them, not starting inside a word or after a decimal point.
_DIGIT_RUN = re.compile(r"(?<![A-Za-z0-9.])[0-9](?:[ -]?[0-9]){12,}+")
_DIGIT_GROUP = re.compile(r"[0-9]+")
# What makes a run's last group part of something else: a word (`…1234abcd` in a UUID) or a decimal.
_ATTACHED = re.compile(r"[A-Za-z0-9]|\.[0-9]")
_PHONE = re.compile(
    r"""
    (?<![A-Za-z0-9.+-])
    (?:
        (?P<intl>\+[0-9](?:[ .-]?\(?[0-9]++\)?)*+)
      | (?:
            (?P<nanp>(?:1[ .-]?)?(?:\([2-9][0-9]{2}\)[ .-]?|[2-9][0-9]{2}[ .-]?)[2-9][0-9]{2}[ .-]?[0-9]{4})
          | (?P<national>(?:\(0[0-9]{1,4}\)|0[0-9]{2,4})[ -]?[0-9]{3,4}[ -]?[0-9]{3,4})
        )
        (?![A-Za-z0-9]|[.-]?[0-9])
    )
    """,
    re.VERBOSE,
)
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


class Redactor:
    """Compiled patterns plus known secret values; `redactor(text)` returns the text with findings replaced.

    Secret values shorter than six characters are ignored (they would match
    everywhere), as are values our own markers contain (`"REDACT"` cannot be
    hidden behind `[REDACTED]`).
    """

    __slots__ = ("_known_clean", "_secrets")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {v for s in secrets if s and len(s) >= MIN_SECRET_LENGTH for v in (s, quote(s, safe=""))}
        markers = REDACTED + EMAIL + PHONE + CARD
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = tuple(sorted((v for v in values if v not in markers), key=len, reverse=True))
        # Short strings found clean before: session ids, tool names and constant messages recur in every record.
        # Only clean strings are kept, so the cache holds no shopper data.
        self._known_clean: set[str] = set()

    def __call__(self, text: str) -> str:
        """`text` with secrets, credentials and shopper data replaced by markers."""
        if len(text) < 5 or text in self._known_clean:
            return text
        redacted = self._redact(text)
        if redacted == text and len(text) <= _CACHED_LENGTH:
            if len(self._known_clean) >= _CACHED_STRINGS:
                self._known_clean.clear()
            self._known_clean.add(text)
        return redacted

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
                if secret in text:  # the replacement joined its neighbours into a new occurrence
                    text = text.replace(secret, REDACTED).replace(secret, REDACTED)
        if _may_hold_credentials(text.lower()):
            text = _CREDENTIAL.sub(_credential, text)
        if "AKIA" in text or "ASIA" in text:
            text = _AWS_KEY_ID.sub(REDACTED, text)
        if "eyJ" in text:
            text = _JWT.sub(REDACTED, text)
        if "@" in text:
            text = _EMAIL.sub(EMAIL, text)
        if _NUMBERISH.search(text):
            text = _PHONE.sub(_phone, _DIGIT_RUN.sub(_cards, text))
        return text


_DEFAULT = Redactor()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with known `secrets`, credentials, emails, phone and card numbers replaced by markers."""
    return (Redactor(secrets) if secrets else _DEFAULT)(text)


def _may_hold_credentials(lowered: str) -> bool:
    # Plain `in` tests: several times faster than one case-insensitive regex search on clean text.
    return (
        "key" in lowered
        or "token" in lowered
        or "secret" in lowered
        or "pass" in lowered
        or "signature" in lowered
        or "authorization" in lowered
        or "cookie" in lowered
        or "bearer" in lowered
        or "://" in lowered
    )


def _credential(match: re.Match[str]) -> str:
    prefix = next(p for p in match.group("header", "key", "scheme", "userinfo") if p is not None)
    return prefix + REDACTED


def _cards(match: re.Match[str]) -> str:
    """Replaces each card number in a run of digit groups; a run is often a card plus neighbouring numbers."""
    run = match.group()
    groups = [(g.start(), g.end()) for g in _DIGIT_GROUP.finditer(run)]
    if _ATTACHED.match(match.string, match.end()):
        groups.pop()
    pieces, done, i = [], 0, 0
    while i < len(groups):
        last = _card_end(run, groups, i)
        if last is None:
            i += 1
            continue
        pieces += [run[done : groups[i][0]], CARD]
        done, i = groups[last][1], last + 1
    return "".join([*pieces, run[done:]]) if pieces else run


def _card_end(run: str, groups: list[tuple[int, int]], first: int) -> int | None:
    """The last group of the longest card number that starts at group `first`, if any."""
    start, end = groups[first]
    if end - start >= 13:
        return first if _is_card(run[start:end]) else None
    # Printed cards come in groups of 3 to 6 digits (4-4-4-4, 4-6-5, 4-4-4-1 at the end); dates and UUIDs do not.
    found, digits = None, ""
    for i in range(first, len(groups)):
        start, end = groups[i]
        digits += run[start:end]
        if end - start > 6 or len(digits) > 19:
            break
        if len(digits) >= 13 and _is_card(digits):
            found = i
        if end - start < 3:
            break
    return found


def _is_card(digits: str) -> bool:
    """13–19 digits, a payment network's first digit (2–6) and a valid Luhn check digit."""
    if not 13 <= len(digits) <= 19 or digits[0] not in "23456":
        return False
    total = sum(map(int, digits[-1::-2])) + sum(_DOUBLED[int(d)] for d in digits[-2::-2])
    return total % 10 == 0


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    if match.lastgroup == "nanp":
        return PHONE
    if match.lastgroup == "national":
        return PHONE if 10 <= sum(c.isdigit() for c in text) <= 11 else text
    # International: greedy, so it may have taken numbers that follow; keep the longest prefix of at most 15
    # digits, without a last group that belongs to a following word.
    groups = list(_DIGIT_GROUP.finditer(text))
    if _ATTACHED.match(match.string, match.end()):
        groups.pop()
    count, cut = 0, 0
    for group in groups:
        count += group.end() - group.start()
        if count > 15:
            break
        cut = group.end() if count >= 8 else 0
    return PHONE + text[cut:] if cut else text


def _hidden(key: Any, value: Any) -> bool:
    """Whether `value` sits under a secret-looking key (`api_key`, `Authorization`) and holds something."""
    return value is not None and not isinstance(value, bool) and _is_secret_key(str(key))


@functools.lru_cache(maxsize=1024)
def _is_secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def _clean(redactor: Redactor, value: Any, depth: int = 0) -> Any:
    """A JSON-able copy of `value` with every string redacted and values under secret-looking keys replaced."""
    if isinstance(value, str):
        return redactor(value)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        if -10_000_000 < value < 10_000_000:  # seven digits can be neither a phone nor a card number
            return value
        text = redactor(str(value))
        return value if text == str(value) else text
    if depth >= 8:
        return redactor(repr(value))
    if isinstance(value, msgspec.Struct):
        value = msgspec.structs.asdict(value)
    if isinstance(value, Mapping):
        return {
            redactor(str(k)): REDACTED if _hidden(k, v) else _clean(redactor, v, depth + 1) for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(redactor, v, depth + 1) for v in value]
    return redactor(repr(value) if isinstance(value, bytes | bytearray) else str(value))


class _Formatter(logging.Formatter):
    """Collects a record's redacted fields; the subclasses frame them."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def fields(self, record: logging.LogRecord) -> tuple[str, str | None, dict[str, Any], str | None]:
        """The message, request id, extras and traceback of `record`, redacted."""
        redact_ = self.redactor
        rid = request_id.get()
        extras = {
            k: REDACTED if _hidden(k, v) else _clean(redact_, v)
            for k, v in record.__dict__.items()
            if k not in _RECORD_ATTRS and not k.startswith("_")
        }
        trace = []
        if record.exc_info:
            trace.append(self.formatException(record.exc_info))
        elif record.exc_text:
            trace.append(record.exc_text)
        if record.stack_info:
            trace.append(self.formatStack(record.stack_info))
        exc = redact_("\n".join(trace)) if trace else None
        return redact_(record.getMessage()), None if rid is None else redact_(rid), extras, exc


class _JsonFormatter(_Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, the extras, exc."""

    _encode = msgspec.json.Encoder().encode

    def format(self, record: logging.LogRecord) -> str:
        message, rid, extras, exc = self.fields(record)
        ts = dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
        line = {"ts": ts.replace("+00:00", "Z"), "level": record.levelname, "logger": record.name, "message": message}
        if rid is not None:
            line["request_id"] = rid
        for key, value in extras.items():
            line.setdefault(key, value)
        if exc is not None:
            line["exc"] = exc
        return self._encode(line).decode()


class _LineFormatter(_Formatter):
    """`2026-11-25 11:30:01 INFO shopbot.web [req=abc] message key=value …`, the traceback on following lines."""

    _plain = re.compile(r"[^\s\"'=\\]+")
    _encode = msgspec.json.Encoder().encode

    def format(self, record: logging.LogRecord) -> str:
        message, rid, extras, exc = self.fields(record)
        parts = [time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(record.created)), record.levelname, record.name]
        if rid is not None:
            parts.append(f"[req={self._value(rid)}]")
        # Escaped so that a record stays one line: a shopper's message cannot forge another record.
        parts.append(message.replace("\r", "\\r").replace("\n", "\\n"))
        parts += [f"{key}={self._value(value)}" for key, value in extras.items()]
        line = " ".join(parts)
        return line if exc is None else f"{line}\n{exc}"

    def _value(self, value: Any) -> str:
        if isinstance(value, str) and self._plain.fullmatch(value):
            return value
        return self._encode(value).decode()


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler whose error report carries no record content."""

    def handleError(self, record: logging.LogRecord) -> None:
        """Report a failed emit without the default's dump of the unredacted message and arguments."""
        if logging.raiseExceptions and sys.stderr is not None:
            error = sys.exc_info()[1]
            sys.stderr.write(
                f"--- logging error: {type(error).__name__} formatting a record"
                f" of {record.name} at {record.pathname}:{record.lineno}\n"
            )


def configure_logging(
    level: str = "INFO", *, json: bool = True, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> None:
    """Send every log record to `stream` (stderr by default), redacted, as JSON lines or readable lines.

    Installs one handler on the root logger, replacing the one an earlier call
    installed and leaving other handlers (pytest's, an embedder's) alone —
    they receive the records unredacted. Quiets `httpx`/`httpcore` to WARNING
    always and the AWS SDK and `urllib3` unless `level` is DEBUG.
    """
    number = logging.getLevelNamesMapping().get(str(level).upper())
    if number is None:
        raise ConfigurationError(f"log level {level!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    handler = _Handler(sys.stderr if stream is None else stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter((_JsonFormatter if json else _LineFormatter)(Redactor(secrets)))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.flush()
        old.close()
    root.addHandler(handler)
    root.setLevel(number)
    quiet = max(logging.WARNING, number)
    for name in _ALWAYS_QUIET:
        logging.getLogger(name).setLevel(quiet)
    for name in _QUIET_UNLESS_DEBUG:
        logging.getLogger(name).setLevel(number if number <= logging.DEBUG else quiet)
