"""Credentials (write-only: no response carries a secret) and the workers' credential lease."""

from __future__ import annotations

from rest_framework import serializers

from sfpserver.api.serializers.common import StrictSerializer
from sfpserver.vault.kinds import NAME_PATTERN, NAME_RULE
from sfpserver.vault.services import MAX_ATTEMPT, MAX_LEASE_NAMES


class CredentialResponse(serializers.Serializer):
    kind = serializers.CharField()
    name = serializers.CharField()
    fingerprint = serializers.CharField(help_text="a keyed hash of the value: tells two values apart, reveals none")
    metadata = serializers.JSONField()
    created_at = serializers.DateTimeField()
    rotated_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)


class CredentialReplaceRequest(StrictSerializer):
    kind = serializers.CharField(help_text="sfdx_auth_url, github_token, npm_token, package_install_key or generic")
    secret = serializers.CharField(write_only=True, trim_whitespace=False, help_text="never shown again")
    metadata = serializers.JSONField(
        required=False,
        default=dict,
        help_text="what is known about it, and where it may go: github_token `allowed_hosts` (default "
        '["github.com"]), npm_token `registry` (default "https://registry.npmjs.org", https only), '
        "sfdx_auth_url `username`, `org_type`, `instance_url`; generic `allowed_hosts` to serve as an ssh key",
    )


class CredentialCreateRequest(CredentialReplaceRequest):
    name = serializers.CharField(trim_whitespace=False)


class LeaseRequest(StrictSerializer):
    step_id = serializers.UUIDField()
    attempt = serializers.IntegerField(min_value=0, max_value=MAX_ATTEMPT)
    worker_id = serializers.UUIDField()
    lease_secret = serializers.CharField(
        write_only=True, min_length=16, max_length=128, help_text="the attempt's lease secret, minted at its claim"
    )
    names = serializers.ListField(
        child=serializers.RegexField(NAME_PATTERN, max_length=200, error_messages={"invalid": NAME_RULE}),
        allow_empty=False,
        max_length=MAX_LEASE_NAMES,
    )


class LeaseResponse(serializers.Serializer):
    credentials = serializers.DictField(child=serializers.CharField(), help_text="name -> decrypted value")
