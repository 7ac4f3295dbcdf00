"""Helpers shared by the Shopify tests: the reference schema, an emulator, settings and direct fetches."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import pytest

from emulators.shopify import ShopifyEmulator
from sync.config import Settings
from sync.models import Cursor, Page, StreamRequest
from sync.platforms.shopify import ShopifyPlatform
from sync.platforms.shopify.connection import ShopifyConnection

# Vendored reference data (tests/reference/README.md says where each file comes from and under which licence).
REFERENCE_SCHEMA = Path(__file__).resolve().parent / "reference" / "shopify" / "admin-2026-10.schema.graphql"
# Fast retries and bulk polls: the behaviour under test is the same, the waits are not.
FAST = {"SHOPIFY_RETRY_BASE_SECONDS": "0.01", "SHOPIFY_BULK_POLL_SECONDS": "0.02", "SHOPIFY_TIMEOUT_SECONDS": "2"}
UNLIMITED = {"restore_rate": 1e9, "bucket_size": 1e9}


def reference_schema():
    if not REFERENCE_SCHEMA.exists():
        pytest.fail(f"vendored reference schema missing at {REFERENCE_SCHEMA}")
    return _built_reference()


@functools.lru_cache(maxsize=1)
def _built_reference():
    from graphql import build_schema

    return build_schema(REFERENCE_SCHEMA.read_text(encoding="utf-8"))  # 3.6 MB: build once per session


def shop_settings(emu: ShopifyEmulator, **env: str) -> Settings:
    return Settings.from_env({"SHOPIFY_BASE_URL": emu.base_url, **FAST, **env}, load_dotenv=False)


def connect(emu: ShopifyEmulator, domain: str, token: str, **env: str) -> ShopifyConnection:
    return ShopifyPlatform().connect({"shop_domain": domain, "access_token": token}, shop_settings(emu, **env))


def request(data_type: str, state: Mapping[str, Any] | None = None, *,
            stored: Callable[[Iterable[str]], dict] | None = None, lookback_minutes: int = 10) -> StreamRequest:
    return StreamRequest(data_type, Cursor.of(state, timedelta(minutes=lookback_minutes)),
                         datetime.now(timezone.utc), stored or (lambda ids: {}))


def drain(conn: ShopifyConnection, req: StreamRequest) -> tuple[list[Page], dict[str, Any]]:
    """All pages of one fetch, and the records they hold by id (checking there are no duplicates)."""
    pages = list(conn.fetch(req))
    records: dict[str, Any] = {}
    for page in pages:
        for record in page.records:
            assert record.external_id not in records, f"duplicate {record.external_id}"
            records[record.external_id] = record
    return pages, records


def last_state(pages: list[Page]) -> dict[str, Any] | None:
    state = None
    for page in pages:
        state = page.state if page.state is not None else state
    return state
