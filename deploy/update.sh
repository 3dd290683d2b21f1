#!/usr/bin/env bash
# Graceful update: drain → restart on the new image → resume. Nothing in flight is lost or run twice.
#
#   deploy/update.sh [compose|k8s]        (default: compose)
#
#   DRAIN_TIMEOUT  seconds running steps get to finish (default 600). Steps still running then are listed and
#                  the update goes on: the restart stops their workers, and once restarted the scheduler
#                  re-queues those steps on live workers (dead-worker reassignment) — they run again from the
#                  start of their attempt, without using a retry. Set ABORT_ON_TIMEOUT=1 to resume instead.
#   STOP_TIMEOUT   compose only: seconds a container gets to stop before it is killed (default 30).
#   IMAGE          k8s only: the new image (default: the image in the manifests).
#   NAMESPACE      k8s only (default sfp).
#
# While drained, new runs are still accepted and queued; they start after `resume`.
set -euo pipefail

mode=${1:-compose}
here=$(cd "$(dirname "$0")" && pwd)
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-600}
STOP_TIMEOUT=${STOP_TIMEOUT:-30}
NAMESPACE=${NAMESPACE:-sfp}
ABORT_ON_TIMEOUT=${ABORT_ON_TIMEOUT:-0}

say() { printf 'update: %s\n' "$*" >&2; }

compose() { docker compose -f "$here/compose.yaml" "$@"; }
kube() { kubectl -n "$NAMESPACE" "$@"; }

# Runs `manage.py` in the running API (the old code drains, the new code resumes).
manage() {
    case $mode in
        compose) compose exec -T api python manage.py "$@" ;;
        k8s) kube exec deploy/sfp-api -c app -- python manage.py "$@" ;;
    esac
}

drain() {
    say "draining (up to ${DRAIN_TIMEOUT}s): no new step starts; running steps finish"
    local status=0
    manage drain --timeout "$DRAIN_TIMEOUT" || status=$?
    if [ "$status" -eq 3 ]; then
        if [ "$ABORT_ON_TIMEOUT" = 1 ]; then
            say "steps still running: aborting the update and resuming"
            manage resume
            exit 3
        fi
        say "steps still running (listed above): they are re-queued after the restart"
    elif [ "$status" -ne 0 ]; then
        say "drain failed (exit $status); nothing was restarted — run 'python manage.py resume' to undo"
        exit "$status"
    fi
}

restart_compose() {
    say "building the new image"
    compose build
    drain
    say "restarting (migrations first)"
    compose up --detach --timeout "$STOP_TIMEOUT"
    local tries=0
    until compose exec -T api python -c "" 2>/dev/null; do
        tries=$((tries + 1))
        if [ "$tries" -gt 150 ]; then say "the API did not come back; still drained"; exit 1; fi
        sleep 2
    done
}

restart_k8s() {
    local manifests
    manifests=$(kubectl kustomize "$here/k8s")
    if [ -n "${IMAGE:-}" ]; then
        manifests=$(printf '%s\n' "$manifests" | sed "s#image: sfp-server:latest#image: ${IMAGE}#")
    fi
    drain
    say "migrating"
    kube delete job sfp-migrate --ignore-not-found
    printf '%s\n' "$manifests" | kubectl apply -f - --selector app.kubernetes.io/component=migrate
    kube wait --for=condition=complete job/sfp-migrate --timeout=15m
    say "rolling out"
    printf '%s\n' "$manifests" | kubectl apply -f -
    for deployment in sfp-api sfp-standard sfp-long-running sfp-scheduler sfp-flower; do
        kube rollout status "deployment/$deployment" --timeout=30m
    done
}

case $mode in
    compose) restart_compose ;;
    k8s) restart_k8s ;;
    *) say "unknown mode '$mode' (expected compose or k8s)"; exit 2 ;;
esac

say "resuming"
manage resume
say "done"
