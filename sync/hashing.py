"""Canonical JSON and the content hash that dedup compares.

The canonical text is also what gets stored, so each record is serialized exactly once.

Serialization is the hot spot of a sync (every fetched record, changed or not, is serialized and
hashed), so orjson does it when it can (about 10x faster than the stdlib); values orjson refuses
(ints beyond 64 bits, non-string keys, mappings that are not dicts) fall back to the stdlib. The two
agree on everything but the spelling of some small floats ("1e-05" vs "0.00001"); a given record
always takes the same path, so its hash is stable from one sync to the next.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Mapping

try:
    import orjson
except ImportError:  # optional speed-up: the stdlib path is the reference
    orjson = None  # type: ignore[assignment]

_NUL = "\\u0000"
_NUL_BYTES = b"\\u0000"
# A NUL's escape is `\u0000` preceded by an even number of backslashes; after an odd number it is the
# text "\u0000" (an escaped backslash, then "u0000"), which must stay.
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def _drop_nul(raw: bytes) -> bytes:
    return _NUL_ESCAPE.sub(rb"\1", raw)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf8(text: str) -> bytes:
    # json.loads keeps an unpaired "\ud83d" escape (a truncated emoji) as a lone surrogate, which UTF-8
    # cannot encode (and PostgreSQL's jsonb refuses as an escape): it becomes U+FFFD, as a decoder would.
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot store a value of type {type(value).__name__} in a record")


def _stdlib_json(data: Mapping[str, Any]) -> str:
    # sort_keys: the same record from two answers hashes the same whatever the key order.
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


if orjson is not None:
    # PASSTHROUGH_DATETIME: dates go through _default, so they read exactly as the stdlib path writes them.
    _ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME

    def canonical_json_bytes(data: Mapping[str, Any]) -> bytes:
        """The canonical text as UTF-8 (what is hashed)."""
        try:
            raw = orjson.dumps(data, default=_default, option=_ORJSON_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            raw = _utf8(_stdlib_json(data))
        # NUL characters are dropped: PostgreSQL's jsonb refuses "\u0000" and the platforms never mean it.
        return _drop_nul(raw) if _NUL_BYTES in raw else raw
else:
    def canonical_json_bytes(data: Mapping[str, Any]) -> bytes:
        """The canonical text as UTF-8 (what is hashed)."""
        text = _stdlib_json(data)
        raw = _utf8(text)
        return _drop_nul(raw) if _NUL_BYTES in raw else raw


def canonical_json(data: Mapping[str, Any]) -> str:
    return canonical_json_bytes(data).decode("utf-8")


def content_hash(text: str | bytes) -> str:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def serialize(data: Mapping[str, Any]) -> tuple[str, str]:
    """(canonical text, content hash) of one record, serializing and encoding it once."""
    raw = canonical_json_bytes(data)
    return raw.decode("utf-8"), hashlib.blake2b(raw, digest_size=16).hexdigest()
