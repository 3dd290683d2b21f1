"""Credentials (owner only, write-only: responses describe a credential, never show its value) and the
workers' lease endpoint (application tokens: the one response that carries secrets, by design)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sfpserver.accounts.permissions import Capability
from sfpserver.api.serializers.credentials import (
    CredentialCreateRequest,
    CredentialReplaceRequest,
    CredentialResponse,
    LeaseRequest,
    LeaseResponse,
)
from sfpserver.api.views.common import caller, validated
from sfpserver.engine.services import InvalidStateError, first_unstorable
from sfpserver.vault import services
from sfpserver.vault.exceptions import CredentialMissing, InvalidCredential
from sfpserver.vault.models import CredentialKind

TAGS = ["credentials"]


def _actor(request: Request) -> str:
    return f"api:{caller(request).name}"


def _checked_name(name: str) -> str:
    """A name from the path: one Postgres cannot hold (a NUL, sent as %00) is a 400, not a database error."""
    found = first_unstorable(name, "name")
    if found is not None:
        raise InvalidCredential(*found)
    return name


def _described(description: dict[str, Any], code: int = status.HTTP_200_OK) -> Response:
    return Response(CredentialResponse(description).data, status=code)


class CredentialListView(APIView):
    capabilities = {"GET": Capability.MANAGE_CREDENTIALS, "POST": Capability.MANAGE_CREDENTIALS}

    @extend_schema(
        tags=TAGS,
        operation_id="list_credentials",
        parameters=[OpenApiParameter("kind", str, description="only credentials of this kind")],
        responses={200: CredentialResponse(many=True)},
        summary="Credentials (never their values)",
    )
    def get(self, request: Request) -> Response:
        kind = request.query_params.get("kind") or None
        if kind is not None and kind not in CredentialKind.values:
            raise InvalidCredential("kind", f"must be one of {', '.join(CredentialKind.values)}")
        return Response(CredentialResponse(services.list_credentials(kind), many=True).data)

    @extend_schema(
        tags=TAGS,
        operation_id="create_credential",
        request=CredentialCreateRequest,
        responses={201: CredentialResponse},
        summary="Store a new credential (409 if the name is taken: PUT replaces)",
    )
    def post(self, request: Request) -> Response:
        data = validated(CredentialCreateRequest, request.data).validated_data
        if services.exists(data["name"]):
            raise InvalidStateError(
                f"credential {data['name']!r} already exists; PUT /sfp/api/credentials/{data['name']} replaces it"
            )
        stored = services.store(
            data["kind"], data["name"], data["secret"], metadata=data["metadata"], actor=_actor(request)
        )
        return _described(services.as_description(stored), status.HTTP_201_CREATED)


class CredentialDetailView(APIView):
    capabilities = {
        "GET": Capability.MANAGE_CREDENTIALS,
        "PUT": Capability.MANAGE_CREDENTIALS,
        "DELETE": Capability.MANAGE_CREDENTIALS,
    }

    @extend_schema(tags=TAGS, operation_id="get_credential", responses={200: CredentialResponse}, summary="Credential")
    def get(self, request: Request, name: str) -> Response:
        return _described(services.describe(_checked_name(name)))

    @extend_schema(
        tags=TAGS,
        operation_id="replace_credential",
        request=CredentialReplaceRequest,
        responses={200: CredentialResponse},
        summary="Replace a credential's value (a rotation)",
    )
    def put(self, request: Request, name: str) -> Response:
        name = _checked_name(name)
        data = validated(CredentialReplaceRequest, request.data).validated_data
        if not services.exists(name):
            raise CredentialMissing(name)
        stored = services.store(data["kind"], name, data["secret"], metadata=data["metadata"], actor=_actor(request))
        return _described(services.as_description(stored))

    @extend_schema(tags=TAGS, operation_id="delete_credential", responses={204: None}, summary="Delete a credential")
    def delete(self, request: Request, name: str) -> Response:
        if not services.delete(_checked_name(name), actor=_actor(request)):
            raise CredentialMissing(name)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LeaseView(APIView):
    """Workers that lease over HTTP (VAULT_LEASE_URL) ask here. Off unless VAULT_LEASE_ENDPOINT is set: then it
    answers 404 to everyone, as a path that does not exist would. A role alone never grants a lease: the request
    must carry the attempt's lease secret, which only the worker that claimed the attempt holds."""

    capabilities = {"POST": Capability.WORKER_ENDPOINTS}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if not settings.VAULT_LEASE_ENDPOINT:
            raise NotFound(f"no such resource: {request.path}")
        super().initial(request, *args, **kwargs)

    @extend_schema(
        tags=["internal"],
        operation_id="lease_credentials",
        request=LeaseRequest,
        responses={200: LeaseResponse},
        summary="Workers: lease the credentials a running step attempt declared",
    )
    def post(self, request: Request) -> Response:
        data = validated(LeaseRequest, request.data).validated_data
        requester = f"worker:{caller(request).name}"
        values = services.lease(
            data["step_id"],
            data["attempt"],
            data["worker_id"],
            data["names"],
            secret=data["lease_secret"],
            requester=requester,
        )
        response = Response({"credentials": values})
        response["Cache-Control"] = "no-store"
        return response
