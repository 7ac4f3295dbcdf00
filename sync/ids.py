"""Identifiers built from data: client ids and the per-client table names (SPEC section 2)."""

from __future__ import annotations

import re
import uuid

from .errors import ConfigError

_TABLE_RE = re.compile(r"^client_[0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}_(data|sku_cache)$")


def normalize_uuid(value: str, what: str = "client id") -> str:
    """The canonical lower-case form, or ConfigError: a non-UUID never reaches SQL."""
    try:
        return str(uuid.UUID(str(value).strip()))
    except (ValueError, AttributeError, TypeError):
        raise ConfigError(f"{what} {value!r} is not a UUID (expected e.g. 3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b)") from None


def _client_table(client_id: str, suffix: str) -> str:
    name = f"client_{normalize_uuid(client_id).replace('-', '_')}_{suffix}"
    # Belt and braces: the name is about to be interpolated into SQL (always quoted as well).
    if not _TABLE_RE.match(name):
        raise ConfigError(f"refusing table name {name!r}")
    return name


def data_table(client_id: str) -> str:
    return _client_table(client_id, "data")


def sku_cache_table(client_id: str) -> str:
    return _client_table(client_id, "sku_cache")


def client_of_data_table(name: str) -> str | None:
    """The client id a `client_<id>_data` table name stands for; None for any other name."""
    if not _TABLE_RE.match(name) or not name.endswith("_data"):
        return None
    return normalize_uuid(name[len("client_"):-len("_data")].replace("_", "-"))


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
