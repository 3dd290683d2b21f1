"""The one settings module. Everything configurable is read from the environment here."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from config import embedded
from config.env import (
    SettingError,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_rate,
    env_secret,
    env_str,
    redis_url_with_db,
)
from config.local_secrets import stored_secret

BASE_DIR = Path(__file__).resolve().parent.parent

# A process given no DATABASE_URL is a local one: it uses the embedded servers `make run` starts and the secrets
# `make run` generated under .local/run/ (the servers' passwords, Flower's login), if it did; its secret key is
# generated there if it is not yet (so `manage.py` works on a fresh checkout without leaving the public default).
LOCAL_RUN = not env_secret("DATABASE_URL")

# API tokens and sessions are keyed by SECRET_KEY. The public default below is refused by the system check
# accounts.E001 unless DEBUG is on: every deployment sets DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE).
INSECURE_SECRET_KEY = "dev-only-insecure-key-change-me"
SECRET_KEY = (
    env_secret("DJANGO_SECRET_KEY")
    or (stored_secret(embedded.profile_dir(embedded.RUN_PROFILE) / embedded.SECRET_KEY_FILE) if LOCAL_RUN else None)
    or INSECURE_SECRET_KEY
)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_celery_beat",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "sfpserver.engine",
    "sfpserver.hatchet",
    "sfpserver.vault",
    "sfpserver.accounts",
    "sfpserver.submissions",
    "sfpserver.api",
    "tasks",
    "sfpserver.live",
    "sfpserver.monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# With no DATABASE_URL / REDIS_URL the embedded servers `make run` starts are assumed (config/embedded.py),
# with the passwords it generated. Both may be given as files (DATABASE_URL_FILE, REDIS_URL_FILE).
DATABASE_URL = env_secret("DATABASE_URL") or embedded.run_database_url()
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True)
}
# The engine's hot statements are prepared once per connection (sfpserver/engine/sql.py); Django's own queries
# never are. Turn off behind a connection pooler that cannot keep prepared statements (PgBouncer < 1.21 in
# transaction mode).
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5 if DB_PREPARED_STATEMENTS else None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
REDIS_URL = env_secret("REDIS_URL") or embedded.run_redis_url()

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = False
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".local" / "static"
SERVE_STATIC = env_bool("SERVE_STATIC", True)  # the ASGI app serves /static/ itself (config/asgi.py)

# --- Celery: the transport. Postgres holds the truth (sfpserver/engine). -------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False  # a lost step is re-queued by the engine, not by the broker
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # a worker waits for the broker however long it is down
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 12 * 3600)}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Task events (three broker messages per step) are off until Flower asks for them: Flower sends `enable_events` to
# the workers it sees every few seconds, and they send events from then on, until they restart.
# CELERY_TASK_EVENTS=true turns them on from the start (another event consumer than Flower).
CELERY_WORKER_SEND_TASK_EVENTS = env_bool("CELERY_TASK_EVENTS", False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Celery's Django fixup closes the database connection before and after every task unless this is set. The
# engine manages its connections itself (close_old_connections before each step, DB_CONN_MAX_AGE), and a new
# connection per step costs ~10 ms; so Celery never recycles them (bench/ shows the difference).
CELERY_DB_REUSE_MAX = 10**9

# Every process but Flower (which reads the broker's kind from this name) talks to Redis through the project's
# transport: a worker survives a broker restart mid-task, and no process builds a Redis client per command
# (config/redis_transport.py).
CELERY_BROKER_TRANSPORT = "config.redis_transport:Transport" if REDIS_URL.startswith("redis://") else None

# --- Worker pools -------------------------------------------------------------------------------------------
WORKER_COUNT = env_int("WORKER_COUNT", 2, minimum=1)
STANDARD_CONCURRENCY = env_int("STANDARD_CONCURRENCY", 2, minimum=1)
LONG_RUNNING_WORKER_COUNT = env_int("LONG_RUNNING_WORKER_COUNT", 1, minimum=1)
LONG_RUNNING_CONCURRENCY = env_int("LONG_RUNNING_CONCURRENCY", 1, minimum=1)
STANDARD_DEFAULT_TIMEOUT = env_float("STANDARD_DEFAULT_TIMEOUT", 60.0, minimum=1)
LONG_RUNNING_DEFAULT_TIMEOUT = env_float("LONG_RUNNING_DEFAULT_TIMEOUT", 4 * 3600.0, minimum=1)

# --- Engine ------------------------------------------------------------------------------------------------
ENGINE_WORKFLOW_MODULES = env_list("ENGINE_WORKFLOW_MODULES", ["tasks.demo", "tasks.operations"])
ENGINE_HEARTBEAT_INTERVAL = env_float("ENGINE_HEARTBEAT_INTERVAL", 1.0, minimum=0.1)
ENGINE_WORKER_DEAD_AFTER = env_float("ENGINE_WORKER_DEAD_AFTER", 6.0, minimum=1)
ENGINE_MAX_REASSIGNMENTS = env_int("ENGINE_MAX_REASSIGNMENTS", 10, minimum=0)
ENGINE_REDISPATCH_AFTER = env_float("ENGINE_REDISPATCH_AFTER", 60.0, minimum=1)
ENGINE_TICK = env_float("ENGINE_TICK", 0.5, minimum=0.05)
ENGINE_CANCEL_GRACE = env_float("ENGINE_CANCEL_GRACE", 1.0, minimum=0)
# A stopped step whose code ignores StepInterrupted this much longer is abandoned and its slot freed.
ENGINE_ABANDON_AFTER = env_float("ENGINE_ABANDON_AFTER", 2.0, minimum=0)
# Seconds a durable task waiting at an unanswered wait keeps its slot before it is evicted (engine/durable.py);
# a task's EvictionPolicy(ttl=...) overrides it. 0: evicted at once.
ENGINE_DURABLE_EVICT_AFTER = env_float("ENGINE_DURABLE_EVICT_AFTER", 0.0, minimum=0)
ENGINE_RETENTION_DAYS = env_int("ENGINE_RETENTION_DAYS", 30, minimum=1)
# Crons fired per scheduler tick at most, oldest due first; the rest fire on the next tick (engine/cron.py).
ENGINE_CRON_FIRINGS_PER_TICK = env_int("ENGINE_CRON_FIRINGS_PER_TICK", 200, minimum=1)
# A step that completes on a worker serving its released child's queue claims that child in the same
# transaction and runs it in the same thread, without a broker round trip (lifecycle.complete). Off: every
# step goes through the broker (strict priority order across a queue, any worker of the pool may take it).
ENGINE_HAND_OFF = env_bool("ENGINE_HAND_OFF", True)
# The claims and completions of a worker process's slot threads share one round trip and one commit
# (engine/groupcommit.py): a sender waits at most ENGINE_GROUP_COMMIT_DELAY seconds (at most 2 ms) for the process's
# other busy slots, none once all of them have asked. Off: each goes alone.
ENGINE_GROUP_COMMIT = env_bool("ENGINE_GROUP_COMMIT", True)
ENGINE_GROUP_COMMIT_DELAY = env_float("ENGINE_GROUP_COMMIT_DELAY", 0.002, minimum=0, maximum=0.002)
# A step the database shows running on a live worker, claimed longer ago than this, that no thread of that worker
# runs (its claim committed but the reply was lost) is re-queued by the worker's heartbeat.
ENGINE_ORPHAN_GRACE = env_float("ENGINE_ORPHAN_GRACE", 10.0, minimum=1)
# When no process holds the leader lock (the scheduler process is gone), a worker process takes the lead within
# about ENGINE_STANDBY_CHECK seconds and hands it back when a scheduler process returns (engine/standby.py).
ENGINE_STANDBY_LEADER = env_bool("ENGINE_STANDBY_LEADER", True)
ENGINE_STANDBY_CHECK = env_float("ENGINE_STANDBY_CHECK", 2.0, minimum=0.1)

# --- Vault: credentials encrypted at rest (sfpserver/vault) ----------------------------------------------
# Comma-separated `keyid:base64key` entries (32-byte AES-256 keys), newest first; every entry decrypts.
# With none configured, a key is generated once into VAULT_LOCAL_KEY_FILE (local use only); production sets
# VAULT_REQUIRE_KEYS=true, which turns a missing key into the system check error vault.E001.
VAULT_KEYS = env_secret("VAULT_KEYS")
VAULT_REQUIRE_KEYS = env_bool("VAULT_REQUIRE_KEYS", False)
VAULT_LOCAL_KEY_FILE = Path(env_str("VAULT_LOCAL_KEY_FILE", str(BASE_DIR / ".local" / "vault.key")))
# Workers lease credentials over HTTP when both are set (VAULT_LEASE_URL: the API's base URL, e.g.
# http://api:8000/sfp/api; VAULT_LEASE_TOKEN: an application-role token); otherwise in-process.
VAULT_LEASE_URL = env_str("VAULT_LEASE_URL")
VAULT_LEASE_TOKEN = env_secret("VAULT_LEASE_TOKEN")
VAULT_LEASE_TIMEOUT = env_float("VAULT_LEASE_TIMEOUT", 10.0, minimum=0.1)
# The API serves POST /sfp/api/internal/leases only when this is on (the deploy files turn it on for the API,
# whose workers lease over HTTP); off, the path answers 404. A lease also needs the attempt's lease secret.
VAULT_LEASE_ENDPOINT = env_bool("VAULT_LEASE_ENDPOINT", False)
# Credential audit rows are deleted after this many days (by the scheduler, with the runs it prunes); kept
# longer than runs (ENGINE_RETENTION_DAYS): the audit is the record of who read or changed which secret.
VAULT_AUDIT_RETENTION_DAYS = env_int("VAULT_AUDIT_RETENTION_DAYS", 365, minimum=1)

# --- REST API (/sfp/api/) -----------------------------------------------------------------------------------
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)  # larger bodies: 413
API_MAX_INPUT_BYTES = env_int("API_MAX_INPUT_BYTES", 256 * 1024, minimum=1)  # a task's data once encoded
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES  # the same limit for anything Django parses itself
# `python -m workers api` runs API_PROCESSES server processes on one port (default: the cores this process may
# run on; in a container set it: the cores there are the host's). Each runs requests' synchronous part on
# API_THREADS long-lived threads ("lanes", config/lanes.py), each keeping one database connection: the API holds
# API_PROCESSES x API_THREADS connections (keep that, with the workers', below Postgres's max_connections).
API_PROCESSES = env_int("API_PROCESSES", len(os.sched_getaffinity(0)), minimum=1)
API_THREADS = env_int("API_THREADS", 2, minimum=1)
API_READY_POOLS = env_list("API_READY_POOLS", ["standard", "long-running"])  # each needs a live worker
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["sfpserver.accounts.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["sfpserver.accounts.permissions.HasCapability"],
    "DEFAULT_PARSER_CLASSES": ["sfpserver.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "sfpserver.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["sfpserver.api.throttling.TokenRateThrottle"],
    "UNAUTHENTICATED_USER": None,
}
# Requests per token (sfpserver/api/throttling.py), counted per fixed window in Redis so that every API process
# shares the count; over the rate: 429 `throttled` with Retry-After. `read`: GET/HEAD/OPTIONS; `write`: any
# other method (triggers, cancels, schedule changes, credentials); `lease`: the workers' credential leases (all
# workers usually share one token). A rate is COUNT/PERIOD with the period s, min, hour or day.
API_THROTTLE_READ_RATE = env_rate("API_THROTTLE_READ_RATE", "600/min")
API_THROTTLE_WRITE_RATE = env_rate("API_THROTTLE_WRITE_RATE", "120/min")
API_THROTTLE_LEASE_RATE = env_rate("API_THROTTLE_LEASE_RATE", "3000/min")
API_THROTTLE_WEBHOOK_RATE = env_rate("API_THROTTLE_WEBHOOK_RATE", "600/min")  # deliveries per incoming webhook
# The counters' Redis: by default REDIS_URL's server, database 1 (the broker uses REDIS_URL's own database).
API_THROTTLE_REDIS_URL = env_str("API_THROTTLE_REDIS_URL", redis_url_with_db(REDIS_URL, 1))
# Recurring tasks one token may have active (not stopped) at once; over it, POST /tasks answers 429 quota_exceeded.
API_MAX_RECURRING_PER_TOKEN = env_int("API_MAX_RECURRING_PER_TOKEN", 50, minimum=0)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": API_THROTTLE_REDIS_URL,
        "KEY_PREFIX": "sfp-throttle",
        # A Redis that does not answer costs a request at most this long (the throttle then lets it through).
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "sfp server task platform API",
    "DESCRIPTION": "Tasks (sfp server's shapes), runs, workers and schedules. Authenticate with "
    '`Authorization: Bearer <token>`; errors answer `{"error": CODE, "detail": ...}`.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/sfp/api",
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "sfpserver.engine.models.RunStatus",
        "StepStatusEnum": "sfpserver.engine.models.StepStatus",
        "WorkerStatusEnum": "sfpserver.engine.models.WorkerStatus",
        "TaskStatusEnum": "sfpserver.api.serializers.tasks.TASK_STATUSES",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "sfpserver.api.schema.add_error_responses",
        "sfpserver.api.task_schema.add_task_types",
    ],
}
# The docs pages load Swagger UI and Redoc from the virtualenv (drf-spectacular-sidecar, pinned): no CDN.
INSTALLED_APPS.append("drf_spectacular_sidecar")
SPECTACULAR_SETTINGS.update(SWAGGER_UI_DIST="SIDECAR", SWAGGER_UI_FAVICON_HREF="SIDECAR", REDOC_DIST="SIDECAR")

# --- sfp operations (tasks/) --------------------------------------------------------------------------------
# Org-bound sfp commands run against the real CLI ("real") or the Salesforce stand-in ("standin",
# tasks/sfp/standin.py), which speaks the CLI's observable contract; org-free commands always run the real CLI.
SFP_CLI = env_str("SFP_CLI", "standin")
if SFP_CLI not in ("standin", "real"):
    raise SettingError(f"SFP_CLI: expected 'standin' or 'real', got {SFP_CLI!r}")
SFP_BIN = env_str("SFP_BIN", str(BASE_DIR / ".local" / "node" / "node_modules" / ".bin" / "sfp"))
SFP_WORK_DIR = Path(env_str("SFP_WORK_DIR", str(BASE_DIR / ".local" / "work")))
SFP_KILL_GRACE = env_float("SFP_KILL_GRACE", 5.0, minimum=0)  # SIGTERM, then SIGKILL the CLI's process group
SFP_STALE_WORKSPACE_HOURS = env_float("SFP_STALE_WORKSPACE_HOURS", 24.0, minimum=0.01)
# file:// repositories are cloned only from under this directory (empty: never); an absolute path.
SFP_FILE_REPOSITORY_ROOT = env_str("SFP_FILE_REPOSITORY_ROOT")
if SFP_FILE_REPOSITORY_ROOT and not Path(SFP_FILE_REPOSITORY_ROOT).is_absolute():
    raise SettingError(f"SFP_FILE_REPOSITORY_ROOT: expected an absolute path, got {SFP_FILE_REPOSITORY_ROOT!r}")
# A worker running as root runs the CLI as one of the slot users SFP_CLI_USER-0, -1, ... (created when missing,
# one per concurrent step on the host, tasks/sfp/sandbox.py); empty keeps the CLI under the worker's own uid.
SFP_CLI_USER = env_str("SFP_CLI_USER", "sfp-cli")
SFP_CLI_USERS_MAX = env_int("SFP_CLI_USERS_MAX", 64, minimum=1)

# --- Live feed (/ws/runs/) and dashboard (/dashboard/), sfpserver/live ----------------------------------------
# The engine's after-commit signals are published to this layer from every process that loads Django apps.
# Redis pub/sub: one PUBLISH per message, fanned out to the sockets inside each API process (the list-based
# RedisChannelLayer pushes one copy per socket through Redis: seconds of lag at a few hundred sockets, see
# bench/ws_lag.py). At most once, which the feed's snapshot-on-connect makes up for.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            # redis-py 8 reads with a 5 s socket timeout by default; a quiet subscriber must not count as dead.
            "hosts": [{"address": REDIS_URL, "socket_connect_timeout": 2, "socket_timeout": 15}],
            "prefix": env_str("LIVE_CHANNEL_PREFIX", "sfp-live"),
        },
    }
}
LIVE_RECENT_EVENTS = env_int("LIVE_RECENT_EVENTS", 200, minimum=0)  # events in a run's snapshot
LIVE_RECENT_RUNS = env_int("LIVE_RECENT_RUNS", 50, minimum=1)  # runs in the all-runs snapshot
LIVE_PUBLISH_BACKLOG = env_int("LIVE_PUBLISH_BACKLOG", 10000, minimum=1)  # unsent messages kept per process
# Seconds between two checks of the tokens of open sockets (one query per API process): a socket whose token
# was revoked or expired is closed (4401) within this.
LIVE_TOKEN_RECHECK_SECONDS = env_float("LIVE_TOKEN_RECHECK_SECONDS", 2.0, minimum=0.1)

# --- Monitoring (sfpserver/monitoring): /metrics for VictoriaMetrics ---------------------------------------
# With METRICS_TOKEN set, /metrics wants `Authorization: Bearer <token>`; without, it is open (keep it off the
# public network). Histograms and "finished" counts cover the attempts and runs of the last window.
METRICS_TOKEN = env_secret("METRICS_TOKEN")
METRICS_WINDOW_SECONDS = env_int("METRICS_WINDOW_SECONDS", 300, minimum=10)

# --- Flower (python -m workers flower, workers/flower.py) ----------------------------------------------------
# Flower does not start without a login: `user:password` entries, comma-separated (Flower's basic auth).
# `make run` generates one into .local/run/flower-auth, which a local process (no DATABASE_URL) reads.
FLOWER_BASIC_AUTH = (
    env_secret("FLOWER_BASIC_AUTH") or (embedded.run_secret(embedded.FLOWER_AUTH_FILE) if LOCAL_RUN else None) or ""
)

# --- Logging: JSON lines (VictoriaLogs) by default, LOG_FORMAT=plain for a terminal ---------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_choice("LOG_FORMAT", "json", ("json", "plain"))
LOGGING_CONFIG = "sfpserver.monitoring.logs.configure"  # dictConfig(LOGGING), and warnings become log records
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "sfpserver.monitoring.logs.JsonFormatter"},
        "plain": {"()": "sfpserver.monitoring.logs.PlainFormatter"},
    },
    "filters": {
        "worker_context": {"()": "sfpserver.monitoring.logs.WorkerContextFilter"},
        # Masks the credentials leased by the attempts running in this process (sfpserver/vault/redaction.py).
        # Every handler must carry it.
        "redact_secrets": {"()": "sfpserver.vault.redaction.RedactingFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["worker_context", "redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own console handler would print a second, plain copy of its records.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "celery": {"level": "WARNING"},
        "kombu": {"level": "WARNING"},
    },
}
