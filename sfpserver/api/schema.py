"""OpenAPI glue: the bearer-token security scheme and the error responses every operation can give."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "a stable code, e.g. invalid_input, not_found, invalid_token"},
        "detail": {
            "description": "for 400/413/415: the field at fault (dotted; `body` for the whole body) and what is "
            "wrong with it; otherwise a sentence",
            "oneOf": [{"type": "string"}, {"type": "object", "additionalProperties": {"type": "string"}}],
        },
    },
}
ERROR_DESCRIPTIONS = {
    "400": "invalid input: the field at fault and why",
    "401": "no token, or a token that is malformed, unknown, expired or revoked",
    "403": "the token's role does not allow this",
    "404": "no such resource, or one this token may not see",
    "409": "the operation does not apply in the resource's current state",
    "413": "the request body is over the size limit",
    "415": "the body is not application/json",
    "429": "too many requests from this token (`throttled`, with Retry-After), or too many of its recurring tasks "
    "active (`quota_exceeded`)",
}


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "sfpserver.accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "a token from `manage.py issue_token NAME --role owner|member|application`",
        }


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: document the stable error body on every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            for code in _error_codes(path, method, operation):
                operation.setdefault("responses", {}).setdefault(code, _error_response(code))
    return result


def _error_codes(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    secured = any(requirement for requirement in operation.get("security", []))
    has_input = bool(operation.get("parameters")) or "requestBody" in operation
    codes = []
    if has_input:
        codes.append("400")
    if secured:
        codes += ["401", "403", "404", "429"]
    elif "{" in path:
        codes.append("404")
    if method in ("post", "patch", "delete") and secured:
        codes.append("409")
    if "requestBody" in operation:
        codes += ["413", "415"]
    return codes


def _error_response(code: str) -> dict[str, Any]:
    return {
        "description": ERROR_DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
