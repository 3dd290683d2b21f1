"""What the figures were measured on."""

from __future__ import annotations

import os
import platform
from importlib.metadata import version
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def postgres_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        row = cursor.fetchone()
    return str(row[0]) if row else "?"


def redis_version() -> str:
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return str(client.info("server")["redis_version"])
    finally:
        client.close()


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def describe() -> list[str]:
    return [
        f"machine   {os.cpu_count()} cores ({cpu_model()}), {platform.system()} {platform.release()}, "
        f"load average {load_average()} at start",
        f"versions  Python {platform.python_version()}, Celery {version('celery')}, "
        f"PostgreSQL {postgres_version()}, Redis {redis_version()}",
    ]
