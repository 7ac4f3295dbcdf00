"""Canonical JSON and the content hash that dedup compares.

The canonical text is also what gets stored, so each record is serialized exactly once.

Serialization is the hot spot of a sync (every fetched record, changed or not, is serialized and
hashed), so orjson does it (about 10x faster than the stdlib). What orjson refuses or what no store
accepts is cleaned first, on a slow path only such records take: integers beyond 64 bits (kept exact, as
raw JSON numbers), lone surrogates (U+FFFD, as a UTF-8 decoder would), NUL characters (dropped:
PostgreSQL's jsonb refuses them, and the platforms never mean them), NaN and infinities (null, as
orjson writes them). Keys that become equal once cleaned keep the value of the last in sorted order,
so the canonical text never holds a key twice and is a fixed point: read back and serialized again,
it is the same text, with the same hash. Without orjson (an optional speed-up) the stdlib writes the
same cleaned values; the two spell some small floats differently ("1e-05" vs "0.00001"), consistently.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Mapping

try:
    import orjson
except ImportError:  # optional speed-up: the stdlib path is the reference
    orjson = None  # type: ignore[assignment]

_NUL_BYTES = b"\\u0000"
# A NUL's escape is `\u0000` preceded by an even number of backslashes; after an odd number it is the
# text "\u0000" (an escaped backslash, then "u0000"), which is kept.
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_INT64 = range(-(2 ** 63), 2 ** 64)  # what orjson writes itself (it takes unsigned 64-bit too)


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot store a value of type {type(value).__name__} in a record")


def _clean_text(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "")
    if _LONE_SURROGATE.search(text):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # an unpaired half (a truncated emoji's "\ud83d" escape)
            text = _LONE_SURROGATE.sub("\ufffd", text)
    return text


def _clean(value: Any, big_int: Any) -> Any:
    """`value` with what orjson refuses or no store accepts replaced (see the module docstring)."""
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if value in _INT64 else big_int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        # Sorted by the original keys, so which of two colliding keys wins does not depend on their order.
        items = sorted((((k if isinstance(k, str) else _key_text(k)), v) for k, v in value.items()),
                       key=lambda kv: kv[0])
        return {_clean_text(k): _clean(v, big_int) for k, v in items}
    if isinstance(value, (list, tuple)):
        return [_clean(v, big_int) for v in value]
    if isinstance(value, (set, frozenset)):
        return _clean(sorted(value), big_int)
    return value  # dates, decimals, ...: written by _default


def _key_text(key: Any) -> str:
    # What json.dumps writes for a non-string key (records from JSON never have one).
    return json.dumps(key) if isinstance(key, (bool, type(None))) else str(key)


def _stdlib_json(data: Any) -> str:
    # sort_keys: the same record from two answers hashes the same whatever the key order.
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                      default=_default)


if orjson is not None:
    # PASSTHROUGH_DATETIME: dates go through _default, so they read exactly as the stdlib path writes them.
    _ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME

    def _big_int(value: int) -> Any:
        return orjson.Fragment(str(value).encode())

    def canonical_json_bytes(data: Mapping[str, Any]) -> bytes:
        """The canonical text as UTF-8 (what is hashed)."""
        try:
            raw = orjson.dumps(data, default=_default, option=_ORJSON_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError is a TypeError: big ints, lone surrogates, other keys
            raw = None
        if raw is not None and not (_NUL_BYTES in raw and _NUL_ESCAPE.search(raw)):
            return raw  # the fast path: nearly every record
        try:
            return orjson.dumps(_clean(data, _big_int), default=_default, option=_ORJSON_OPTIONS)
        except TypeError as exc:  # nested deeper than orjson goes (255), or a type no JSON has
            if "Recursion" not in str(exc):
                raise
            return _stdlib_json(_clean(data, int)).encode("utf-8")
else:
    def canonical_json_bytes(data: Mapping[str, Any]) -> bytes:
        """The canonical text as UTF-8 (what is hashed)."""
        return _stdlib_json(_clean(data, int)).encode("utf-8")


def canonical_json(data: Mapping[str, Any]) -> str:
    return canonical_json_bytes(data).decode("utf-8")


def content_hash(text: str | bytes) -> str:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def serialize(data: Mapping[str, Any]) -> tuple[str, str]:
    """(canonical text, content hash) of one record, serializing and encoding it once."""
    raw = canonical_json_bytes(data)
    return raw.decode("utf-8"), hashlib.blake2b(raw, digest_size=16).hexdigest()
