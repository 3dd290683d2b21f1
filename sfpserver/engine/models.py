"""The engine's records. Every fact about a run lives here; a broker message only names a step attempt."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q


class RunStatus(models.TextChoices):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class StepStatus(models.TextChoices):
    PENDING = "PENDING"  # waiting for its parents (or, for an on-failure step, for a failure)
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class WaitingFor(models.TextChoices):
    """What an unfinished step waits for (engine/waits.py). NULL while it runs and once it has ended."""

    PARENTS = "parents"  # PENDING: its parents (an on-failure step: a failure)
    BACKOFF = "backoff"  # QUEUED: a retry waiting out its backoff until due_at
    GATES = "gates"  # QUEUED: concurrency slots or rate-limit room (gates.py)
    BROKER = "broker"  # QUEUED: due since due_at, with no message on the broker (the sweeper publishes it)
    DELIVERED = "delivered"  # QUEUED: its message went to the broker at due_at; a worker is to claim it
    PAUSED = "paused"  # QUEUED: its workflow is paused; cancelled at due_at (the pause's queue TTL) if still paused
    SLEEP = "sleep"  # QUEUED: an evicted durable task whose wait has only sleeps, until due_at (engine/durable.py)
    EVENT = "event"  # QUEUED: an evicted durable task waiting for events only (due_at: NULL)
    CONDITION = "condition"  # QUEUED: an evicted durable task waiting for sleeps and events (due_at: first sleep)


TERMINAL_STEP_STATUSES = (StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.CANCELLED)
TERMINAL_RUN_STATUSES = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


class StepKind(models.TextChoices):
    TASK = "TASK"
    ON_FAILURE = "ON_FAILURE"
    ON_SUCCESS = "ON_SUCCESS"


class AttemptOutcome(models.TextChoices):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"
    REASSIGNED = "REASSIGNED"
    EVICTED = "EVICTED"  # a durable task left its slot at a wait; not a failure, no retry used


class WorkerStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"
    DEAD = "DEAD"


class WorkflowDefinition(models.Model):
    """The shape of a workflow as its workers registered it, so runs can be triggered by name anywhere."""

    name = models.CharField(max_length=200, primary_key=True)
    spec = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Worker(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=200)
    pool = models.CharField(max_length=100)
    queues = ArrayField(models.CharField(max_length=200), default=list)
    hostname = models.CharField(max_length=200)
    pid = models.IntegerField()
    slots = models.IntegerField()
    labels = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=WorkerStatus.choices, default=WorkerStatus.ACTIVE)
    started_at = models.DateTimeField(auto_now_add=True)
    last_heartbeat = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "last_heartbeat"])]

    def __str__(self) -> str:
        return self.name


class WorkflowRun(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    workflow_name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    additional_metadata = models.JSONField(default=dict, blank=True)
    priority = models.SmallIntegerField(default=1)
    parent_step = models.ForeignKey(
        "StepRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="child_runs"
    )
    child_index = models.IntegerField(null=True, blank=True)
    child_key = models.CharField(max_length=200, null=True, blank=True)
    gated = models.BooleanField(default=False)  # some step waits for concurrency or rate-limit gates (gates.py)
    # The steps that failed for good and were continued past (engine/settling.py), in the order they failed.
    continued_failures = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["finished_at"]),
            # Equality only (no varchar_pattern_ops twin, one index fewer for every trigger to write).
            models.Index(fields=["workflow_name"], name="run_workflow_name"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["parent_step", "child_key"], condition=Q(child_key__isnull=False), name="uniq_child_key"
            ),
            models.UniqueConstraint(
                fields=["parent_step", "child_index"],
                condition=Q(child_key__isnull=True, child_index__isnull=False),
                name="uniq_child_index",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_name} {self.id}"


class StepRun(models.Model):
    """One node of a run's DAG. `attempt` is the fencing token: a message for another attempt is stale."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    # No index of its own: uniq_step_name_per_run (run, name) serves every lookup by run.
    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="steps", db_index=False)
    name = models.CharField(max_length=200)
    action = models.CharField(max_length=300)
    kind = models.CharField(max_length=10, choices=StepKind.choices, default=StepKind.TASK)
    parents = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    pending_parents = models.IntegerField(default=0)  # the join counter of a Postgres-backed chord
    queue = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=StepStatus.choices, default=StepStatus.PENDING)
    priority = models.SmallIntegerField(default=1)
    args = models.JSONField(default=dict, blank=True)
    gates = models.JSONField(default=dict, blank=True)  # evaluated concurrency keys and rate limits
    gated = models.BooleanField(default=False)  # configuration: it passes gates.py before each dispatch
    # Configuration (an extension beyond Hatchet): when it fails for good, its children run anyway instead of
    # being cancelled, and its failure does not fail the run (engine/settling.py: "block or continue").
    continue_on_failure = models.BooleanField(default=False)
    # Hatchet's task conditions {"wait_for"|"skip_if"|"cancel_if": [condition]} (engine/conditions.py), sleeps by
    # `seconds`; `conditional`: it has some, and they decide (engine/durable.py) once its parents are done.
    conditions = models.JSONField(default=dict, blank=True)
    conditional = models.BooleanField(default=False)
    # Retry policy and counters (Hatchet's: retry_count counts every re-run, app retries use the budget).
    attempt = models.IntegerField(default=0)
    app_retry_count = models.IntegerField(default=0)
    # Attempts a durable task ended by leaving its slot at a wait (engine/durable.py): `attempt` stays the fencing
    # token, and the task's retry count is attempt - evictions (an eviction is not a retry).
    evictions = models.IntegerField(default=0)
    internal_retry_count = models.IntegerField(default=0)
    retries = models.IntegerField(default=0)
    backoff_factor = models.FloatField(null=True, blank=True)
    backoff_max_seconds = models.IntegerField(null=True, blank=True)
    execution_timeout = models.FloatField()
    schedule_timeout = models.FloatField()
    # Results.
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    error_type = models.CharField(max_length=200, blank=True, default="")
    # Where and when.
    worker = models.ForeignKey(Worker, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # sha256 of the current attempt's lease secret (lifecycle.claim mints it; only the claiming worker holds it).
    lease_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)  # history: when it last became QUEUED
    # History: when it could first start (after its backoff, or once admitted by its gates); the queue wait of
    # its attempt ends at the claim (Attempt.available_at). Not a wait state: that is waiting_for/due_at.
    available_at = models.DateTimeField(null=True, blank=True)
    # What it waits for now, and when that wait is due (engine/waits.py writes both; NULL: running or ended).
    waiting_for = models.CharField(max_length=10, choices=WaitingFor.choices, null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    schedule_deadline = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    timeout_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="uniq_step_name_per_run")]
        indexes = [
            # Every reader of wait states (engine/waits.py): by wait, then by due time.
            models.Index(fields=["waiting_for", "due_at"], condition=Q(waiting_for__isnull=False), name="step_waiting"),
            models.Index(fields=["timeout_at"], condition=Q(status="RUNNING"), name="step_running_deadline"),
            models.Index(fields=["worker"], condition=Q(status="RUNNING"), name="step_running_worker"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class WaitKind(models.TextChoices):
    """What an entry of a durable task's log records (engine/durable.py)."""

    SLEEP = "sleep"
    EVENT = "event"
    WAIT = "wait"  # aio_wait_for: any conditions
    MEMO = "memo"
    SPAWN = "spawn"
    NOW = "now"
    # A DAG task's conditions (at the fixed indices of durable.CONDITION_INDEX, below every log entry).
    WAIT_FOR = "wait_for"
    SKIP_IF = "skip_if"
    CANCEL_IF = "cancel_if"


class StepWait(models.Model):
    """One entry of a durable task's log, at `index` (0, 1, ...): a wait (sleep, event, conditions), or a
    remembered value (memo, now, a spawn). A replay of the task reads its entries in order (engine/durable.py).

    `conditions` is CNF: a list of conditions, each with its `group` (the groups are ANDed, the conditions of a
    group ORed) and, once it matched, its `hit`. `wake_at` is the earliest deadline of a sleep still open (the
    timer's index); `event_keys` the events it still listens for (the push's GIN index). `satisfied_at` set:
    answered, with `result`."""

    step = models.ForeignKey(StepRun, on_delete=models.CASCADE, related_name="waits")
    index = models.IntegerField()
    kind = models.CharField(max_length=10, choices=WaitKind.choices)
    key = models.CharField(max_length=500)
    conditions = models.JSONField(default=list, blank=True)
    wake_at = models.DateTimeField(null=True, blank=True)
    event_keys = ArrayField(models.CharField(max_length=300), default=list, blank=True)
    created_at = models.DateTimeField()
    satisfied_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["step", "index"], name="uniq_step_wait_index")]
        indexes = [
            models.Index(
                fields=["wake_at"], condition=Q(satisfied_at__isnull=True, wake_at__isnull=False), name="step_wait_due"
            ),
            GinIndex(fields=["event_keys"], condition=Q(satisfied_at__isnull=True), name="step_wait_events"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} #{self.index}"


class Attempt(models.Model):
    """One try of a step: who ran it, when, and how it ended."""

    # No index of its own: uniq_attempt_number (step, number) serves every lookup by step.
    step = models.ForeignKey(StepRun, on_delete=models.CASCADE, related_name="attempts", db_index=False)
    number = models.IntegerField()
    worker = models.ForeignKey(Worker, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    worker_name = models.CharField(max_length=200, blank=True, default="")
    available_at = models.DateTimeField(null=True, blank=True)  # when it could have started: queue wait ends at start
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=AttemptOutcome.choices, default=AttemptOutcome.RUNNING)
    error_type = models.CharField(max_length=200, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["step", "number"], name="uniq_attempt_number")]
        indexes = [models.Index(fields=["started_at"]), models.Index(fields=["finished_at"])]  # windowed metrics
        ordering = ["step", "number"]


