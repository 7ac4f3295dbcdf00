"""Query-string readers and the SP-API error answer, shared by the emulator's operation handlers."""

from __future__ import annotations

from datetime import datetime, timezone


class ApiError(Exception):
    """An SP-API error answer: `{"errors": [{"code", "message", "details"}]}` with this HTTP status."""

    def __init__(self, status: int, code: str, message: str, details: str = ""):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def bad(message: str, details: str = "") -> ApiError:
    return ApiError(400, "InvalidInput", message, details)


def one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def csv(query: dict[str, list[str]], name: str) -> list[str]:
    """A list parameter, sent comma-separated (python-amazon-sp-api) or repeated."""
    out: list[str] = []
    for value in query.get(name, []):
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def parse_time(value: str) -> datetime:
    ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def date(query: dict[str, list[str]], name: str) -> datetime | None:
    raw = one(query, name)
    if raw is None or raw == "":
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise bad(f"{name} is not a valid ISO 8601 date: {raw}.") from None


def int_param(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    raw = one(query, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad(f"{name} must be an integer.") from None
    if not low <= value <= high:
        raise bad(f"{name} must be between {low} and {high}.")
    return value
