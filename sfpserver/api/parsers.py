"""The JSON parser of the API: refuses bodies over API_MAX_BODY_BYTES before reading them whole, and any
body holding a value Postgres cannot store (the engine's `first_unstorable`: a NUL, a lone surrogate, NaN,
±Infinity or a number that overflows to it), naming the field, so no view ever hands such a value to the database.

DRF reads the request stream itself, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not protect it.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from sfpserver.engine.services import first_unstorable


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class UnstorableInput(APIException):
    """A field of the body holds a value that cannot be stored; answered 400 invalid_input naming it."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_input"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class LimitedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = _content_length(request)
        if declared > limit:
            raise PayloadTooLarge(f"the request body is {declared} bytes; the limit is {limit}")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"the request body is over the limit of {limit} bytes")
        return parsed_body(raw)


def parsed_body(raw: bytes) -> Any:
    """A body within the limit, parsed: ParseError when it is not JSON, UnstorableInput naming the field that holds
    what Postgres cannot store."""
    parsed = _loads(raw)
    found = first_unstorable(parsed, "")
    if found is not None:
        path, problem = found
        raise UnstorableInput(path or "body", problem)
    return parsed


def _loads(raw: bytes) -> Any:
    """NaN and ±Infinity parse (as floats) so that the check above can name the field that holds them."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ParseError("the body is not UTF-8") from None
    except ValueError as exc:
        raise ParseError(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise ParseError("malformed JSON: nested too deeply") from None


def _content_length(request: Any) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
    except ValueError:
        return 0
