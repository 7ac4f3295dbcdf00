"""Time, in one place: every timestamp the project handles is an aware datetime in UTC.

Texts from platforms, JSON and SQLite are read with `parse` (ISO 8601, `Z` or an offset, a naive one
taken as UTC); texts going out are written by `iso` (full precision, for stores and JSON), `iso_z`
(second precision with `Z`, what the platforms' query filters take) or `fixed` (fixed-width, so that
SQLite's text order is time order).
"""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def parse(value: str) -> datetime:
    """An ISO 8601 text as an aware UTC datetime; ValueError when it is not one."""
    return as_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))


def parse_optional(value: str | datetime | None) -> datetime | None:
    """`parse` for a value that may be missing or a datetime already (rows from any store)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    return parse(value)


def iso(value: datetime) -> str:
    return as_utc(value).isoformat()


def iso_z(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def fixed(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")

