"""Every hand-written SQL statement of the engine, in one place (as procrastinate keeps its queries.sql).

Each is a named `Statement`; its rows are read by column name (sql.py maps them; callers build typed objects
from them), and its status and wait literals come from the enums and from waits.py. The hot statements (`hot`)
are prepared once per connection and kept with a generic plan (sql.py), so they reach their rows by key: their
status fences are written `coalesce(status, '') = ...` (status is never NULL) so that no such plan can pick a
status index instead. tests/engine/test_hot_plans.py plans every statement here, and checks the hot ones' plans.

A leaf module: it imports nothing of the engine but its models and waits.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sfpserver.engine.models import (
    AttemptOutcome,
    RunStatus,
    StepKind,
    StepRun,
    StepStatus,
    WaitingFor,
    WorkerStatus,
)
from sfpserver.engine.waits import (
    DURABLE,
    PAUSABLE,
    PUBLISH_DUE,
    QUEUED_WAITS,
    REDELIVER_DUE,
    Event,
    queue_state_sql,
    set_sql,
    values_sql,
)


@dataclass(frozen=True)
class Statement:
    name: str
    text: str
    hot: bool = False  # prepared per connection with a generic plan (sql.py): it must go by key
    utility: bool = False  # a command Postgres cannot plan (SET, LOCK): the test runs it instead

    def __str__(self) -> str:
        return self.text


ALL: list[Statement] = []


def _statement(name: str, text: str, *, hot: bool = False, utility: bool = False) -> Statement:
    statement = Statement(name, text, hot, utility)
    ALL.append(statement)
    return statement


def _lit(value: str) -> str:
    """An enum member as an SQL literal."""
    return f"'{getattr(value, 'value', value)}'"


PENDING, QUEUED, RUNNING = _lit(StepStatus.PENDING), _lit(StepStatus.QUEUED), _lit(StepStatus.RUNNING)
COMPLETED, FAILED, CANCELLED = _lit(StepStatus.COMPLETED), _lit(StepStatus.FAILED), _lit(StepStatus.CANCELLED)
ENDED = f"({COMPLETED}, {FAILED}, {CANCELLED})"
RUN_QUEUED, RUN_RUNNING = _lit(RunStatus.QUEUED), _lit(RunStatus.RUNNING)
RUN_ENDED = f"({_lit(RunStatus.COMPLETED)}, {_lit(RunStatus.FAILED)}, {_lit(RunStatus.CANCELLED)})"
ON_FAILURE = _lit(StepKind.ON_FAILURE)
SKIPPED_OUTPUT = {"skipped": True}
SKIPPED_JSON = json.dumps(SKIPPED_OUTPUT)

# --- drain ----------------------------------------------------------------------------------------------------

# True when a step of `engine_steprun` may start now (engine/drain.py): no drain is on, or its run is a child of a
# running step, which waits for it. Used inside the claim and the sweeper's queries.
STEP_MAY_START = f"""(
    NOT EXISTS (SELECT 1 FROM engine_enginestate WHERE draining)
    OR EXISTS (SELECT 1 FROM engine_workflowrun child_run
                 JOIN engine_steprun parent_step ON parent_step.id = child_run.parent_step_id
                WHERE child_run.id = engine_steprun.run_id AND coalesce(parent_step.status, '') = {RUNNING})
)"""

PUSH_BACK = _statement(
    "push back",
    f"""
UPDATE engine_steprun SET {set_sql(Event.UNDELIVERED)}
 WHERE id = %(step)s AND attempt = %(attempt)s AND coalesce(status, '') = {QUEUED} AND NOT {STEP_MAY_START}
""",
)

EXTEND_DEADLINES = _statement(
    "extend schedule deadlines",
    f"""
UPDATE engine_steprun
   SET schedule_deadline = schedule_deadline
       + greatest(now() - greatest(%(since)s, coalesce(available_at, queued_at)), interval '0')
 WHERE {QUEUED_WAITS.sql()} AND schedule_deadline IS NOT NULL
