"""The vault's service interface: store, describe, list, delete credentials, and lease them to a running
step attempt. The admin, the API and the worker side all go through here. Nothing here returns or logs a
secret except `lease`, which hands the decrypted values to the attempt that declared them.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from sfpserver.engine.services import LeaseFacts, StepStatus, lease_hash, lock_step_for_lease
from sfpserver.vault import crypto, keys, kinds, scope
from sfpserver.vault.exceptions import CredentialMissing, CredentialUnreadable, LeaseRefused, VaultError
from sfpserver.vault.models import AuditAction, Credential, CredentialAudit

logger = logging.getLogger(__name__)

DESCRIBED_FIELDS = ("kind", "name", "fingerprint", "metadata", "created_at", "rotated_at", "last_used_at")


# --- managing credentials ---------------------------------------------------------------------------------


def store(kind: str, name: str, secret: str, *, metadata: dict[str, Any] | None = None, actor: str = "") -> Credential:
    """Create the credential, or replace its value (a rotation: created_at stays, rotated_at is set)."""
    kinds.check_name(name)
    value, meta = kinds.validate(kind, secret, metadata)
    keyring = keys.keyring()
    sealed = crypto.seal(name, value, keyring)
    fields = {
        "kind": kind,
        "metadata": meta,
        "fingerprint": crypto.fingerprint(value, keyring),
        "key_id": sealed.key_id,
        "nonce": sealed.nonce,
        "ciphertext": sealed.ciphertext,
    }
    try:
        credential, action = _upsert(name, fields, actor)
    except IntegrityError:  # created concurrently under the same name: replace it instead
        credential, action = _upsert(name, fields, actor)
    logger.info("credential %s: %s", name, action.lower(), extra={"credential": name, "kind": kind, "actor": actor})
    return credential


def _upsert(name: str, fields: dict[str, Any], actor: str) -> tuple[Credential, AuditAction]:
    with transaction.atomic():
        credential = Credential.objects.select_for_update().filter(name=name).first()
        if credential is None:
            credential = Credential.objects.create(name=name, created_by=actor, **fields)
            action = AuditAction.CREATE
        else:
            for attr, value in fields.items():
                setattr(credential, attr, value)
            credential.rotated_at, credential.rotated_by = timezone.now(), actor
            credential.save()
            action = AuditAction.REPLACE
        _audit(action, name, actor=actor)
    return credential, action


def update_metadata(name: str, metadata: dict[str, Any], *, actor: str = "") -> Credential:
    """Change what is known about a credential without changing its value (validated against the value)."""
    with transaction.atomic():
        credential = _get(name, lock=True)
        credential.metadata = _validated_metadata(credential, metadata)
        credential.save(update_fields=["metadata"])
        _audit(AuditAction.UPDATE, name, actor=actor)
    return credential


def validate_metadata(name: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """The metadata `update_metadata` would store, or InvalidCredential / CredentialUnreadable."""
    return _validated_metadata(_get(name), metadata)


def _validated_metadata(credential: Credential, metadata: dict[str, Any]) -> dict[str, Any]:
    _, validated = kinds.validate(credential.kind, _decrypt(credential, keys.keyring()), metadata)
    return validated


def describe(name: str) -> dict[str, Any]:
    """Everything about a credential except its value. CredentialMissing if there is none by that name."""
    return as_description(_get(name))


def as_description(credential: Credential) -> dict[str, Any]:
    """The described fields; `metadata` as enforced (the destinations' defaults filled in for older rows)."""
    described = {attr: getattr(credential, attr) for attr in DESCRIBED_FIELDS}
    described["metadata"] = scope.with_defaults(credential.kind, credential.metadata or {})
    return described


def list_credentials(kind: str | None = None) -> list[dict[str, Any]]:
    found = Credential.objects.all() if kind is None else Credential.objects.filter(kind=kind)
    return [as_description(credential) for credential in found.order_by("name")]


def exists(name: str) -> bool:
    return Credential.objects.filter(name=name).exists()


def missing(names: Iterable[str]) -> list[str]:
    """The names among `names` that are not stored, in order (for refusing a trigger up front)."""
    wanted = list(dict.fromkeys(names))
    present = set(Credential.objects.filter(name__in=wanted).values_list("name", flat=True))
    return [name for name in wanted if name not in present]


def check_use(name: str, use: scope.Use, destination: str | None = None) -> None:
    """CredentialMisuse unless `name` may serve `use` at `destination` (scope.check). A credential that does
    not exist passes: leasing it fails the step with CredentialMissing."""
    found = Credential.objects.filter(name=name).values("kind", "metadata").first()
    if found is not None:
        scope.check(name, found["kind"], found["metadata"] or {}, use, destination)


def delete(name: str, *, actor: str = "") -> bool:
    with transaction.atomic():
        deleted, _ = Credential.objects.filter(name=name).delete()
        if deleted:
            _audit(AuditAction.DELETE, name, actor=actor)
    if deleted:
        logger.info("credential %s: deleted", name, extra={"credential": name, "actor": actor})
    return bool(deleted)


def _get(name: str, *, lock: bool = False) -> Credential:
    query = Credential.objects.select_for_update() if lock else Credential.objects
    credential = query.filter(name=name).first()
    if credential is None:
        raise CredentialMissing(name)
    return credential


def _decrypt(credential: Credential, keyring: keys.Keyring) -> str:
    sealed = crypto.Sealed(credential.key_id, bytes(credential.nonce), bytes(credential.ciphertext))
    return crypto.unseal(credential.name, sealed, keyring)


# --- key rotation -------------------------------------------------------------------------------------------


@dataclass
class Reencrypted:
    key_id: str
    reencrypted: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def reencrypt_all(*, actor: str = "rotate_vault_keys") -> Reencrypted:
    """Re-encrypt every credential not yet under the newest key, one row per transaction."""
    keyring = keys.keyring()
    report = Reencrypted(keyring.newest.id)
    for name in Credential.objects.order_by("name").values_list("name", flat=True):
        try:
            changed = _reencrypt(name, keyring, actor)
        except CredentialUnreadable:
            report.unreadable.append(name)
            continue
        (report.reencrypted if changed else report.current).append(name)
    return report


# Other apps that seal their own secrets with the vault's keys (incoming webhooks) register here how to re-seal
# them under the newest key; `rotate_vault_keys` runs each after the credentials. Keyed by what they seal.
RESEALERS: dict[str, Callable[[keys.Keyring], Reencrypted]] = {}


def register_resealer(kind: str, reseal: Callable[[keys.Keyring], Reencrypted]) -> None:
    RESEALERS[kind] = reseal


def reseal_others() -> dict[str, Reencrypted]:
    keyring = keys.keyring()
    return {kind: reseal(keyring) for kind, reseal in sorted(RESEALERS.items())}


def _reencrypt(name: str, keyring: keys.Keyring, actor: str) -> bool:
    with transaction.atomic():
        credential = Credential.objects.select_for_update().filter(name=name).first()
        if credential is None or credential.key_id == keyring.newest.id:
            return False
        sealed = crypto.seal(name, _decrypt(credential, keyring), keyring)
        credential.key_id, credential.nonce, credential.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
        credential.save(update_fields=["key_id", "nonce", "ciphertext"])
        _audit(AuditAction.REENCRYPT, name, actor=actor, reason=f"now under key {sealed.key_id!r}")
    return True


# --- leases -------------------------------------------------------------------------------------------------

MAX_LEASE_NAMES = 32  # a step declares a handful; a request for more is refused before anything is read
MAX_ATTEMPT = 100_000  # far above any retry budget, far below the column's range


@dataclass(frozen=True)
class _LeaseRequest:
    step_id: UUID | None
    attempt: int
    worker_id: UUID | None
    names: list[str]
    requester: str


def lease(
    step_id: UUID | str,
    attempt: int,
    worker_id: UUID | str | None,
    names: list[str],
    *,
    secret: str,
    requester: str,
) -> dict[str, str]:
    """The decrypted values of `names` for attempt `attempt` of step `step_id`, running on `worker_id`.

    Proved by possession: `secret` is the attempt's lease secret, which the engine minted when that worker
    claimed the attempt and of which Postgres keeps only the hash (lifecycle.mint_lease_secret). Granted only
    while that attempt is RUNNING on that worker and only for names the step declared in `args["credentials"]`.
    Every request is audited in one row, granted or refused with the reason. A caller without the secret learns
    nothing of the step (not even whether it exists). Raises LeaseRefused, CredentialMissing or
    CredentialUnreadable (all non-retryable for the step).
    """
    request = _LeaseRequest(_uuid(step_id), attempt, _uuid(worker_id), list(dict.fromkeys(names)), requester)
    with transaction.atomic():
        step = _lock_step(request.step_id)
        refusal = _refusal(step, request, secret)
        if step is None or refusal is not None:
            reason = refusal or "no such step"
            _audit_lease(request, step, granted=False, reason=reason)
            error: VaultError = LeaseRefused(reason)
        else:
            granted, error_or_none = _open_all(request, step)
            if error_or_none is None:
                return granted
            error = error_or_none
    logger.warning(
        "lease for step %s attempt %s not granted: %s",
        request.step_id,
        request.attempt,
        error,
        extra=_log_extra(request),
    )
    raise error


def _uuid(value: UUID | str | None) -> UUID | None:
    if value is None or isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return None


def _lock_step(step_id: UUID | None) -> LeaseFacts | None:
    if step_id is None:
        return None
    return lock_step_for_lease(step_id)


def _refusal(step: LeaseFacts | None, request: _LeaseRequest, secret: str) -> str | None:
    if step is None or not _holds_lease(step, secret):
        return f"no attempt of step {request.step_id or '?'} holds this lease secret"
    if step.status != StepStatus.RUNNING:
        return f"step {step.name!r} ({step.id}) is {step.status}, not RUNNING"
    if step.attempt != request.attempt:
        return f"step {step.name!r} is running attempt {step.attempt}, not attempt {request.attempt}"
    if request.worker_id is None or step.worker_id != request.worker_id:
        return f"step {step.name!r} attempt {step.attempt} is not running on worker {request.worker_id or '?'}"
    declared = declared_credentials(step.args)
    undeclared = [name for name in request.names if name not in declared]
    if undeclared:
        listed = ", ".join(repr(name) for name in undeclared)
        return f"step {step.name!r} did not declare credential(s) {listed} in its args['credentials']"
    return None


def _holds_lease(step: LeaseFacts, secret: str) -> bool:
    """The secret is the one minted for the step's latest claim (compared in constant time)."""
    return bool(step.lease_hash) and hmac.compare_digest(step.lease_hash, lease_hash(secret))


def declared_credentials(args: Mapping[str, Any] | None) -> list[str]:
    """The credential names a step declared: `args["credentials"]`, a list of names."""
    declared = (args or {}).get("credentials") or []
    if isinstance(declared, str):
        return [declared]
    return [name for name in declared if isinstance(name, str)]


def _open_all(request: _LeaseRequest, step: LeaseFacts) -> tuple[dict[str, str], VaultError | None]:
    """Decrypt every requested credential; if one fails, the whole lease is refused."""
    keyring = keys.keyring()
    found = {c.name: c for c in Credential.objects.filter(name__in=request.names)}
    values: dict[str, str] = {}
    for name in request.names:
        try:
            if name not in found:
                raise CredentialMissing(name)
            values[name] = _decrypt(found[name], keyring)
        except (CredentialMissing, CredentialUnreadable) as exc:
            _audit_lease(request, step, granted=False, reason=str(exc))
            return {}, exc
    Credential.objects.filter(name__in=request.names).update(last_used_at=timezone.now())
    _audit_lease(request, step, granted=True)
    logger.info("credentials leased: %s", ", ".join(request.names), extra=_log_extra(request))
    return values, None


def _audit_lease(request: _LeaseRequest, step: LeaseFacts | None, *, granted: bool, reason: str = "") -> None:
    """One row per lease request, naming every credential it asked for."""
    names = request.names[:MAX_LEASE_NAMES]
    CredentialAudit.objects.create(
        action=AuditAction.LEASE,
        credential_name=", ".join(names)[:200],
        credential_names=[name[:200] for name in names],
        actor=request.requester,
        granted=granted,
        reason=reason,
        run_id=step.run_id if step else None,
        step_id=request.step_id,
        step_name=step.name if step else "",
        attempt=request.attempt if 0 <= request.attempt <= MAX_ATTEMPT else None,
        worker_id=request.worker_id,
    )


def _audit(action: AuditAction, name: str, *, actor: str, reason: str = "") -> None:
    CredentialAudit.objects.create(
        action=action, credential_name=name, credential_names=[name], actor=actor, reason=reason
    )


def _log_extra(request: _LeaseRequest) -> dict[str, Any]:
    return {"step_id": str(request.step_id), "attempt": request.attempt, "credentials": request.names}
