"""The one place govctl reads the time, so tests can move it (``GOVCTL_NOW``)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime


def now() -> datetime:
    """Current UTC time; ``GOVCTL_NOW`` (ISO 8601) fixes it for tests and demos."""
    fixed = os.environ.get("GOVCTL_NOW")
    if fixed:
        return parse_time(fixed)
    return datetime.now(UTC).replace(microsecond=0)


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time or date; naive values are taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_iso(value: datetime | date) -> str:
    """Render a time as RFC 3339 UTC with a ``Z``, a date as ``YYYY-MM-DD``."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return value.isoformat()
