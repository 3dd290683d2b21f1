"""The Celery app. It only carries messages that name a step attempt; see sfpserver/engine."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("sfpserver")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["sfpserver.engine"], related_name="celery_tasks")


@signals.setup_logging.connect(weak=False)
def _keep_the_settings_logging(**_: Any) -> None:
    """settings.LOGGING (applied by django.setup()) is the process's only logging configuration: with a receiver
    here, a worker neither resets the root level to its --loglevel nor adds plain-text handlers of its own."""
