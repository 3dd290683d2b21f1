"""Org-free operations run the real, pinned sfp CLI against real git repositories."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from sfpserver.engine.models import EventKind, RunEvent
from tasks.sample_repo import SampleRepository
from tests.engine.helpers import steps
from tests.tasks.conftest import output, run

pytestmark = [
    pytest.mark.usefixtures("platform"),
    pytest.mark.skipif(
        not Path(settings.SFP_BIN).exists(),
        reason=f"the sfp CLI is not installed at {settings.SFP_BIN}: run `make install` (npm ci of tasks/sfp/npm)",
    ),
]


def test_impact_analysis_runs_the_real_cli_and_finds_the_changed_package(sample: SampleRepository) -> None:
    finished = run("sfp-impact", {"repository": {"url": sample.url, "ref": "main"}, "base_branch": "main"})

    assert finished.status == "COMPLETED", finished.error
    step = steps(finished.id)["impact"]
    assert output(finished.id, "impact")["impacted"] == ["ui"]
    assert (output(finished.id, "impact")["exit_code"], output(finished.id, "impact")["outcome"]) == (0, "succeeded")
    lines = list(RunEvent.objects.filter(step=step, kind=EventKind.LOG).values_list("message", flat=True))
    assert any("-Version:39.2.2" in line for line in lines)  # the real CLI's banner, not the stand-in's
    assert not any("stand-in" in line for line in lines)


def test_a_release_definition_is_generated_by_the_real_cli_from_the_tags(
    db_access: None, sample: SampleRepository
) -> None:
    finished = run(
        "sfp-release-definition",
        {
            "repository": {"url": sample.url, "ref": "main"},
            "release_name": "sample-1",
            "release_config": "config/release-config.yaml",
        },
    )

    assert finished.status == "COMPLETED", finished.error
    result = output(finished.id, "generate_release_definition")
    assert result["artifacts"] == {"core": "1.0.0-1", "ui": "1.0.0-1"}
    assert result["release_definition"].startswith("release: sample-1\n")