class EventKind(models.TextChoices):
    LOG = "LOG"
    STREAM = "STREAM"
    PROGRESS = "PROGRESS"
    STATUS = "STATUS"


class RunEvent(models.Model):
    """Log lines, stream chunks, progress and status changes, in order (`id`)."""

    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="events")
    step = models.ForeignKey(StepRun, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    attempt = models.IntegerField(null=True, blank=True)
    kind = models.CharField(max_length=10, choices=EventKind.choices)
    message = models.TextField(blank=True, default="")
    data = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["run", "id"])]


class ScheduledRun(models.Model):
    """A run to trigger at a given time: a due-time row that the scheduler releases."""

    class Status(models.TextChoices):
        SCHEDULED = "SCHEDULED"
        TRIGGERED = "TRIGGERED"
        CANCELLED = "CANCELLED"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    workflow_name = models.CharField(max_length=200)
    trigger_at = models.DateTimeField()
    input = models.JSONField(null=True, blank=True)
    additional_metadata = models.JSONField(default=dict, blank=True)
    priority = models.SmallIntegerField(null=True, blank=True)
    continue_on_failure = ArrayField(models.CharField(max_length=200), default=list, blank=True)  # settling.py
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    run = models.ForeignKey(WorkflowRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["trigger_at"], condition=Q(status="SCHEDULED"), name="scheduled_due")]


