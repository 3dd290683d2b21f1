#!/bin/sh
# The "sfp CLI" of tests/tasks/test_isolation.py: it tries to read what a CLI must never see and prints, for
# each attempt, `probe <name> <characters read> <what it read>`.
attempt() {
    name=$1
    shift
    got=$("$@" 2>/dev/null | tr '\000\n' '  ')
    echo "probe $name ${#got} $got"
}
attempt parent_environ cat "/proc/$PPID/environ"
attempt worker_environ cat "/proc/$PROBE_WORKER_PID/environ"
attempt worker_memory_maps cat "/proc/$PROBE_WORKER_PID/maps"
attempt supervisor_environ cat "/proc/$PROBE_SUPERVISOR_PID/environ"
attempt vault_keys_variable printenv VAULT_KEYS
attempt database_url_variable printenv DATABASE_URL
attempt secret_key_variable printenv DJANGO_SECRET_KEY
attempt vault_key_file cat "$PROBE_VAULT_KEY_FILE"
attempt sibling_home cat "$PROBE_SIBLING/home/canary"
attempt sibling_private cat "$PROBE_SIBLING/private/canary"
attempt workspaces_listing ls -A "$PROBE_WORK_DIR"
attempt own_environment env
