"""Incoming webhooks: their records, and turning an authenticated delivery into one event.

The invariants:
- a webhook's secret (basic-auth password, API key, HMAC signing secret) is sealed with the vault's keys
  before it is stored and is opened only to check a delivery; no description, error or log line carries it;
- every comparison with a secret is constant-time (`hmac.compare_digest`), the username's and the password's
  both made whatever the first says;
- a delivery is authenticated before its body is even parsed; one that fails records nothing and starts
  nothing (`DeliveryRefused`); one that passes but cannot become an event records nothing either
  (`DeliveryMalformed`, naming what is wrong);
- the event's key comes from the webhook's `event_key_expression`, its scope from `scope_expression`, both CEL
  over `input` (the body merged with the webhook's static payload, which wins on a clash) and `headers`
  (lower-cased names); the event then goes through the same push as `hatchet.event.push` (filters, scopes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from django.db import IntegrityError, transaction

from sfpserver.engine import services
from sfpserver.engine.services import InvalidWorkflowError
from sfpserver.hatchet.event_errors import (
    DeliveryMalformed,
    DeliveryRefused,
    InvalidRoutingInput,
    WebhookExists,
    WebhookNotFound,
)
from sfpserver.hatchet.models import Webhook, WebhookAuthType, WebhookSource
from sfpserver.vault import crypto, keys

logger = logging.getLogger(__name__)

VARIABLES = ("input", "headers")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")
HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,200}$")
ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512, "MD5": hashlib.md5}
ENCODINGS = ("HEX", "BASE64", "BASE64URL")
SIGNATURE_PREFIXES = ("sha1=", "sha256=", "sha512=", "md5=")
NOT_OFFERED = {"STRIPE", "SLACK", "SVIX"}
TENANT = "default"


# --- the record ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Auth:
    """What `auth` held, checked: the fields stored in clear, and the one secret that is sealed."""

    type: str
    fields: dict[str, str]
    secret: str


def _text(value: Any, field: str, *, pattern: re.Pattern[str] | None = None, rule: str = "") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRoutingInput(field, "must be a non-empty string")
    if pattern is not None and not pattern.match(value):
        raise InvalidRoutingInput(field, rule)
    return value


def _choice(value: Any, field: str, choices: Any) -> str:
    raw = getattr(value, "value", value)
    if raw not in choices:
        raise InvalidRoutingInput(field, f"must be one of {', '.join(choices)}")
    return str(raw)


def checked_expression(value: Any, field: str) -> str:
    text = _text(value, field)
    try:
        services.check_expression(text, VARIABLES, field=field)
    except InvalidWorkflowError as exc:
        raise InvalidRoutingInput(field, exc.problem) from None
    return text


def _static_payload(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRoutingInput("staticPayload", "must be a JSON object")
    services.refuse_unstorable(value)
    return value


def _source(value: Any) -> str:
    raw = getattr(value, "value", value)
    if raw in NOT_OFFERED:
        raise InvalidRoutingInput(
            "sourceName", f"{raw} deliveries are signed their own way, which is not offered; use GENERIC with HMAC"
        )
    return _choice(value, "sourceName", WebhookSource.values)


def checked_auth(auth_type: Any, auth: Mapping[str, Any]) -> Auth:
    """`auth` (Hatchet's camelCase fields of V1WebhookBasicAuth / APIKeyAuth / HMACAuth) for `auth_type`."""
    kind = _choice(auth_type, "authType", WebhookAuthType.values)
    if kind == WebhookAuthType.BASIC:
        return Auth(kind, {"basic_username": _text(auth.get("username"), "auth.username")}, _secret(auth, "password"))
    header_rule = "must be an HTTP header name (letters, digits and !#$%&'*+.^_`|~-)"
    if kind == WebhookAuthType.API_KEY:
        header = _text(auth.get("headerName"), "auth.headerName", pattern=HEADER, rule=header_rule)
        return Auth(kind, {"api_key_header_name": header}, _secret(auth, "apiKey"))
    fields = {
        "hmac_algorithm": _choice(auth.get("algorithm"), "auth.algorithm", list(ALGORITHMS)),
        "hmac_encoding": _choice(auth.get("encoding"), "auth.encoding", ENCODINGS),
        "hmac_signature_header_name": _text(
            auth.get("signatureHeaderName"), "auth.signatureHeaderName", pattern=HEADER, rule=header_rule
        ),
    }
    return Auth(kind, fields, _secret(auth, "signingSecret"))


def _secret(auth: Mapping[str, Any], name: str) -> str:
    value = auth.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRoutingInput(f"auth.{name}", "must be a non-empty string")
    if len(value) > 4096:
        raise InvalidRoutingInput(f"auth.{name}", "must be at most 4096 characters")
    return value


def seal_secret(webhook: Webhook, secret: str) -> None:
    sealed = crypto.seal(f"webhook/{webhook.id}", secret, keys.keyring())
    webhook.secret_key_id, webhook.secret_nonce, webhook.secret_ciphertext = (
        sealed.key_id,
        sealed.nonce,
        sealed.ciphertext,
    )


def _unseal(webhook: Webhook) -> str:
    sealed = crypto.Sealed(webhook.secret_key_id, bytes(webhook.secret_nonce), bytes(webhook.secret_ciphertext))
    return crypto.unseal(f"webhook/{webhook.id}", sealed, keys.keyring())


def reseal_all(keyring: keys.Keyring) -> Any:
    """Re-seal every webhook secret not yet under the newest vault key (`rotate_vault_keys`), one per transaction."""
    from sfpserver.vault.exceptions import CredentialUnreadable
    from sfpserver.vault.services import Reencrypted

    report = Reencrypted(keyring.newest.id)
    for webhook_id, name in Webhook.objects.order_by("name").values_list("id", "name"):
        try:
            with transaction.atomic():
                webhook = Webhook.objects.select_for_update().get(id=webhook_id)
                if webhook.secret_key_id == keyring.newest.id:
                    report.current.append(name)
                    continue
                seal_secret(webhook, _unseal(webhook))
                webhook.save(update_fields=["secret_key_id", "secret_nonce", "secret_ciphertext"])
        except CredentialUnreadable:
            report.unreadable.append(name)
            continue
        report.reencrypted.append(name)
    return report


def create_webhook(
    *,
    source_name: Any,
    name: Any,
    event_key_expression: Any,
    auth_type: Any,
    auth: Mapping[str, Any],
    scope_expression: Any = None,
    static_payload: Any = None,
    return_event_as_response_payload: bool = True,
) -> Webhook:
    webhook = Webhook(
        name=_text(name, "name", pattern=NAME, rule="must be 1-200 letters, digits, '.', '_', ':' or '-'"),
        source_name=_source(source_name),
        event_key_expression=checked_expression(event_key_expression, "eventKeyExpression"),
        scope_expression=None if scope_expression is None else checked_expression(scope_expression, "scopeExpression"),
        static_payload=_static_payload(static_payload),
        return_event_as_response_payload=bool(return_event_as_response_payload),
    )
    checked = checked_auth(auth_type, auth)
    webhook.auth_type = checked.type
    for field, value in checked.fields.items():
        setattr(webhook, field, value)
    seal_secret(webhook, checked.secret)
    try:
        with transaction.atomic():
            webhook.save(force_insert=True)
    except IntegrityError:
        raise WebhookExists(webhook.name) from None
    logger.info("webhook %s created", webhook.name, extra={"webhook": webhook.name, "auth_type": webhook.auth_type})
    return webhook


def get_webhook(name: str) -> Webhook:
    found = Webhook.objects.filter(name=name).first() if isinstance(name, str) and "\x00" not in name else None
    if found is None:
        raise WebhookNotFound(name)
    return found


def list_webhooks(
    limit: int | None = None,
    offset: int | None = None,
    webhook_names: list[str] | None = None,
    source_names: list[Any] | None = None,
) -> list[Webhook]:
    rows = Webhook.objects.order_by("-created_at", "name")
    if webhook_names:
        rows = rows.filter(name__in=webhook_names)
    if source_names:
        rows = rows.filter(source_name__in=[getattr(s, "value", s) for s in source_names])
    start = offset or 0
    return list(rows[start : start + (limit or 1000)])


def update_webhook(
    name: str,
    *,
    event_key_expression: Any = None,
    scope_expression: Any = None,
    static_payload: Any = None,
    return_event_as_response_payload: Any = None,
) -> Webhook:
    """Changes what is given (None leaves a field as it is); the name, source and authentication stay."""
    webhook = get_webhook(name)
    if event_key_expression is not None:
        webhook.event_key_expression = checked_expression(event_key_expression, "eventKeyExpression")
    if scope_expression is not None:
        webhook.scope_expression = checked_expression(scope_expression, "scopeExpression")
    if static_payload is not None:
        webhook.static_payload = _static_payload(static_payload)
    if return_event_as_response_payload is not None:
        webhook.return_event_as_response_payload = bool(return_event_as_response_payload)
    webhook.save()
    return webhook


def delete_webhook(name: str) -> Webhook:
    webhook = get_webhook(name)
    Webhook.objects.filter(id=webhook.id).delete()
    logger.info("webhook %s deleted", webhook.name, extra={"webhook": webhook.name})
    return webhook


def describe(webhook: Webhook) -> dict[str, Any]:
    """Hatchet's V1Webhook as JSON: never the secret, only the kind of authentication."""
    return {
        "metadata": {
            "id": str(webhook.id),
            "createdAt": webhook.created_at.isoformat(),
            "updatedAt": webhook.updated_at.isoformat(),
        },
        "tenantId": TENANT,
        "name": webhook.name,
        "sourceName": webhook.source_name,
        "eventKeyExpression": webhook.event_key_expression,
        "scopeExpression": webhook.scope_expression,
        "staticPayload": webhook.static_payload,
        "authType": webhook.auth_type,
        "returnEventAsResponsePayload": webhook.return_event_as_response_payload,
    }


# --- a delivery --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """What the sender sent: header names lower-cased (first value of each), the raw body, its content type."""

    headers: Mapping[str, str]
    body: bytes
    content_type: str = ""


def authenticate(webhook: Webhook, delivery: Delivery) -> None:
    """DeliveryRefused unless the delivery carries the webhook's credentials or a valid signature."""
    secret = _unseal(webhook)
    if webhook.auth_type == WebhookAuthType.BASIC:
        _check_basic(webhook.basic_username, secret, delivery.headers.get("authorization", ""))
    elif webhook.auth_type == WebhookAuthType.API_KEY:
        _check_api_key(webhook.api_key_header_name, secret, delivery.headers)
    else:
        _check_signature(webhook, secret, delivery)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _check_basic(username: str, password: str, authorization: str) -> None:
    scheme, _, encoded = authorization.strip().partition(" ")
    try:
        given_user, colon, given_password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        colon = ""
    if scheme.lower() != "basic" or not colon:
        raise DeliveryRefused("missing or invalid authorization header")
    user_ok = _same(given_user, username)
    password_ok = _same(given_password, password)
    if not (user_ok and password_ok):
        raise DeliveryRefused("invalid basic auth credentials")


def _check_api_key(header: str, api_key: str, headers: Mapping[str, str]) -> None:
    given = headers.get(header.lower(), "")
    if not given:
        raise DeliveryRefused(f"missing api key header: {header}")
    if not _same(given, api_key):
        raise DeliveryRefused(f"invalid api key in header: {header}")


def signature(body: bytes, secret: str, algorithm: str, encoding: str) -> str:
    digest = hmac.new(secret.encode(), body, ALGORITHMS[algorithm]).digest()
    if encoding == "HEX":
        return digest.hex()
    if encoding == "BASE64":
        return base64.b64encode(digest).decode()
    return base64.urlsafe_b64encode(digest).decode()


def _check_signature(webhook: Webhook, secret: str, delivery: Delivery) -> None:
    header = webhook.hmac_signature_header_name
    given = delivery.headers.get(header.lower(), "").strip()
    if not given:
        raise DeliveryRefused(f"missing signature header: {header}")
    for prefix in SIGNATURE_PREFIXES:  # GitHub's `sha256=<hex>` and the like
        if given.lower().startswith(prefix):
            given = given[len(prefix) :]
            break
    expected = signature(delivery.body, secret, webhook.hmac_algorithm, webhook.hmac_encoding)
    if not _same(given, expected):
        raise DeliveryRefused("invalid HMAC signature")


def parse_body(webhook: Webhook, delivery: Delivery) -> dict[str, Any]:
    """The body as a JSON object (or, for GENERIC webhooks, form fields), merged with the static payload."""
    if "application/x-www-form-urlencoded" in delivery.content_type.lower():
        if webhook.source_name != WebhookSource.GENERIC:
            raise DeliveryMalformed("body", f"form-encoded deliveries are not accepted for {webhook.source_name}")
        body: Any = dict(parse_qsl(delivery.body.decode("utf-8", "replace"), keep_blank_values=True))
    else:
        try:
            body = json.loads(delivery.body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise DeliveryMalformed("body", f"is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise DeliveryMalformed("body", f"must be a JSON object, not {type(body).__name__}")
    return {**body, **(webhook.static_payload or {})}


def _evaluate(expression: str, field: str, variables: dict[str, Any]) -> str:
    try:
        value = services.evaluate_expression(expression, variables, field=field)
    except InvalidWorkflowError as exc:
        raise DeliveryMalformed(field, exc.problem) from None
    except (TypeError, ZeroDivisionError) as exc:
        raise DeliveryMalformed(field, f"{expression!r} failed: {exc}") from None
    if not isinstance(value, str):
        raise DeliveryMalformed(field, f"{expression!r} must evaluate to a string, not {type(value).__name__}")
    if not value:
        raise DeliveryMalformed(field, f"{expression!r} evaluated to an empty string")
    return value


def receive(name: str, delivery: Delivery) -> tuple[Webhook, Any]:
    """Authenticate, parse, key and push one delivery; the webhook and the pushed event (features.Event)."""
    from sfpserver.hatchet.features import _push

    webhook = get_webhook(name)
    try:
        authenticate(webhook, delivery)
    except DeliveryRefused as exc:
        logger.warning(
            "webhook %s refused a delivery: %s", webhook.name, exc, extra={"webhook": webhook.name, "reason": str(exc)}
        )
        raise
    payload = parse_body(webhook, delivery)
    variables = {"input": payload, "headers": dict(delivery.headers)}
    key = _evaluate(webhook.event_key_expression, "eventKeyExpression", variables)
    scope = _evaluate(webhook.scope_expression, "scopeExpression", variables) if webhook.scope_expression else None
    services.refuse_unstorable(payload)
    with transaction.atomic():  # the event and the runs it starts, or neither
        event = _push(key, payload, {}, None, scope, webhook=webhook.name)
    logger.info(
        "webhook %s delivered event %s", webhook.name, event.event_id, extra={"webhook": webhook.name, "key": key}
    )
    return webhook, event


def event_json(event: Any, webhook_name: str | None) -> dict[str, Any]:
    """Hatchet's V1Event as JSON, for the event a delivery became (a `features.Event`)."""
    stamp = event.event_timestamp.isoformat()
    return {
        "metadata": {"id": event.event_id, "createdAt": stamp, "updatedAt": stamp},
        "key": event.key,
        "tenantId": TENANT,
        "payload": json.loads(event.payload),
        "additionalMetadata": json.loads(event.additional_metadata),
        "scope": event.scope,
        "seenAt": stamp,
        "triggeringWebhookName": webhook_name,
    }
