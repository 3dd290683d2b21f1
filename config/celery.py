"""The Celery app. It only carries messages that name a step attempt; see sfpserver/engine."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("sfpserver")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["sfpserver.engine"], related_name="celery_tasks")
