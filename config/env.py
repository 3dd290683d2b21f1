"""Small typed readers for environment settings that fail loudly on bad values."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


class SettingError(ValueError):
    """An environment variable holds a value that cannot be used."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingError(f"{name}: expected a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"{name}: expected an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingError(f"{name}: must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"{name}: expected a number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingError(f"{name}: must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SettingError(f"{name}: must be at most {maximum}, got {value}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_secret(name: str, default: str = "") -> str:
    """Read `NAME_FILE` (a path to a file holding the secret) before `NAME`."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise SettingError(f"{name}_FILE: cannot read {path!r}: {exc.strerror}") from None
    return os.environ.get(name, default)


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (os.environ.get(name) or default).strip().lower()
    if value not in choices:
        raise SettingError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


RATE_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(text: str) -> tuple[int, int]:
    """A rate like DRF's, `COUNT/PERIOD` (period: s, sec, m, min, h, hour, d, day): (count, seconds)."""
    count, _, period = text.strip().partition("/")
    seconds = RATE_PERIODS.get(period.strip()[:1].lower())
    if not count.strip().isdigit() or int(count) < 1 or seconds is None:
        raise ValueError(f"expected a rate like '600/min' (per s, min, hour or day), got {text!r}")
    return int(count), seconds


def env_rate(name: str, default: str) -> str:
    value = os.environ.get(name) or default
    try:
        parse_rate(value)
    except ValueError as exc:
        raise SettingError(f"{name}: {exc}") from None
    return value.strip()


def redis_url_with_db(url: str, db: int) -> str:
    """The same Redis server (scheme, credentials, host, options) with another database number."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))
