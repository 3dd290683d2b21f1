"""Hatchet's `hatchet_sdk.runnables.contextvars` path: the context variables a task's code may read."""

from __future__ import annotations

from sfpserver.hatchet.contextvars import ActionKey, ctx_action_key, current_context, workflow_spawn_indices

ctx_hatchet_context = current_context

__all__ = ["ActionKey", "ctx_action_key", "ctx_hatchet_context", "workflow_spawn_indices"]
