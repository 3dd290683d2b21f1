"""Why a presented token is refused. The messages name the reason, never the token."""

from __future__ import annotations


class TokenError(Exception):
    """A bearer token cannot be used."""


class MalformedTokenError(TokenError):
    def __init__(self) -> None:
        super().__init__("the token is not valid")


class UnknownTokenError(TokenError):
    def __init__(self) -> None:
        super().__init__("the token is not valid")


class ExpiredTokenError(TokenError):
    def __init__(self) -> None:
        super().__init__("the token has expired")


class RevokedTokenError(TokenError):
    def __init__(self) -> None:
        super().__init__("the token has been revoked")
