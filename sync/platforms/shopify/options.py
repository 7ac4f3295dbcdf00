"""Shopify tuning knobs, read from the environment (`settings.env`); the README lists them.

| variable | meaning | default |
| --- | --- | --- |
| `SHOPIFY_BULK` | `auto`: bulk exports for a first sync and for deltas that would take more than `SHOPIFY_BULK_PAGING_SECONDS` to page; `off`: always page; `always`: always bulk | `auto` |
| `SHOPIFY_BULK_PAGING_SECONDS` | estimated paging time (delta size x points per record / restore rate) above which a delta is read by a bulk export | 60 |
| `SHOPIFY_BULK_CONCURRENCY` | bulk exports running at once per shop (Shopify allows 5 from API 2026-01; 1 runs them one after another) | 5 |
| `SHOPIFY_BULK_GROUP_OBJECTS` | `true` asks Shopify for grouped output (children after their parent; slower on Shopify's side) | `false` |
| `SHOPIFY_SPOOL_DIR` | where bulk results are spooled (temporary SQLite files, about the result's size) | the system's temporary directory |
| `SHOPIFY_BULK_POLL_SECONDS` | first wait between bulk status polls (then x1.5, at most 30 s) | 0.5 |
| `SHOPIFY_BULK_TIMEOUT_SECONDS` | give up (and cancel) a bulk operation still running after this long | 7200 |
| `SHOPIFY_MAX_RETRIES` | retries of one request on 429, 5xx, timeouts and dropped connections | 6 |
| `SHOPIFY_RETRY_BASE_SECONDS` | first backoff wait (doubles each retry, at most 60 s, with jitter) | 1 |
| `SHOPIFY_TIMEOUT_SECONDS` | read timeout of one HTTP request | 60 |
| `SHOPIFY_PAGE_RECORDS` | records per page handed to the engine (one transaction each) | 250 |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ...config import env_number
from ...errors import ConfigError


@dataclass(frozen=True)
class ShopifyOptions:
    bulk: str = "auto"
    bulk_paging_seconds: float = 60.0
    bulk_poll_seconds: float = 0.5
    bulk_timeout_seconds: float = 7200.0
    max_retries: int = 6
    retry_base_seconds: float = 1.0
    timeout_seconds: float = 60.0
    page_records: int = 250
    bulk_concurrency: int = 5
    bulk_group_objects: bool = False
    spool_dir: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ShopifyOptions":
        bulk = (env.get("SHOPIFY_BULK") or "auto").strip().lower()
        if bulk not in ("auto", "off", "always"):
            raise ConfigError(f"SHOPIFY_BULK must be auto, off or always, got {bulk!r}")
        return cls(
            bulk=bulk,
            bulk_paging_seconds=env_number(env, "SHOPIFY_BULK_PAGING_SECONDS", cls.bulk_paging_seconds, 0.0),
            bulk_poll_seconds=env_number(env, "SHOPIFY_BULK_POLL_SECONDS", cls.bulk_poll_seconds, 0.0),
            bulk_timeout_seconds=env_number(env, "SHOPIFY_BULK_TIMEOUT_SECONDS", cls.bulk_timeout_seconds, 1.0),
            max_retries=int(env_number(env, "SHOPIFY_MAX_RETRIES", cls.max_retries, 0)),
            retry_base_seconds=env_number(env, "SHOPIFY_RETRY_BASE_SECONDS", cls.retry_base_seconds, 0.0),
            timeout_seconds=env_number(env, "SHOPIFY_TIMEOUT_SECONDS", cls.timeout_seconds, 0.1),
            page_records=int(env_number(env, "SHOPIFY_PAGE_RECORDS", cls.page_records, 1)),
            bulk_concurrency=int(env_number(env, "SHOPIFY_BULK_CONCURRENCY", cls.bulk_concurrency, 1)),
            bulk_group_objects=_flag(env, "SHOPIFY_BULK_GROUP_OBJECTS"),
            spool_dir=(env.get("SHOPIFY_SPOOL_DIR") or "").strip() or None,
        )


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = (env.get(name) or "false").strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return value in ("true", "1", "yes")
