"""The sfp operations, served by the platform's pools (listed in ENGINE_WORKFLOW_MODULES): importing this
module registers every workflow of tasks/workflows with this process's engine."""

from __future__ import annotations

from sfpserver.hatchet.serve import serve
from tasks.workflows import github, long_running, recurring, standard

WORKFLOWS = [*standard.WORKFLOWS, *long_running.WORKFLOWS, *recurring.WORKFLOWS, *github.WORKFLOWS]

serve(*WORKFLOWS)
