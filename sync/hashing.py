"""Canonical JSON and the content hash that dedup compares.

The canonical text is also what gets stored, so each record is serialized exactly once.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Mapping


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot store a value of type {type(value).__name__} in a record")


def canonical_json(data: Mapping[str, Any]) -> str:
    # sort_keys: the same record from two answers hashes the same whatever the key order.
    # NUL characters are dropped: PostgreSQL's jsonb refuses "\u0000" and the platforms never mean it.
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)
    return text.replace("\\u0000", "") if "\\u0000" in text else text


def content_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
