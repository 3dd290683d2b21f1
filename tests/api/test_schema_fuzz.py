"""A bounded property-based run over the OpenAPI schema (schemathesis): whatever a client sends, valid by
the schema or not, the API answers without a 5xx and as its schema says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Personas

EXAMPLES_PER_OPERATION = 8
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
FUZZ_SETTINGS = hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def api_schema(db: None) -> Iterator[Any]:
    # The app runs in this thread, inside the test's transaction: keep Django from closing that connection
    # at the end of each request, as its own test client does.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/sfp/api/schema/", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def takes_input(operation: Any) -> bool:
    return bool(operation.path_parameters or operation.query or operation.body)


@pytest.mark.parametrize("role", ["owner", "member", "app"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_to_its_schema_whatever_it_is_sent(
    api_schema: Any, personas: Personas, mode: Any, role: str, settings: Any
) -> None:
    settings.API_READY_POOLS = []  # readiness answers 503 by design without workers; test_health covers it
    settings.VAULT_LEASE_ENDPOINT = True  # the lease endpoint as deployed, with each role's token
    auth = {"Authorization": f"Bearer {getattr(personas, role).secret}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 17
    for operation in operations:
        if mode == GenerationMode.NEGATIVE and not takes_input(operation):
            continue  # nothing to send wrong

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy(generation_mode=mode))
        def keeps_to_schema(case: Any) -> None:
            case.call_and_validate(headers=auth, checks=CHECKS)

        keeps_to_schema()
