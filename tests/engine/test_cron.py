"""Crons are found due through their indexed next_fire_at: the fire-time computation as a table, then on real
Postgres a cron that fires once at its time, a paused one that does not, edits that move next_fire_at, and
the per-tick cap that leaves the rest for the next tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from sfpserver.engine import cron
from sfpserver.engine.cron_times import first_fire_at, latest_fire_at, next_fire_after
from sfpserver.engine.models import CronFiring, CronNextFire
from sfpserver.submissions import schedules
from sfpserver.submissions.schedules import ScheduleChange

PARIS = ZoneInfo("Europe/Paris")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "tz", "since", "first"),
    [
        ("* * * * *", UTC, "2030-01-02 12:00:30", "2030-01-02 12:00:00"),  # its edit minute counts
        ("*/5 * * * *", UTC, "2030-01-02 12:01:00", "2030-01-02 12:05:00"),
        ("0 9 * * *", UTC, "2030-01-02 09:00:59", "2030-01-02 09:00:00"),
        ("0 9 * * *", UTC, "2030-01-02 09:01:00", "2030-01-03 09:00:00"),
        ("0 9 * * *", PARIS, "2030-01-02 07:00:00", "2030-01-02 08:00:00"),  # 09:00 in Paris is 08:00Z in winter
        ("0 9 * * *", PARIS, "2030-07-02 07:30:00", "2030-07-03 07:00:00"),  # and 07:00Z in summer
        ("0 0 1 1 *", UTC, "2030-01-01 00:00:01", "2030-01-01 00:00:00"),
        ("0 0 1 1 *", UTC, "2030-01-01 00:01:00", "2031-01-01 00:00:00"),
    ],
)
def test_the_first_fire_time_of_a_new_or_edited_cron(expression: str, tz: ZoneInfo, since: str, first: str) -> None:
    assert first_fire_at(expression, tz, at(since)) == at(first)


@pytest.mark.parametrize(
    ("expression", "tz", "now", "latest", "following"),
    [
        ("* * * * *", UTC, "2030-01-02 12:00:00", "2030-01-02 12:00:00", "2030-01-02 12:01:00"),
        ("* * * * *", UTC, "2030-01-02 12:00:59.9", "2030-01-02 12:00:00", "2030-01-02 12:01:00"),
        ("*/5 * * * *", UTC, "2030-01-02 12:14:00", "2030-01-02 12:10:00", "2030-01-02 12:15:00"),
        ("0 9 * * *", UTC, "2030-01-05 08:00:00", "2030-01-04 09:00:00", "2030-01-05 09:00:00"),  # a missed day: one
        ("0 9 * * *", PARIS, "2030-01-02 08:30:00", "2030-01-02 08:00:00", "2030-01-03 08:00:00"),
    ],
)
def test_a_due_cron_fires_for_its_latest_fire_time_and_waits_for_the_next(
    expression: str, tz: ZoneInfo, now: str, latest: str, following: str
) -> None:
    assert latest_fire_at(expression, tz, at(now)) == at(latest)
    assert next_fire_after(expression, tz, at(now)) == at(following)


# --- on Postgres ----------------------------------------------------------------------------------------------


def slot() -> datetime:
    """The next 09:30 UTC: when a cron "30 9 * * *" created now first fires (its creation minute counts)."""
    now = timezone.now().astimezone(UTC).replace(second=0, microsecond=0)
    today = now.replace(hour=9, minute=30)
    return today if today >= now else today + timedelta(days=1)


def next_fire_at(task: PeriodicTask) -> datetime | None:
    return CronNextFire.objects.get(periodic_task_id=task.id).next_fire_at


def fired(task: PeriodicTask) -> list[datetime]:
    firings = CronFiring.objects.filter(schedule_name=task.name).order_by("fire_time")
    return list(firings.values_list("fire_time", flat=True))


@pytest.mark.django_db
def test_a_cron_fires_once_at_its_time() -> None:
    task = cron.register("nightly-build", "t.single", "30 9 * * *", input={"n": 1})
    assert next_fire_at(task) == slot()
    assert cron.fire_due(slot() - timedelta(seconds=1)) == 0
    assert cron.fire_due(slot() + timedelta(seconds=10)) == 1
    assert cron.fire_due(slot() + timedelta(minutes=15)) == 0  # the same fire time: nothing more
    assert fired(task) == [slot()]
    assert next_fire_at(task) == slot() + timedelta(days=1)
    assert CronFiring.objects.get(schedule_name=task.name).run_id is not None


@pytest.mark.django_db
def test_a_cron_down_for_days_fires_once_for_its_latest_fire_time() -> None:
    task = cron.register("nightly-build", "t.single", "30 9 * * *")
    assert cron.fire_due(slot() + timedelta(days=3, hours=1)) == 1
    assert fired(task) == [slot() + timedelta(days=3)]


@pytest.mark.django_db
def test_two_schedulers_never_fire_one_fire_time_twice() -> None:
    task = cron.register("nightly-build", "t.single", "30 9 * * *")
    assert cron.fire_due(slot() + timedelta(minutes=1)) == 1
    CronNextFire.objects.filter(periodic_task_id=task.id).update(next_fire_at=slot())  # a stale reader
    assert cron.fire_due(slot() + timedelta(minutes=2)) == 0
    assert fired(task) == [slot()]
    assert next_fire_at(task) == slot() + timedelta(days=1)


@pytest.mark.django_db
def test_a_paused_cron_does_not_fire_and_fires_again_once_resumed() -> None:
    task = cron.register("nightly-build", "t.single", "30 9 * * *")
    schedules.update(task, ScheduleChange(enabled=False))
    assert next_fire_at(task) is None
    assert cron.fire_due(slot() + timedelta(minutes=1)) == 0
    schedules.update(task, ScheduleChange(enabled=True))
    assert next_fire_at(task) == slot()
    assert cron.fire_due(slot() + timedelta(minutes=1)) == 1


@pytest.mark.django_db
def test_a_cron_paused_and_resumed_without_a_save_is_picked_up_by_the_resync() -> None:
    """The admin's bulk actions enable and disable with a queryset update: no signal, no date_changed."""
    task = cron.register("nightly-build", "t.single", "30 9 * * *")
    PeriodicTask.objects.filter(id=task.id).update(enabled=False)
    assert cron.fire_due(slot() + timedelta(minutes=1)) == 0  # next_fire_at was due, but the entry is off
    assert (next_fire_at(task), fired(task)) == (None, [])
    PeriodicTask.objects.filter(id=task.id).update(enabled=True)
    assert cron.sync_changed() == 1
    assert cron.fire_due(slot() + timedelta(minutes=1)) == 1


