"""A worker stops cleanly when a stop signal reaches it twice at once (its process group was signalled and
its supervisor forwarded the signal too): Celery's handler, re-entered, would wait forever on its own lock."""

from __future__ import annotations

from types import FrameType

from sfpserver.engine import worker


def test_a_signal_arriving_while_the_shutdown_handler_runs_is_dropped_and_a_later_one_is_handled() -> None:
    handled: list[int] = []

    def celery_handler(signum: int, frame: FrameType | None) -> None:
        handled.append(signum)
        if len(handled) == 1:
            guarded(signum, frame)  # the second SIGTERM, interrupting the first one's handling

    guarded = worker._non_reentrant(celery_handler)
    guarded(15, None)
    assert handled == [15]

    guarded(2, None)  # once the first is handled, the next signal (a second Ctrl-C: cold shutdown) still counts
    assert handled == [15, 2]
