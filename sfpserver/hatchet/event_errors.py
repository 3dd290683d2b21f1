"""The domain errors of event filters and incoming webhooks, mapped to HTTP in `sfpserver/api/errors.py` and
raised as they are by the SDK's `hatchet.filters` / `hatchet.webhooks`. A leaf module: it imports nothing.

No message here ever quotes a secret: a refused delivery says which check failed, not what was expected.
"""

from __future__ import annotations


class EventRoutingError(Exception):
    """Base class of the errors below."""


class InvalidRoutingInput(EventRoutingError, ValueError):
    """Bad input to a filter or webhook; `field` names the field at fault (Hatchet's camelCase for the REST API)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class WebhookNotFound(EventRoutingError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no webhook named {name!r}")
        self.name = name


class FilterNotFound(EventRoutingError, LookupError):
    def __init__(self, filter_id: str) -> None:
        super().__init__(f"no filter with id {filter_id!r}")


class WebhookExists(EventRoutingError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a webhook named {name!r} already exists")


class DeliveryRefused(EventRoutingError):
    """A delivery failed the webhook's authentication: nothing was recorded and nothing started."""


class DeliveryMalformed(EventRoutingError):
    """A delivery passed authentication but cannot become an event; `field` names what is wrong."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
