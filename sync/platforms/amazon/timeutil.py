"""SP-API timestamps: ISO 8601 in UTC, second precision, `Z` suffix."""

from __future__ import annotations

from datetime import datetime, timezone


def iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: str) -> datetime:
    ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def same_instant(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return False
    a = a if a.tzinfo else a.replace(tzinfo=timezone.utc)
    b = b if b.tzinfo else b.replace(tzinfo=timezone.utc)
    return a.replace(microsecond=0) == b.replace(microsecond=0)
