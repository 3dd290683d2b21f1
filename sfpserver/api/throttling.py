"""Request rates per token: no single token can stall the platform.

Each token has a counter per scope (`read`, `write`, `lease`: the workers' credential leases) and fixed
window (a minute for "600/min"), kept in the shared Redis cache (CACHES["throttle"]) so that every API
process counts the same requests. Past the scope's rate the request answers 429 `throttled` with Retry-After
(the seconds left in the window). Only token-authenticated requests are counted: a request without a valid
token is refused before throttling.

When Redis does not answer, requests go through (logged): the broker's outage must not also close the API.
Counting requests is one round trip however many (a script that adds one to each counter and starts a window's
expiry with its first; api/fast_submit.py counts a batch of triggers at once), on one client per process kept for
its life.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Sequence
from typing import Any, cast

import redis
from django.conf import settings
from django.core.cache import caches
from redis.commands.core import Script
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from config.env import parse_rate
from sfpserver.accounts.models import ApiToken
from sfpserver.accounts.permissions import Capability

logger = logging.getLogger(__name__)

RATE_SETTINGS = {
    "read": "API_THROTTLE_READ_RATE",
    "write": "API_THROTTLE_WRITE_RATE",
    "lease": "API_THROTTLE_LEASE_RATE",
}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PERIOD_NAMES = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}


def scope_of(request: Request, view: Any) -> str:
    """`lease` for the internal worker endpoints; otherwise read or write by the method."""
    if getattr(view, "capabilities", {}).get(request.method) == Capability.WORKER_ENDPOINTS:
        return "lease"
    return "read" if request.method in READ_METHODS else "write"


# Adds one to each counter (a key given twice, twice); the first request of a window also sets when its counter
# expires. The counts, in the order of the keys.
_COUNT = """
local counts = {}
for i, key in ipairs(KEYS) do
    local count = redis.call('INCR', key)
    if count == 1 then redis.call('EXPIRE', key, ARGV[1]) end
    counts[i] = count
end
return counts
"""


@functools.lru_cache(maxsize=4)
def _counter(location: str, options: tuple[tuple[str, Any], ...]) -> Script:
    """The counting script on a client of this server, kept for the process's life (one per configuration)."""
    return redis.Redis.from_url(location, **dict(options)).register_script(_COUNT)


def count_request(key: str, seconds: int) -> int:
    """Add one to the window's counter (created to expire with the window) and return it. The key is the
    throttle cache's own (its prefix and version), so that clearing that cache resets the counters."""
    return count_requests([key], seconds)[0]


def count_requests(keys: Sequence[str], seconds: int) -> list[int]:
    """`count_request` for each key (a key given twice counts twice), in one round trip however many."""
    config = cast("dict[str, dict[str, Any]]", settings.CACHES)["throttle"]
    counter = _counter(config["LOCATION"], tuple(sorted(config.get("OPTIONS", {}).items())))
    cache = caches["throttle"]
    counts = counter(keys=[cache.make_and_validate_key(key) for key in keys], args=[seconds + 1])
    return [int(count) for count in counts]


def refusals(scope: str, token_ids: Sequence[int]) -> list[RateExceeded | None]:
    """Count one `scope` request of each token (a token twice counts twice); for each, the refusal when that
    request is over the scope's rate, or None. When Redis does not answer, none is refused (logged)."""
    limit, seconds = parse_rate(getattr(settings, RATE_SETTINGS[scope]))
    now = time.time()
    window = int(now // seconds)
    try:
        counts = count_requests([f"{scope}:{token_id}:{window}" for token_id in token_ids], seconds)
    except RedisError as exc:
        logger.warning("request throttling skipped: %s", type(exc).__name__, extra={"scope": scope})
        return [None] * len(token_ids)
    wait = math.ceil((window + 1) * seconds - now)
    return [RateExceeded(_refusal(scope, limit, seconds), wait) if count > limit else None for count in counts]


class RateExceeded(Throttled):
    """DRF's Throttled without "Expected available in N seconds" in its detail: the Retry-After header says it."""

    def __init__(self, detail: str, wait: int) -> None:
        super().__init__(detail=detail)
        self.wait = wait


class TokenRateThrottle(BaseThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        refused = refusals(scope_of(request, view), [token.pk])[0]
        if refused is not None:
            raise refused
        return True

    def wait(self) -> float | None:
        return None


def _refusal(scope: str, limit: int, seconds: int) -> str:
    period = PERIOD_NAMES.get(seconds, f"{seconds} s")
    return (
        f"this token sent more than {limit} {scope} requests this {period} ({RATE_SETTINGS[scope]}); "
        "retry after the number of seconds in the Retry-After header"
    )


class WebhookDeliveryThrottle(BaseThrottle):
    """Deliveries to one incoming webhook, counted per webhook (they carry no token), at API_THROTTLE_WEBHOOK_RATE;
    every delivery counts, refused or not, so that a flood of bad signatures is cut off too."""

    def allow_request(self, request: Request, view: Any) -> bool:
        name = str(view.kwargs.get("name", ""))
        limit, seconds = parse_rate(settings.API_THROTTLE_WEBHOOK_RATE)
        now = time.time()
        window = int(now // seconds)
        try:
            count = count_request(f"webhook:{name}:{window}", seconds)
        except RedisError as exc:
            logger.warning("webhook throttling skipped: %s", type(exc).__name__, extra={"webhook": name})
            return True
        if count <= limit:
            return True
        period = PERIOD_NAMES.get(seconds, f"{seconds} s")
        detail = (
            f"this webhook received more than {limit} deliveries this {period} (API_THROTTLE_WEBHOOK_RATE); "
            "retry after the number of seconds in the Retry-After header"
        )
        raise RateExceeded(detail, math.ceil((window + 1) * seconds - now))

    def wait(self) -> float | None:
        return None
