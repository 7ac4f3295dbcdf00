"""Amazon-specific tuning knobs, read from the environment (`settings.env`); documented in the README.

| variable | meaning | default |
| --- | --- | --- |
| `AMAZON_HTTP_TIMEOUT_SECONDS` | per-request timeout of the SP-API / LWA / report-document calls | 60 |
| `AMAZON_MAX_RETRIES` | retries of one call after 429 / 5xx / timeout / dropped connection | 8 |
| `AMAZON_RETRY_BASE_SECONDS` | first backoff step (doubles per retry, capped by the next knob) | 1 |
| `AMAZON_RETRY_MAX_SECONDS` | longest single backoff wait | 120 |
| `AMAZON_ORDERS_INITIAL_DAYS` | how far back the first orders sync reads (LastUpdatedAfter) | 730 |
| `AMAZON_ORDERS_WINDOW_DAYS` | the orders window is read in slices this long; the cursor moves after each | 90 |
| `AMAZON_ORDERS_PAGE_SIZE` | getOrders MaxResultsPerPage (1-100) | 100 |
| `AMAZON_REPORT_POLL_SECONDS` | first wait between getReport polls (grows x1.5) | 2 |
| `AMAZON_REPORT_POLL_MAX_SECONDS` | longest wait between polls | 60 |
| `AMAZON_REPORT_TIMEOUT_SECONDS` | give up on a report still not DONE after this long | 3600 |
| `AMAZON_REPORT_REUSE_MINUTES` | reuse a listings report requested (or finished) this recently | 30 |
| `AMAZON_INVENTORY_RESTARTS` | times an inventory listing restarts after its nextToken expired | 2 |
| `AMAZON_RESTRICTED_DATA_ELEMENTS` | buyer PII to request on orders with a Restricted Data Token: a comma list of `buyerInfo`, `shippingAddress`, `buyerTaxInformation` (the app needs the matching restricted roles) | empty: no PII, no token |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ...config import env_number
from ...errors import ConfigError


@dataclass(frozen=True)
class AmazonTuning:
    http_timeout: float = 60.0
    max_retries: int = 8
    retry_base: float = 1.0
    retry_max: float = 120.0
    orders_initial_days: int = 730
    orders_page_size: int = 100
    orders_window_days: int = 90
    report_poll: float = 2.0
    report_poll_max: float = 60.0
    report_timeout: float = 3600.0
    report_reuse_minutes: float = 30.0
    inventory_restarts: int = 2
    restricted_data_elements: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "AmazonTuning":
        page = int(env_number(env, "AMAZON_ORDERS_PAGE_SIZE", 100, 1, integer=True))
        if page > 100:
            raise ConfigError(f"AMAZON_ORDERS_PAGE_SIZE must be at most 100, got {page}")
        return cls(
            http_timeout=env_number(env, "AMAZON_HTTP_TIMEOUT_SECONDS", 60.0, 0.1),
            max_retries=int(env_number(env, "AMAZON_MAX_RETRIES", 8, 0, integer=True)),
            retry_base=env_number(env, "AMAZON_RETRY_BASE_SECONDS", 1.0, 0.0),
            retry_max=env_number(env, "AMAZON_RETRY_MAX_SECONDS", 120.0, 0.0),
            orders_initial_days=int(env_number(env, "AMAZON_ORDERS_INITIAL_DAYS", 730, 1, integer=True)),
            orders_page_size=page,
            orders_window_days=int(env_number(env, "AMAZON_ORDERS_WINDOW_DAYS", 90, 1, integer=True)),
            report_poll=env_number(env, "AMAZON_REPORT_POLL_SECONDS", 2.0, 0.0),
            report_poll_max=env_number(env, "AMAZON_REPORT_POLL_MAX_SECONDS", 60.0, 0.0),
            report_timeout=env_number(env, "AMAZON_REPORT_TIMEOUT_SECONDS", 3600.0, 1.0),
            report_reuse_minutes=env_number(env, "AMAZON_REPORT_REUSE_MINUTES", 30.0, 0.0),
            inventory_restarts=int(env_number(env, "AMAZON_INVENTORY_RESTARTS", 2, 0, integer=True)),
            restricted_data_elements=_elements(env),
        )


PII_ELEMENTS = ("buyerInfo", "shippingAddress", "buyerTaxInformation")


def _elements(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = [e.strip() for e in (env.get("AMAZON_RESTRICTED_DATA_ELEMENTS") or "").split(",") if e.strip()]
    unknown = [e for e in raw if e not in PII_ELEMENTS]
    if unknown:
        raise ConfigError(f"AMAZON_RESTRICTED_DATA_ELEMENTS accepts {', '.join(PII_ELEMENTS)}; "
                          f"got {', '.join(unknown)}")
    return tuple(dict.fromkeys(raw))