class PauseBehavior(models.TextChoices):
    """What a cron firing or a scheduled run of a paused workflow does (Hatchet's names)."""

    QUEUE = "QUEUE"  # it starts a run, which waits in the paused queue
    DROP = "DROP"  # a cron does not fire; a scheduled run waits, unfired, for the unpause


class WorkflowPause(models.Model):
    """A paused workflow (engine/pause.py): its new runs are created but do not start until it is unpaused, and
    one waiting longer than `queue_ttl_seconds` (from when it was queued) is cancelled."""

    workflow_name = models.CharField(max_length=200, primary_key=True)
    queue_ttl_seconds = models.FloatField()
    cron_behavior = models.CharField(max_length=5, choices=PauseBehavior.choices, default=PauseBehavior.QUEUE)
    scheduled_behavior = models.CharField(max_length=5, choices=PauseBehavior.choices, default=PauseBehavior.QUEUE)
    paused_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.workflow_name} (paused)"


class IdempotencyKey(models.Model):
    """A trigger's idempotency key, held by the run that took it until `expires_at` (a STATUS key: or until
    that run ends). Keys are engine-wide, as Hatchet's are tenant-wide: the primary key makes a second taker wait
    for the first one's commit and then see its row (engine/idempotency.py). No foreign key: the key is taken
    before its run's row is written, in the same transaction."""

    key = models.CharField(max_length=500, primary_key=True)
    run_id = models.UUIDField()
    method = models.CharField(max_length=6)
    expires_at = models.DateTimeField(db_index=True)


