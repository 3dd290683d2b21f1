"""Masking leased secrets in text: the value itself and the forms it takes on its way out of a program.

For each secret (and each secret component of an SFDX auth URL: client secret, refresh token) the
`Redactor` masks the raw value, its URL-encoded forms (`%2F` and `%2f`, `+` for spaces), its JSON and
Python-repr escapes, and its base64 forms (standard and URL-safe) at each of the three byte alignments it
can have inside a longer encoded string (an `Authorization: Basic` header, say). No Django imports: the
logging configuration loads `RedactingFilter` before apps are ready.

Limits (documented, not hidden): a secret split across two separate writes (two stream chunks) is masked
only where each write holds a whole form of it; other encodings (hex, gzip, …) are not recognised.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from sfpserver.vault import sfdx

MASK = "***"
MIN_ENCODED_CHARS = 6  # shorter base64 fragments would mask unrelated text


def forms(value: str) -> set[str]:
    """Every form of `value` (and of its SFDX components) that the redactor masks."""
    found: set[str] = set()
    parts = sfdx.parse(value)
    for piece in [value, *(parts.secret_parts if parts else [])]:
        found |= _forms_of(piece)
    return {form for form in found if form}


def _forms_of(value: str) -> set[str]:
    url = {quote(value, safe=""), quote(value), quote_plus(value)}
    url |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), form) for form in url}
    escaped = {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], repr(value)[1:-1]}
    return {value, *url, *escaped, *_base64_forms(value.encode())}


def _base64_forms(raw: bytes) -> set[str]:
    """The base64 characters determined by `raw` alone, when it starts 0, 1 or 2 bytes into a 3-byte group."""
    found = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode().rstrip("=")
        start = -(-offset * 8 // 6)  # first character made only of `raw`'s bits
        end = (offset + len(raw)) * 8 // 6  # last whole character before the bits that follow `raw`
        core = encoded[start:end]
        if len(core) >= MIN_ENCODED_CHARS:
            found |= {core, core.replace("+", "-").replace("/", "_")}
    return found


class Redactor:
    """Masks every form of the secrets it was given as `***`. Callable: `redactor(text) -> text`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            for secret in secrets:
                if secret:
                    self._forms |= forms(secret)
            alternatives = sorted(self._forms, key=len, reverse=True)  # longest first: whole URL before parts
            self._pattern = re.compile("|".join(map(re.escape, alternatives))) if alternatives else None
        if self._pattern is not None:
            active.add(self)

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def clear(self) -> None:
        """Forget the secrets (the strings themselves are freed when nothing else holds them)."""
        with self._lock:
            self._forms = set()
            self._pattern = None
        active.discard(self)

    def __repr__(self) -> str:
        return f"<Redactor masking {len(self._forms)} form(s)>"


class _Active:
    """The redactors of the attempts running in this process, for the logging filter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[int, Redactor] = {}

    def add(self, redactor: Redactor) -> None:
        with self._lock:
            self._items[id(redactor)] = redactor

    def discard(self, redactor: Redactor) -> None:
        with self._lock:
            self._items.pop(id(redactor), None)

    def snapshot(self) -> list[Redactor]:
        with self._lock:
            return list(self._items.values())


active = _Active()


def redact_everywhere(text: str) -> str:
    """`text` masked with the secrets of every attempt running in this process."""
    for redactor in active.snapshot():
        text = redactor(text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter (see settings.LOGGING) that masks leased secrets in every record of the process:
    the formatted message, the exception text and the stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not active.snapshot():
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - an unformattable record must not slip through unmasked
            message = "[log record could not be formatted for redaction]"
        record.msg, record.args = redact_everywhere(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_everywhere(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_everywhere(record.stack_info)
        return True