@pytest.mark.django_db
def test_changing_the_cron_moves_its_next_fire_time() -> None:
    task = cron.register("nightly-build", "t.single", "30 9 * * *")
    before = timezone.now()
    schedules.update(task, ScheduleChange(cron="0 6 * * *", timezone="Asia/Tokyo"))
    upcoming = next_fire_at(task)
    assert upcoming is not None and before - timedelta(minutes=1) < upcoming <= before + timedelta(days=1)
    assert upcoming.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M") == "06:00"
    assert cron.sync_changed() == 0  # a save keeps next_fire_at in step: nothing to resync
    assert cron.fire_due(upcoming + timedelta(seconds=5)) == 1
    assert fired(task) == [upcoming]


@pytest.mark.django_db
def test_at_most_the_per_tick_cap_fire_in_a_tick_and_the_rest_on_the_next() -> None:
    tasks = [cron.register(f"every-minute-{n}", "t.single", "* * * * *") for n in range(5)]
    now = timezone.now() + timedelta(minutes=1)
    assert [cron.fire_due(now, limit=2) for _ in range(4)] == [2, 2, 1, 0]
    assert all(len(fired(task)) == 1 for task in tasks)


@pytest.mark.django_db
def test_the_per_tick_cap_is_a_setting(settings: pytest.FixtureRequest) -> None:
    settings.ENGINE_CRON_FIRINGS_PER_TICK = 3  # type: ignore[attr-defined]
    for n in range(5):
        cron.register(f"every-minute-{n}", "t.single", "* * * * *")
    now = timezone.now() + timedelta(minutes=1)
    assert (cron.fire_due(now), cron.fire_due(now)) == (3, 2)