""",
)

BARRIER_LOCK_TIMEOUT = _statement("barrier lock timeout", "SET LOCAL lock_timeout = '30s'", utility=True)
BARRIER = _statement("barrier", "LOCK TABLE engine_steprun IN SHARE MODE", utility=True)

# --- lifecycle ------------------------------------------------------------------------------------------------


PAUSED_WAIT = _lit(WaitingFor.PAUSED)


def _claim(which: str, *, wanted: str = "", lease: str = "%(lease_hash)s", runs: str = "=") -> str:
    """The claim: compare-and-set QUEUED -> RUNNING of the step `which` picks (not while its workflow's pause
    holds it: a message published before the pause finds it so), its attempt's row, the run
    marked RUNNING, and everything the step's code needs (input, metadata, its parents' outputs). For several
    steps at once: `wanted` the FROM of the (step, attempt, lease hash) rows, `lease` the hash's column, `runs`
    "IN" (their runs)."""
    return f"""
WITH s AS (
    UPDATE engine_steprun
       SET status = {RUNNING}, worker_id = %(worker)s, started_at = clock_timestamp(), lease_hash = {lease},
           timeout_at = clock_timestamp() + make_interval(secs => execution_timeout), {set_sql(Event.STARTED)}
      {wanted}
     WHERE {which} AND coalesce(status, '') = {QUEUED} AND coalesce(waiting_for, '') <> {PAUSED_WAIT}
       AND {STEP_MAY_START}
 RETURNING id, run_id, name, action, parents, args, attempt, retries, timeout_at, available_at, started_at,
           evictions
), a AS (
    INSERT INTO engine_attempt (step_id, number, worker_id, worker_name, available_at, started_at, outcome,
                                error_type, error_message, traceback)
    SELECT id, attempt, %(worker)s, %(worker_name)s, available_at, started_at, {RUNNING}, '', '', '' FROM s
), r AS (
    UPDATE engine_workflowrun SET status = {RUN_RUNNING}, started_at = coalesce(started_at, now())
     WHERE id {runs} (SELECT run_id FROM s) AND coalesce(status, '') = {RUN_QUEUED}
)
SELECT s.id, s.run_id, s.name, s.action, s.attempt, s.evictions, s.retries, s.args, s.timeout_at,
       wr.workflow_name, wr.input, wr.additional_metadata, wr.priority, wr.parent_step_id,
       (SELECT coalesce(jsonb_object_agg(p.name, p.output), '{{}}'::jsonb)
          FROM engine_steprun p WHERE p.run_id = s.run_id AND p.name = ANY(s.parents)) AS parent_outputs,
       wr.gated AS run_gated,
       (SELECT count(*) FROM (SELECT 1 FROM engine_steprun g WHERE g.run_id = s.run_id LIMIT 2) one_or_more)
           AS run_steps
  FROM s JOIN engine_workflowrun wr ON wr.id = s.run_id
