"""Rows in and out of every store, written once: what a row means as a dataclass, and the parameters an
operation takes.

Each store hands back rows as its driver reads them: PostgreSQL with uuid objects and datetimes,
SQLite with TEXT timestamps, JSON text and 0/1, Supabase REST (and PostgreSQL functions returning
jsonb) with ISO 8601 texts. `decode` makes them one shape; a table from an older version may lack
columns (their defaults apply) or have extra ones (left out).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping, Sequence

from .. import timeutil
from ..models import Integration, RunParams, ScheduleUpdate, SyncResult, WorkerId
from .base import DataRow, SkuRow

_TIMESTAMPS = frozenset({"last_sync_at", "next_sync_at", "locked_until", "created_at", "updated_at", "started_at",
                         "finished_at", "source_updated_at", "first_synced_at", "last_synced_at",
                         "deleted_at"})
_JSON = frozenset({"sync_state", "data_types_synced", "params", "summary", "data"})
_BOOLEANS = frozenset({"is_active", "success"})
_UUIDS = frozenset({"credential_id", "client_id", "result_id", "run_id"})
_INTEGRATION_FIELDS = frozenset(f.name for f in fields(Integration))
# Defaults of the columns a table from the guide's first version may lack (or hold NULL in).
_INTEGRATION_DEFAULTS = {"display_name": None, "credentials": None, "status": "pending", "is_active": True,
                         "sync_frequency_hours": 24, "sync_state": {}, "consecutive_failures": 0}


@dataclass(frozen=True)
class Json:
    """A parameter the database stores as JSON (jsonb, or TEXT on SQLite), not as an array or a scalar.
    `value` is plain JSON already (see `plain`)."""

    value: Any


def plain(value: Any) -> Any:
    """A value as JSON can carry it: times as ISO 8601, Decimal as text (every digit kept)."""
    if isinstance(value, datetime):
        return timeutil.iso(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def decode(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key, value in out.items():
        if value is None:
            continue
        if key in _TIMESTAMPS:
            out[key] = timeutil.parse_optional(value)
        elif key in _JSON and isinstance(value, str):
            out[key] = json.loads(value)
        elif key in _BOOLEANS:
            out[key] = bool(value)
        elif key in _UUIDS and isinstance(value, uuid.UUID):
            out[key] = str(value)
    return out


def decode_json(value: Any) -> Any:
    """A JSON result some stores return as text (SQLite's json_group_array)."""
    return json.loads(value) if isinstance(value, str) else value


def integration(row: Mapping[str, Any]) -> Integration:
    """A row of client_api_credentials (any extra columns of an older table are left out)."""
    values = {k: v for k, v in decode(row).items() if k in _INTEGRATION_FIELDS}
    for key, default in _INTEGRATION_DEFAULTS.items():
        if values.get(key) is None:
            values[key] = dict(default) if isinstance(default, dict) else default
    values["credential_id"] = str(values["credential_id"])
    values["client_id"] = str(values["client_id"])
    return Integration(**values)


def data_row(row: Mapping[str, Any]) -> DataRow:
    data = row["data"]
    return DataRow(credential_id=str(row["credential_id"]), platform_type=row["platform_type"],
                   data_type=row["data_type"], external_id=row["external_id"],
                   data=json.loads(data) if isinstance(data, str) else data)


def values_at(data: Any, path: Sequence[str]) -> list[str]:
    """The scalar values found in `data` at `path` (keys from the top), looking into every element of an
    array met on the way, as a PostgreSQL jsonpath does in lax mode (api_sync_ids_where)."""
    found: list[Any] = [data]
    for key in path:
        step: list[Any] = []
        for value in found:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict) and key in item:
                    step.append(item[key])
        found = step
    out: list[str] = []
    for value in found:
        for item in value if isinstance(value, list) else [value]:
            if item is not None and not isinstance(item, (dict, list)):
                out.append(item if isinstance(item, str) else json.dumps(item))
    return out


# -- the parameters of each operation (named like the functions' arguments, without their `p_`) ------

def integration_params(i: Integration) -> dict[str, Any]:
    return {"credential_id": i.credential_id, "client_id": i.client_id, "platform_type": i.platform_type,
            "display_name": i.display_name, "credentials": i.credentials, "status": i.status,
            "is_active": i.is_active, "next_sync_at": i.next_sync_at, "sync_frequency_hours": i.sync_frequency_hours,
            "now": i.created_at or timeutil.utcnow()}


def due_params(now: datetime, params: RunParams) -> dict[str, Any]:
    return {"now": now, "force": params.force, "client_id": params.client_id, "platform": params.platform}


def attempt_params(result: SyncResult, update: ScheduleUpdate, worker: WorkerId) -> dict[str, Any]:
    return {
        "result_id": result.result_id, "run_id": result.run_id, "client_id": result.client_id,
        "credential_id": result.credential_id, "platform_type": result.platform_type,
        "records_fetched": result.records_fetched, "records_stored": result.records_stored,
        "sync_duration_seconds": result.duration_seconds, "success": result.success,
        "data_types_synced": Json(result.data_types_synced()), "triggered_by": result.triggered_by,
        "error_message": result.error_message, "started_at": result.started_at,
        "finished_at": result.finished_at or result.started_at,
        "status": update.status, "schedule_error": update.error_message,
        "consecutive_failures": update.consecutive_failures, "last_sync_at": update.last_sync_at,
        "next_sync_at": update.next_sync_at, "worker_id": str(worker),
    }


def sku_row_values(row: SkuRow) -> dict[str, Any]:
    return plain(asdict(row))
