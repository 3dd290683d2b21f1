"""Fire times of a five-field cron expression in a time zone, to the minute. Pure functions (no database),
shared by the scheduler (engine/cron.py) and the migration that filled `next_fire_at`.

A cron fires at the latest fire time at or before now, never twice for one fire time; a cron created or
edited at 12:00:30 still owes the 12:00 firing (its edit minute counts), as before `next_fire_at` existed.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from croniter import croniter

MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def first_fire_at(expression: str, tz: tzinfo, since: datetime) -> datetime:
    """The first fire time at or after the minute of `since`."""
    start = floor_minute(since.astimezone(tz)) - SECOND
    found: datetime = croniter(expression, start).get_next(datetime)
    return found


def latest_fire_at(expression: str, tz: tzinfo, now: datetime) -> datetime:
    """The latest fire time at or before `now`."""
    start = floor_minute(now.astimezone(tz)) + SECOND
    found: datetime = croniter(expression, start).get_prev(datetime)
    return found


def next_fire_after(expression: str, tz: tzinfo, now: datetime) -> datetime:
    """The first fire time strictly after `now`."""
    found: datetime = croniter(expression, now.astimezone(tz)).get_next(datetime)
    return found