"""


CLAIM = _statement("claim", _claim("id = %(step)s AND attempt = %(attempt)s"), hot=True)

# The claims of several slot threads of one worker process in one statement (engine/groupcommit.py merges them):
# the same compare-and-set for each (step, attempt) of %(steps)s/%(attempts)s, each with its own lease hash. The
# steps are distinct: the group commit answers a duplicate of a (step, attempt) as a stale claim.
CLAIM_MANY = _statement(
    "claim several",
    _claim(
        "id = wanted.want_step AND attempt = wanted.want_attempt",
        wanted="FROM unnest(%(steps)s::uuid[], %(attempts)s::integer[], %(lease_hashes)s::text[])"
        " AS wanted (want_step, want_attempt, want_lease)",
        lease="wanted.want_lease",
        runs="IN",
    ),
    hot=True,
)

# The hand-off: in the transaction that completes step %(parent)s, the child it released (delivered at the
# transaction's now()) on one of the worker's queues, highest priority first. Gated children wait for gates.py.
# Its wait test is written with coalesce too, so that no generic plan takes the wait index (step_waiting).
HAND_OFF = _statement(
    "hand-off",
    _claim(f"""id = (
    SELECT child.id FROM engine_steprun child
     WHERE child.run_id = (SELECT run_id FROM engine_steprun WHERE id = %(parent)s)
       AND coalesce(child.status, '') = {QUEUED}
       AND coalesce(child.waiting_for, '') = {_lit(WaitingFor.DELIVERED)} AND child.due_at = now()
       AND child.queue = ANY(%(queues)s)
       AND (SELECT name FROM engine_steprun WHERE id = %(parent)s) = ANY(child.parents)
     ORDER BY child.priority DESC, child.id
     LIMIT 1)"""),
    hot=True,
)

# --- trigger (engine/trigger.py) -------------------------------------------------------------------------------

# A trigger of runs without gates, conditions, idempotency keys or spawn keys, in one statement (one round trip,
# its own transaction): the runs and their steps, given as JSON rows by column name (sql.json_rows). The queued
# steps of a paused workflow's runs wait for the unpause at once (as engine/pause.py holds them), at most the
# pause's queue TTL from when they were queued; it returns their ids, which get no message.
_PAUSE_HOLDS = {
    "waiting_for": f"CASE WHEN p.workflow_name IS NULL THEN s.waiting_for ELSE {PAUSED_WAIT} END",
    "due_at": "CASE WHEN p.workflow_name IS NULL THEN s.due_at "
    "ELSE s.queued_at + make_interval(secs => p.queue_ttl_seconds) END",
    "available_at": "CASE WHEN p.workflow_name IS NULL THEN s.available_at END",
}
_STEP_COLUMNS = [field.column for field in StepRun._meta.concrete_fields]
START_RUNS = _statement(
    "start runs",
    f"""
WITH r AS (
    INSERT INTO engine_workflowrun SELECT * FROM jsonb_populate_recordset(NULL::engine_workflowrun, %(run_rows)s)
), s AS (
    INSERT INTO engine_steprun ({", ".join(_STEP_COLUMNS)})
    SELECT {", ".join(_PAUSE_HOLDS.get(column, f"s.{column}") for column in _STEP_COLUMNS)}
      FROM jsonb_populate_recordset(NULL::engine_steprun, %(step_rows)s) s
      JOIN jsonb_populate_recordset(NULL::engine_workflowrun, %(run_rows)s) run ON run.id = s.run_id
      LEFT JOIN engine_workflowpause p
        ON p.workflow_name = run.workflow_name AND s.status = {QUEUED} AND NOT s.gated AND NOT s.conditional
 RETURNING id, waiting_for
)
SELECT s.id FROM s WHERE s.waiting_for = {PAUSED_WAIT}
""",
    hot=True,
)

# Every completion: lock the run (every transition of a run locks it first), fence and complete the step, end
# its attempt. The statements below add what follows from it.
_COMPLETE_STEP = f"""
WITH r AS (
    SELECT id FROM engine_workflowrun
     WHERE id = (SELECT run_id FROM engine_steprun WHERE id = %(step)s)
       FOR UPDATE
), s AS (
    UPDATE engine_steprun
       SET status = {COMPLETED}, output = %(output)s::jsonb, finished_at = %(now)s, error = '', error_type = ''
     WHERE id = %(step)s AND attempt = %(attempt)s AND coalesce(status, '') = {RUNNING}
       AND run_id = (SELECT id FROM r)
 RETURNING id, run_id, name, gated, output
), a AS (
    UPDATE engine_attempt SET outcome = {COMPLETED}, finished_at = %(now)s
     WHERE step_id = (SELECT id FROM s) AND number = %(attempt)s
)"""

# ... and count down the join of each child, releasing those it completes (the Postgres-backed chord). A released
# gated child waits for its gates; one with conditions waits for them (durable.register_conditions); any other is
# published after commit (or handed off).
_RELEASED_WAIT, _RELEASED_DUE = values_sql(Event.QUEUED)
_COUNT_DOWN = f""", c AS (
    UPDATE engine_steprun
       SET pending_parents = pending_parents - 1,
           status = CASE WHEN pending_parents = 1 THEN {QUEUED} ELSE status END,
           queued_at = CASE WHEN pending_parents = 1 THEN now() ELSE queued_at END,
           available_at = CASE WHEN pending_parents = 1 AND NOT gated THEN now() ELSE available_at END,
           waiting_for = CASE WHEN pending_parents = 1 AND conditional THEN {_lit(WaitingFor.CONDITION)}
                              WHEN pending_parents = 1 THEN {_RELEASED_WAIT} ELSE waiting_for END,
           due_at = CASE WHEN pending_parents = 1 AND conditional THEN NULL
                         WHEN pending_parents = 1 THEN {_RELEASED_DUE} ELSE due_at END,
           schedule_deadline = CASE WHEN pending_parents = 1
                                    THEN now() + make_interval(secs => schedule_timeout) ELSE schedule_deadline END
     WHERE run_id = (SELECT run_id FROM s) AND status = {PENDING} AND kind <> {ON_FAILURE}
       AND (SELECT name FROM s) = ANY(parents)
 RETURNING id, attempt, queue, status, gated, priority, conditional
)"""
COMPLETE = _statement(
    "complete",
    _COMPLETE_STEP
    + _COUNT_DOWN
    + """
