"""Cron expressions and time zones for recurring tasks and schedules, checked field by field so a refusal
says which field is wrong."""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass

from celery.schedules import crontab_parser
from croniter import croniter

from sfpserver.engine.services import CRON_ALIASES as ALIASES
from sfpserver.submissions.exceptions import InvalidSubmissionError

# (name, Celery parser max, min) in the order of a five-field cron expression.
_FIELDS = (
    ("minute", 60, 0),
    ("hour", 24, 0),
    ("day-of-month", 31, 1),
    ("month", 12, 1),
    ("day-of-week", 7, 0),
)


@dataclass(frozen=True)
class Cron:
    minute: str
    hour: str
    day_of_month: str
    month_of_year: str
    day_of_week: str

    def __str__(self) -> str:
        return f"{self.minute} {self.hour} {self.day_of_month} {self.month_of_year} {self.day_of_week}"


def parse_cron(expression: str, field: str = "cron") -> Cron:
    """A five-field cron expression (or @daily, @hourly, ...); InvalidSubmissionError(field, why) otherwise."""
    parts = ALIASES.get(expression.strip(), expression).split()
    if len(parts) != len(_FIELDS):
        raise InvalidSubmissionError(
            field, f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}"
        )
    for value, (name, max_, min_) in zip(parts, _FIELDS, strict=True):
        try:
            crontab_parser(max_, min_).parse(value)
        except (ValueError, IndexError) as exc:
            raise InvalidSubmissionError(field, f"the {name} field {value!r} is not valid: {exc}") from None
    if not croniter.is_valid(" ".join(parts)):
        raise InvalidSubmissionError(field, f"{expression!r} is not a valid cron expression")
    return Cron(*parts)


def check_timezone(name: str, field: str = "timezone") -> zoneinfo.ZoneInfo:
    if name not in _timezones():
        raise InvalidSubmissionError(field, f"unknown time zone {name!r} (use an IANA name such as 'Europe/Paris')")
    return zoneinfo.ZoneInfo(name)


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() | {"UTC"})