class CronFiring(models.Model):
    """One firing of a cron schedule; unique on (schedule, fire time) so nothing fires twice."""

    schedule_name = models.CharField(max_length=200)
    fire_time = models.DateTimeField()
    run_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["schedule_name", "fire_time"], name="uniq_cron_firing")]


class CronNextFire(models.Model):
    """When a cron (a django-celery-beat entry of task `engine.cron`) fires next: the scheduler finds the due
    ones through the index on `next_fire_at` instead of evaluating every cron each tick (engine/cron.py).

    NULL while the entry is disabled or has no crontab. `enabled`, `expression` and `changed_at` are the
    entry as it was when `next_fire_at` was computed, so a change made without a save (a queryset update,
    the admin's bulk enable/disable) is noticed by the scheduler's periodic resync.
    """

    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    next_fire_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField()
    expression = models.CharField(max_length=400, null=True, blank=True)  # "m h dom mon dow tz"
    changed_at = models.DateTimeField(null=True, blank=True)  # the entry's date_changed

    class Meta:
        indexes = [
            models.Index(fields=["next_fire_at"], condition=Q(next_fire_at__isnull=False), name="cron_next_fire_due")
        ]


class EngineState(models.Model):
    """Engine-wide switches, in one row (id 1). While `draining`, no step starts anywhere (engine/drain.py)."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    draining = models.BooleanField(default=False)
    drain_started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="engine_state_single_row")]

    def __str__(self) -> str:
        return "draining" if self.draining else "running"


class SlotState(models.TextChoices):
    WAITING = "WAITING"
    HOLDING = "HOLDING"


class ConcurrencySlot(models.Model):
    """A run's or a step's place under a concurrency key. Workflow-level slots (step NULL) are held for
    the whole run, step-level slots while the step runs. Decided in Postgres (sfpserver/engine/gates.py)."""

    key = models.CharField(max_length=500)
    strategy = models.CharField(max_length=40)
    max_runs = models.IntegerField()
    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="+")
    step = models.ForeignKey(StepRun, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=SlotState.choices, default=SlotState.WAITING)
    is_retry = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["key", "state"])]


class RateLimitBucket(models.Model):
    key = models.CharField(max_length=500, primary_key=True)
    limit = models.IntegerField()
    window_seconds = models.IntegerField()
    updated_at = models.DateTimeField(auto_now=True)


class RateLimitUse(models.Model):
    key = models.CharField(max_length=500)
    units = models.IntegerField()
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["key", "at"])]


class StepBatch(models.Model):
    """One flush of a batch task: the members its function runs with at once (engine/batching.py)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    action = models.CharField(max_length=300)
    key = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.action} [{self.key}]"


class BatchMember(models.Model):
    """A QUEUED step of a batch task: waiting for its batch (`batch` NULL) or given to one, until its attempt ends.
    The batch task's settings are copied from the step's args when it joins."""

    step = models.OneToOneField(StepRun, primary_key=True, on_delete=models.CASCADE, related_name="+")
    attempt = models.IntegerField()
    action = models.CharField(max_length=300)
    key = models.CharField(max_length=500, blank=True, default="")
    queue = models.CharField(max_length=200)
    size = models.IntegerField(default=0)  # bytes of the run's input, for the flush on payload size
    max_size = models.IntegerField()
    interval = models.FloatField(null=True, blank=True)  # seconds; NULL: flushed on size only
    max_runs = models.IntegerField(null=True, blank=True)
    batch = models.ForeignKey(StepBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    joined_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["action", "key", "joined_at"], condition=Q(batch__isnull=True), name="batch_open_members"
            )
        ]