SELECT s.run_id, s.id AS step_id, s.gated AS step_gated, c.id AS child_id, c.attempt AS child_attempt,
       c.queue AS child_queue, c.status AS child_status, c.gated AS child_gated, c.priority AS child_priority,
       c.conditional AS child_conditional
  FROM s LEFT JOIN c ON true
""",
    hot=True,
)

# A step configured to continue on failure failed for good (engine/settling.py): count down its children's joins
# as a completion does (its run is locked by the caller, in the same transaction).
CONTINUE_PAST = _statement(
    "continue past a failed step",
    """
WITH s AS (SELECT run_id, name FROM engine_steprun WHERE id = %(step)s)"""
    + _COUNT_DOWN
    + """
SELECT c.id AS child_id, c.attempt AS child_attempt, c.queue AS child_queue, c.status AS child_status,
       c.gated AS child_gated, c.priority AS child_priority, c.conditional AS child_conditional
  FROM c
""",
)

# ... or, for a run of one step (a standalone task, the commonest run), which no other step can settle: settle it.
COMPLETE_ALONE = _statement(
    "complete a one-step run",
    _COMPLETE_STEP
    + f""", settled AS (
    UPDATE engine_workflowrun
       SET status = {_lit(RunStatus.COMPLETED)}, error = '', finished_at = %(now)s,
           output = (SELECT jsonb_build_object(name, output) FROM s)
     WHERE id = (SELECT run_id FROM s) AND status NOT IN {RUN_ENDED}
)
SELECT run_id, id AS step_id FROM s
""",
    hot=True,
)


def _settle(run: str) -> str:
    """Settle run `run` (an SQL expression) when no step of it can still run, by Hatchet's rules (§1.23, and
    settling.settled_status, their mirror in Python): FAILED if a step failed (unless it was configured to be
    continued past), else CANCELLED if one was cancelled, else COMPLETED; an on-failure step still waiting is
    skipped; the output holds every completed step's output by name. Returns (settled, gated: the run has gated steps).

    Most calls find a step still open, and stop at the first one: a completion in a fan-out of n steps reads one
    row, not n (the run's steps are read whole only to settle it).
    """
    return f"""
WITH open AS (
    SELECT 1 FROM engine_steprun
     WHERE run_id = {run} AND status NOT IN {ENDED}
       AND NOT (kind = {ON_FAILURE} AND status = {PENDING})
     LIMIT 1
), st AS (
    SELECT id, name, status, error, output, gated, kind = {ON_FAILURE} AND status = {PENDING} AS unneeded,
           status = {FAILED} AND NOT continue_on_failure AS blocking
      FROM engine_steprun WHERE run_id = {run} AND NOT EXISTS (SELECT 1 FROM open)
), ending AS (
    SELECT CASE WHEN bool_or(blocking) THEN {FAILED}
                WHEN bool_or(status = {CANCELLED}) THEN {CANCELLED} ELSE {COMPLETED} END AS status,
           coalesce(string_agg(name || ': ' || error, E'\\n' ORDER BY name) FILTER (WHERE blocking), '') AS error,
           coalesce(jsonb_object_agg(name, CASE WHEN unneeded THEN '{SKIPPED_JSON}'::jsonb ELSE output END)
                        FILTER (WHERE status = {COMPLETED} OR unneeded), '{{}}'::jsonb) AS output
      FROM st
    HAVING bool_and(status IN {ENDED} OR unneeded)
), settled AS (
    UPDATE engine_workflowrun wr
       SET status = ending.status, error = ending.error, output = ending.output, finished_at = %(now)s
      FROM ending
     WHERE wr.id = {run} AND wr.status NOT IN {RUN_ENDED}
 RETURNING wr.id
), skipped AS (
    UPDATE engine_steprun SET status = {COMPLETED}, output = '{SKIPPED_JSON}'::jsonb, finished_at = %(now)s,
           {set_sql(Event.ENDED)}
     WHERE id IN (SELECT id FROM st WHERE unneeded) AND EXISTS (SELECT 1 FROM settled)
)
SELECT EXISTS (SELECT 1 FROM settled) AS settled, coalesce(bool_or(gated), false) AS gated FROM st
"""


SETTLE_RUN = _statement("settle a run", _settle("%(run)s"), hot=True)
SETTLE_STEP_RUN = _statement(
    "settle after a completion", _settle("(SELECT run_id FROM engine_steprun WHERE id = %(step)s)"), hot=True
)

# --- dispatch: the sweeper ------------------------------------------------------------------------------------

# Publish the due steps that have no message, and (the sweeper) those whose message went out before %(before)s
# (default: %(after)s seconds ago) and never started. While a drain is on, only the steps that running steps wait
# for are released (engine/drain.py).
_REDELIVER_BY = "coalesce(%(before)s, now() - make_interval(secs => %(after)s))"
RELEASE_DUE = _statement(
    "release due steps",
    f"""
UPDATE engine_steprun SET {set_sql(Event.ADMITTED)}
 WHERE id IN (SELECT id FROM engine_steprun
               WHERE ({PUBLISH_DUE.sql()} OR {REDELIVER_DUE.sql(due_by=_REDELIVER_BY)})
                 AND {STEP_MAY_START}
               ORDER BY due_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
RETURNING id, attempt, queue, priority
""",
)

# --- gates, scheduler, standby: locks and clocks --------------------------------------------------------------

KEY_LOCK = _statement("lock a gate key", "SELECT pg_advisory_xact_lock(hashtext(%(key)s))")
TRY_LOCK = _statement("try the leader lock", "SELECT pg_try_advisory_lock(%(lock_key)s) AS locked")
TRY_LOCK_SHARED = _statement("try a shared lock", "SELECT pg_try_advisory_lock_shared(%(lock_key)s) AS locked")
ALIVE = _statement("connection alive", "SELECT 1 AS alive")
NOW = _statement("database time", "SELECT now() AS now")
LOCK_HELD = _statement(
    "advisory lock held",
    """
SELECT EXISTS (SELECT 1 FROM pg_locks
                WHERE locktype = 'advisory' AND granted AND classid = 0 AND objid = %(lock_key)s AND objsubid = 1
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS held
""",
)

# --- workflow pause (engine/pause.py) --------------------------------------------------------------------------

# A pause holds the queued steps of the workflow's unfinished runs that no worker claimed yet (PAUSABLE): each waits
# for the unpause, at most %(ttl)s seconds from when it was queued (Hatchet counts from the task's creation).
HOLD_FOR_PAUSE = _statement(
    "hold a paused workflow's queued steps",
    f"""
UPDATE engine_steprun s
   SET waiting_for = {PAUSED_WAIT}, due_at = coalesce(s.queued_at, now()) + make_interval(secs => %(ttl)s)
  FROM engine_workflowrun r
 WHERE r.id = s.run_id AND r.workflow_name = %(workflow)s AND r.status IN ({RUN_QUEUED}, {RUN_RUNNING})
   AND coalesce(s.status, '') = {QUEUED} AND {PAUSABLE.sql("s")}
RETURNING s.id
""",
)

# --- idempotency keys (engine/idempotency.py) ------------------------------------------------------------------

# Take key %(key)s for run %(run)s, unless another run holds it: within its expiry, and (a STATUS key) while its
# run has not ended. The primary key serialises concurrent takers: the second waits for the first to commit, then
# finds its row. The holder's run must be seen ended (its row may be newer than this statement's snapshot, when the
# holder committed while we waited: then it is held; a run pruned away holds its key until the fallback TTL).
# No row returned: the key is held (read its holder with a statement of its own, whose snapshot sees the row the
# wait was for).
TAKE_IDEMPOTENCY_KEY = _statement(
    "take an idempotency key",
    f"""
INSERT INTO engine_idempotencykey AS k (key, run_id, method, expires_at)
VALUES (%(key)s, %(run)s, %(method)s, now() + make_interval(secs => %(ttl)s))
ON CONFLICT (key) DO UPDATE
   SET run_id = EXCLUDED.run_id, method = EXCLUDED.method, expires_at = EXCLUDED.expires_at
 WHERE k.expires_at <= now()
    OR (k.method = 'STATUS' AND EXISTS (
            SELECT 1 FROM engine_workflowrun r WHERE r.id = k.run_id AND r.status IN {RUN_ENDED}))
RETURNING run_id
""",
)
IDEMPOTENCY_KEY_HOLDER = _statement(
    "the holder of an idempotency key", "SELECT run_id FROM engine_idempotencykey WHERE key = %(key)s"
)

# --- cron -----------------------------------------------------------------------------------------------------

# The due crons, oldest first, through the partial index on next_fire_at (cron_next_fire_due).
DUE_CRONS = _statement(
    "due crons",
    """
SELECT periodic_task_id, next_fire_at FROM engine_cronnextfire
 WHERE next_fire_at <= %(now)s
 ORDER BY next_fire_at LIMIT %(batch)s
""",
)

# The engine crons whose next_fire_at is missing or was computed from another version of the entry.
CHANGED_CRONS = _statement(
    "changed crons",
    """
SELECT p.id FROM django_celery_beat_periodictask p
  LEFT JOIN django_celery_beat_crontabschedule c ON c.id = p.crontab_id
  LEFT JOIN engine_cronnextfire s ON s.periodic_task_id = p.id
 WHERE p.task = %(task)s
   AND (s.periodic_task_id IS NULL OR s.enabled <> p.enabled OR s.changed_at IS DISTINCT FROM p.date_changed
        OR s.expression IS DISTINCT FROM
           concat_ws(' ', c.minute, c.hour, c.day_of_month, c.month_of_year, c.day_of_week, c.timezone))
""",
)

# --- monitoring -----------------------------------------------------------------------------------------------

QUEUE_DEPTH = _statement(
    "queue depth",
    f"""
SELECT queue, {queue_state_sql()} AS state, count(*) AS steps FROM engine_steprun
 WHERE {QUEUED_WAITS.sql()} GROUP BY 1, 2
""",
)

# Durable tasks evicted at a wait, per queue and what they wait on (sleep, event, condition), through the wait index.
DURABLE_WAITING = _statement(
    "durable waiting",
    f"""
SELECT queue, waiting_for AS waiting_on, count(*) AS steps, min(due_at) AS next_due FROM engine_steprun
 WHERE {DURABLE.sql()} GROUP BY 1, 2
""",
)

# /metrics (sfpserver/monitoring/collectors.py, through services.reads). Each is bounded: it reads the non-terminal
# rows through the partial indexes, the small worker table, or the rows of the last %(window)s seconds through the
# indexes on Attempt.started_at / finished_at, WorkflowRun.finished_at and Worker.last_heartbeat.
WORKER_ACTIVE, WORKER_PAUSED = _lit(WorkerStatus.ACTIVE), _lit(WorkerStatus.PAUSED)
WORKER_GONE = f"({_lit(WorkerStatus.DEAD)}, {_lit(WorkerStatus.STOPPED)})"
RETRIED_OUTCOMES = f"({_lit(AttemptOutcome.FAILED)}, {_lit(AttemptOutcome.TIMED_OUT)})"
WINDOW = "now() - make_interval(secs => %(window)s)"
STEP_DURATION_BOUNDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)
QUEUE_WAIT_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


def _buckets(expression: str, bounds: tuple[float, ...]) -> str:
    """The cumulative bucket counts of a histogram (`expression` <= each bound), as one array."""
    return "ARRAY[" + ", ".join(f"count(*) FILTER (WHERE {expression} <= {float(b)!r})" for b in bounds) + "]"


ENGINE_DRAIN = _statement(
    "drain state",
    "SELECT draining, extract(epoch FROM now() - drain_started_at) AS drain_seconds FROM engine_enginestate",
)

LIVE_WORKERS = _statement(
    "live workers",
    f"""
SELECT name, pool, status, queues, slots, extract(epoch FROM now() - last_heartbeat) AS heartbeat_age
  FROM engine_worker WHERE status IN ({WORKER_ACTIVE}, {WORKER_PAUSED})
""",
)

WORKERS_GONE = _statement(
    "workers gone within the window",
    f"""
SELECT pool, status, count(*) AS workers FROM engine_worker
 WHERE status IN {WORKER_GONE} AND last_heartbeat >= {WINDOW} GROUP BY 1, 2
""",
)

BUSY_BY_POOL = _statement(
    "running steps by pool",
    f"""
SELECT w.pool, count(*) AS steps FROM engine_steprun s JOIN engine_worker w ON w.id = s.worker_id
 WHERE s.status = {RUNNING} GROUP BY 1
""",
)

RUNNING_BY_QUEUE = _statement(
    "running steps by queue",
    f"SELECT queue, count(*) AS steps FROM engine_steprun WHERE status = {RUNNING} GROUP BY 1",
)

PENDING_BY_QUEUE = _statement(
    "pending steps by queue",
    f"""
SELECT s.queue, count(*) AS steps FROM engine_workflowrun r JOIN engine_steprun s ON s.run_id = r.id
 WHERE r.status IN ({RUN_QUEUED}, {RUN_RUNNING}) AND s.status = {PENDING} GROUP BY 1
""",
)

UNFINISHED_RUNS = _statement(
    "unfinished runs by workflow",
    f"""
SELECT workflow_name AS workflow, status, count(*) AS runs FROM engine_workflowrun
 WHERE status IN ({RUN_QUEUED}, {RUN_RUNNING}) GROUP BY 1, 2
""",
)

RUNS_FINISHED = _statement(
    "runs finished within the window",
    f"""
SELECT workflow_name AS workflow, status, count(*) AS runs FROM engine_workflowrun
 WHERE finished_at >= {WINDOW} GROUP BY 1, 2
""",
)

# An attempt's labels: its run's workflow and the pool of its worker (the step's queue when it had none).
_ATTEMPT_LABELS = """
  JOIN engine_steprun s ON s.id = a.step_id
  JOIN engine_workflowrun r ON r.id = s.run_id
  LEFT JOIN engine_worker w ON w.id = a.worker_id"""

# The attempts that ended within the window, per workflow, pool and outcome: how many, their run time in seconds
# (sum) and its cumulative histogram over STEP_DURATION_BOUNDS.
ATTEMPTS_FINISHED = _statement(
    "attempts finished within the window",
    f"""
WITH a AS (
    SELECT r.workflow_name AS workflow, coalesce(w.pool, s.queue) AS pool, a.outcome,
           extract(epoch FROM a.finished_at - a.started_at)::float8 AS seconds
      FROM engine_attempt a {_ATTEMPT_LABELS}
     WHERE a.finished_at >= {WINDOW})
SELECT workflow, pool, outcome, count(*) AS attempts, coalesce(sum(seconds), 0) AS seconds,
       {_buckets("seconds", STEP_DURATION_BOUNDS)} AS buckets
  FROM a GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
""",
)

# The attempts that started within the window, per workflow and pool: how many retry a failed or timed-out
# attempt, and their queue wait (from available_at to started_at) as a count, a sum and a cumulative histogram over
# QUEUE_WAIT_BOUNDS.
ATTEMPTS_STARTED = _statement(
    "attempts started within the window",
    f"""
WITH a AS (
    SELECT r.workflow_name AS workflow, coalesce(w.pool, s.queue) AS pool, previous.outcome AS previous,
           greatest(extract(epoch FROM a.started_at - a.available_at), 0)::float8 AS seconds
      FROM engine_attempt a {_ATTEMPT_LABELS}
      LEFT JOIN engine_attempt previous ON previous.step_id = a.step_id AND previous.number = a.number - 1
     WHERE a.started_at >= {WINDOW})
SELECT workflow, pool, count(*) FILTER (WHERE previous IN {RETRIED_OUTCOMES}) AS retries,
       count(seconds) AS attempts, coalesce(sum(seconds), 0) AS seconds,
       {_buckets("seconds", QUEUE_WAIT_BOUNDS)} AS buckets
  FROM a GROUP BY 1, 2 ORDER BY 1, 2
""",
)

# --- affinity: routing a step to a worker (engine/affinity.py) ------------------------------------------------

# Per routed step: its affinity and the worker of its run's first attempt (a sticky run's worker).
ROUTING_FACTS = _statement(
    "routing facts of steps",
    """
SELECT s.id, s.run_id, s.args -> 'affinity' AS affinity,
       (SELECT a.worker_id FROM engine_steprun o JOIN engine_attempt a ON a.step_id = o.id
         WHERE o.run_id = s.run_id AND a.worker_id IS NOT NULL
         ORDER BY a.started_at, a.id LIMIT 1) AS first_worker
  FROM engine_steprun s
 WHERE s.id = ANY(%(steps)s::uuid[])
""",
)

# The workers a routed step may go to: active, heartbeat fresh (within %(after)s seconds), consuming a queue named.
ROUTABLE_WORKERS = _statement(
    "routable workers",
    f"""
SELECT id, labels, queues FROM engine_worker
 WHERE status = {_lit(WorkerStatus.ACTIVE)}
   AND last_heartbeat > now() - make_interval(secs => %(after)s)
   AND queues && %(queues)s::varchar[]
""",
)

# --- batch tasks: members join their groups (engine/batching.py) ----------------------------------------------

# Queued steps of batch tasks join their group (action, key) as open members; a member re-queued since its last
# batch (a new attempt) joins afresh, while the same attempt published again (the sweeper) keeps its place and its
# batch. A step whose group key could not be evaluated is a group of its own, flushed at once.
JOIN_BATCH = _statement(
    "join batches",
    f"""
INSERT INTO engine_batchmember (step_id, attempt, action, key, queue, size, max_size, interval, max_runs, batch_id,
                                joined_at)
SELECT s.id, s.attempt, s.action, coalesce(s.args -> 'batch' ->> 'key', CASE WHEN s.args -> 'batch' ? 'key_error'
       THEN '!' || s.id::text ELSE '' END), s.queue, octet_length(coalesce(r.input::text, '')),
       CASE WHEN s.args -> 'batch' ? 'key_error' THEN 1 ELSE (s.args -> 'batch' ->> 'max_size')::integer END,
       CASE WHEN s.args -> 'batch' ? 'key_error' THEN 0 ELSE (s.args -> 'batch' ->> 'interval')::float8 END,
       (s.args -> 'batch' ->> 'max_runs')::integer, NULL, now()
  FROM engine_steprun s JOIN engine_workflowrun r ON r.id = s.run_id
 WHERE s.id = ANY(%(steps)s::uuid[]) AND coalesce(s.status, '') = {QUEUED}
    ON CONFLICT (step_id) DO UPDATE
   SET batch_id = CASE WHEN engine_batchmember.attempt = EXCLUDED.attempt THEN engine_batchmember.batch_id END,
       joined_at = CASE WHEN engine_batchmember.attempt = EXCLUDED.attempt THEN engine_batchmember.joined_at
                        ELSE EXCLUDED.joined_at END,
       attempt = EXCLUDED.attempt
RETURNING action, key, batch_id, queue
""",
)
