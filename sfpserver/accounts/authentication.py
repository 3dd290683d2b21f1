"""DRF authentication by `Authorization: Bearer <token>`."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from sfpserver.accounts import tokens
from sfpserver.accounts.exceptions import TokenError
from sfpserver.accounts.models import ApiToken

SCHEME = "Bearer"


@dataclass(frozen=True)
class TokenPrincipal:
    """`request.user` of a token-authenticated request."""

    token: ApiToken
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def role(self) -> str:
        return self.token.role

    @property
    def pk(self) -> int:
        return self.token.pk

    def __str__(self) -> str:
        return f"token {self.token.name}"


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[TokenPrincipal, ApiToken] | None:
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].decode("latin-1").lower() != SCHEME.lower() or len(header) != 2:
            raise exceptions.AuthenticationFailed("send the token as 'Authorization: Bearer <token>'")
        try:
            token = tokens.authenticate(header[1].decode("latin-1"))
        except TokenError as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        return TokenPrincipal(token), token

    def authenticate_header(self, request: Request) -> str:
        return f'{SCHEME} realm="sfpserver"'
