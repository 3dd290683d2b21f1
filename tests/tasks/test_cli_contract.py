"""The CLI contract, without workers: how output lines, metrics.log and exit codes become progress and
outcomes, and what the stand-in prints for the command lines the workflows use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tasks.sfp import outcomes
from tasks.sfp.progress import MetricsTail, ProgressTracker, clean, metric_summary
from tasks.sfp.runner import command_name

ROOT = Path(__file__).resolve().parents[2]


def test_install_groups_and_status_lines_become_a_rising_percentage() -> None:
    tracker = ProgressTracker()
    seen = []
    for line in [
        "::group::Installing: 1/2  core",
        "Status: InProgress Progress: 5/10",
        "Status: Succeeded Progress: 10/10",
        "::group::Installing: 2/2  ui",
        "Status: InProgress Progress: 1/4",
        "Status: InProgress Progress: 0/4",
    ]:
        if tracker.feed_line(clean(line)):
            seen.append(tracker.percent)
    assert seen == [25.0, 50.0, 62.5]  # the last line would go backwards: ignored
    assert tracker.message == "ui InProgress 1/4"


def test_build_metrics_count_packages_done_out_of_scheduled(tmp_path: Path) -> None:
    log = tmp_path / "metrics.log"
    events = [
        {"metric": "sfpowerscripts.build.scheduled.packages", "type": "count", "tags": {"package": p}} for p in "abcd"
    ]
    events.append({"metric": "sfpowerscripts.build.succeeded.packages", "type": "count", "tags": {"package": "a"}})
    log.write_text("".join(json.dumps(e) + "\n" for e in events) + '{"metric": "sfpowerscripts.build.dur')
    tail, tracker = MetricsTail(log), ProgressTracker()
    for event in tail.read_new():
        tracker.feed_metric(event)
    assert tracker.percent == 25.0
    assert tail.partial.startswith('{"metric"')  # the half-written line waits for the rest
    assert metric_summary(tail.events) == {"build.scheduled.packages": 4.0, "build.succeeded.packages": 1.0}


def test_exit_codes_are_paired_with_what_the_command_wrote() -> None:
    decide = outcomes.decide
    assert decide("install", 0, ["2 artifacts installed in 00:01 with {0} errors"], None).status == "succeeded"
    assert decide("install", 0, ["1 artifacts installed in 00:01 with {1} errors"], None).status == "failed"
    assert (
        decide("build", 0, [], {"summary": {"failed": 2}}).reason == "2 package(s) failed to build (buildResult.json)"
    )
    assert decide("build", 0, ["No packages found to be built.. Exiting.."], None).status == "nothing_to_do"
    assert decide("pool prepare", 0, ["Pool dev: MaxCapacity"], None).status == "nothing_to_do"
    assert decide("install", 1, ["boom"], None) == outcomes.Outcome("failed", "exit code 1", retryable=True)
    assert decide("install", 2, [], None).retryable is False
    assert (
        decide("install", 1, ["NamedOrgNotFoundError: No authorization information found for x."], None).retryable
        is False
    )
    assert decide("install", -15, [], None).status == "interrupted"


def test_command_names_are_the_leading_words() -> None:
    assert command_name(["validate", "org", "-o", "x"]) == "validate org"
    assert command_name(["install", "-o", "x"]) == "install"
    assert command_name(["org", "login", "url", "-u", "-"]) == "org login"


def standin(tmp_path: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tasks.sfp.standin", *args],
        cwd=tmp_path,
        input=stdin,
        text=True,
        capture_output=True,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), **env},
        check=False,
    )


def test_the_standin_refuses_an_org_that_was_not_logged_in(tmp_path: Path) -> None:
    done = standin(tmp_path, "install", "-o", "nowhere")
    assert done.returncode == 1
    assert "NamedOrgNotFoundError: No authorization information found for nowhere." in done.stdout


def test_the_standin_reads_the_auth_url_from_stdin_and_never_prints_it(tmp_path: Path) -> None:
    url = "force://PlatformCLI::5Aep861secretvalue@acme.my.salesforce.com"
    done = standin(tmp_path, "org", "login", "url", "--url-stdin", "-", "--alias", "acme", stdin=url)
    assert done.returncode == 0
    assert "Successfully authorized acme@acme.my.salesforce.com with org ID 00D" in done.stdout
    assert "secretvalue" not in done.stdout + (tmp_path / ".sfdx" / "standin-orgs.json").read_text()
    bad = standin(tmp_path, "org", "login", "url", "--url-stdin", "-", stdin="https://nope")
    assert bad.returncode == 1 and "Invalid SFDX authorization URL" in bad.stdout


def test_the_standin_fails_while_the_attempt_is_below_fail_attempts(tmp_path: Path) -> None:
    standin(tmp_path, "org", "login", "url", "-u", "-", "-a", "o", stdin="force://a::b@h.example.com")
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "artifacts" / "core_sfpowerscripts_artifact_1.0.0-1.zip").write_bytes(b"")
    simulate = json.dumps({"fail_attempts": 1})
    first = standin(tmp_path, "install", "-o", "o", SFP_STANDIN_SIMULATE=simulate, SFP_STANDIN_ATTEMPT="0")
    second = standin(tmp_path, "install", "-o", "o", SFP_STANDIN_SIMULATE=simulate, SFP_STANDIN_ATTEMPT="1")
    assert (first.returncode, second.returncode) == (1, 0)
    assert "Artifacts failed to install: [core]" in first.stdout
    metrics = [
        json.loads(line) for line in (tmp_path / ".sfpowerscripts" / "logs" / "metrics.log").read_text().splitlines()
    ]
    failed = [m["value"] for m in metrics if m["metric"] == "sfpowerscripts.install.failed.packages"]
    assert failed == [1, 0]
