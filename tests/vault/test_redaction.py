"""The redactor masks a secret in every form it takes on the way out: raw, URL-encoded, escaped, base64
(at any alignment inside a longer encoded string), and each secret part of an SFDX auth URL."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from urllib.parse import quote, quote_plus

import pytest

from sfpserver.vault.redaction import RedactingFilter
from sfpserver.vault.worker import Redactor

TOKEN = "ghp_Zx9/+Q w=&ünï\"quote'"
REFRESH = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJvqrE.Y2Fj3CHd3Z2Cp"
CLIENT_SECRET = "9F3A1C0B7E2D4F68"
AUTH_URL = f"force://PlatformCLI:{CLIENT_SECRET}:{REFRESH}@acme.my.salesforce.com"


@pytest.mark.parametrize(
    "form",
    [
        TOKEN,
        quote(TOKEN, safe=""),
        quote(TOKEN),
        quote_plus(TOKEN),
        re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(TOKEN, safe="")),
        json.dumps(TOKEN)[1:-1],
        repr(TOKEN)[1:-1],
        base64.b64encode(TOKEN.encode()).decode(),
        base64.urlsafe_b64encode(TOKEN.encode()).decode(),
    ],
    ids=["raw", "url", "url-path", "url-plus", "url-lowercase", "json", "repr", "base64", "base64-urlsafe"],
)
def test_it_masks_a_secret_in_each_of_its_forms(form: str) -> None:
    redact = Redactor([TOKEN])
    masked = redact(f"before {form} after")
    assert masked.startswith("before ") and masked.endswith(" after")
    assert "***" in masked
    assert form not in masked


@pytest.mark.parametrize("prefix", ["", "x", "xa", "x-access-token:"])
def test_it_masks_a_secret_base64_encoded_inside_a_longer_value(prefix: str) -> None:
    encoded = base64.b64encode(f"{prefix}{TOKEN}".encode()).decode()
    masked = Redactor([TOKEN])(f"Authorization: Basic {encoded}")
    kept = masked.removeprefix("Authorization: Basic ").split("***")
    assert len(kept) == 2  # one masked run; what is left is the prefix's characters and a few boundary ones
    assert len(kept[0]) <= len(prefix) * 4 // 3 + 1 and len(kept[1]) <= 4


def test_it_masks_the_whole_auth_url_and_each_of_its_secret_parts() -> None:
    redact = Redactor([AUTH_URL])
    assert redact(f"sf org login sfdx-url {AUTH_URL}") == "sf org login sfdx-url ***"
    assert redact(f"refresh={REFRESH}; secret={CLIENT_SECRET}") == "refresh=***; secret=***"
    assert redact(f"token={quote(REFRESH, safe='')}") == "token=***"
    assert redact("client PlatformCLI at acme.my.salesforce.com") == "client PlatformCLI at acme.my.salesforce.com"


def test_it_leaves_text_without_secrets_alone_and_forgets_when_cleared() -> None:
    redact = Redactor([TOKEN, "another-secret"])
    assert redact("nothing to see") == "nothing to see"
    assert redact("another-secret and " + TOKEN) == "*** and ***"
    redact.clear()
    assert redact("another-secret") == "another-secret"
    assert "another-secret" not in repr(redact)


def test_the_logging_filter_masks_records_of_the_process_while_an_attempt_holds_secrets() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.vault.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    redact = Redactor([TOKEN])
    try:
        logger.error("connecting with %s", TOKEN)
        try:
            raise RuntimeError(f"refused {TOKEN!r}")
        except RuntimeError:
            logger.exception("failed")
        redact.clear()
        logger.error("after the step: %s", "not-a-secret-any-more")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "connecting with ***" in text
    assert "RuntimeError: refused '***'" in text
    assert TOKEN not in text and repr(TOKEN)[1:-1] not in text
    assert "after the step: not-a-secret-any-more" in text
