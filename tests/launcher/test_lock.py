"""One `make run` per checkout: a second one says so and exits before it touches anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from config.embedded import profile_dir
from config.launcher import LOCK_FILE, hold_lock, lock_holder

ROOT = Path(__file__).resolve().parents[2]


def test_a_lock_held_by_one_descriptor_is_refused_to_another(tmp_path: Path) -> None:
    path = tmp_path / "run" / LOCK_FILE
    first = hold_lock(path)
    assert first is not None
    try:
        assert hold_lock(path) is None
        assert lock_holder(path) == str(os.getpid())
    finally:
        os.close(first)
    again = hold_lock(path)  # released with its descriptor, as when the first make run ends
    assert again is not None
    os.close(again)


def test_a_second_make_run_says_so_and_exits_without_starting_anything() -> None:
    path = profile_dir("run") / LOCK_FILE
    held = hold_lock(path)  # stands for a make run that is running
    assert held is not None, "a make run is running in this checkout; stop it to run this test"
    try:
        second = subprocess.run(
            [sys.executable, "-m", "workers", "up"],
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
                "REDIS_URL": "redis://127.0.0.1:1",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(held)

    assert second.returncode == 1
    assert second.stderr.startswith(f"make run is already running in this checkout (pid {os.getpid()})")
    assert "is up" not in second.stdout
    assert "waiting for the API" not in second.stdout
