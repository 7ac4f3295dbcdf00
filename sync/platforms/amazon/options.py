"""Amazon's knobs, parsed from the environment when the process starts (`AmazonPlatform.parse_options`:
a bad value exits 2 naming the variable before anything runs); documented in the README.

| variable | meaning | default |
| --- | --- | --- |
| `AMAZON_HTTP_TIMEOUT_SECONDS` | per-request timeout of the SP-API / LWA / report-document calls | 60 |
| `AMAZON_MAX_RETRIES` | retries of one call after 429 / 5xx / timeout / dropped connection | 8 |
| `AMAZON_RETRY_BASE_SECONDS` | first backoff step (doubles per retry, capped by the next knob) | 1 |
| `AMAZON_RETRY_MAX_SECONDS` | longest single backoff wait | 120 |
| `AMAZON_ORDERS_INITIAL_DAYS` | how far back the first orders sync reads (lastUpdatedAfter) | 730 |
| `AMAZON_ORDERS_WINDOW_DAYS` | read the orders window in slices this long, the cursor moving after each; 0: one window (each slice costs at least one searchOrders call, and the pagination token already lets a killed sync resume) | 0 |
| `AMAZON_ORDERS_PAGE_SIZE` | searchOrders maxResultsPerPage (1-100) | 100 |
| `AMAZON_ORDERS_INCLUDED_DATA` | searchOrders `includedData` sections besides the personal ones: a comma list of PROCEEDS, FULFILLMENT, EXPENSE, PROMOTION, CANCELLATION, PACKAGES, TAX, PAYMENT, FULFILLMENT_ORDERS (FULFILLMENT is always asked: the SKU analysis reads the order status from it) | `FULFILLMENT,PROCEEDS` |
| `AMAZON_ORDERS_PERSONAL_DATA` | the personal sections to ask for: a comma list of BUYER (name, e-mail), RECIPIENT (delivery address); the app needs the matching restricted role; never asked when `SYNC_STORE_PII=false` | empty: none |
| `AMAZON_REPORT_POLL_SECONDS` | first wait between getReport polls (grows x1.5) | 2 |
| `AMAZON_REPORT_POLL_MAX_SECONDS` | longest wait between polls | 60 |
| `AMAZON_REPORT_TIMEOUT_SECONDS` | give up on a report still not DONE after this long | 3600 |
| `AMAZON_REPORT_REUSE_MINUTES` | reuse a listings report requested (or finished) this recently | 30 |
| `AMAZON_INVENTORY_RESTARTS` | times an inventory listing restarts after its nextToken expired | 2 |

`AMAZON_RESTRICTED_DATA_ELEMENTS`, the setting of the Orders API v0 (Restricted Data Tokens), is still read
when `AMAZON_ORDERS_PERSONAL_DATA` is unset: `buyerInfo` and `buyerTaxInformation` mean BUYER,
`shippingAddress` means RECIPIENT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ...config import env_flag, env_number
from ...errors import ConfigError

PERSONAL_SECTIONS = ("BUYER", "RECIPIENT")
OTHER_SECTIONS = ("PROCEEDS", "FULFILLMENT", "EXPENSE", "PROMOTION", "CANCELLATION", "PACKAGES", "TAX", "PAYMENT",
                  "FULFILLMENT_ORDERS")
DEFAULT_SECTIONS = ("FULFILLMENT", "PROCEEDS")
LEGACY_ELEMENTS = {"buyerInfo": "BUYER", "buyerTaxInformation": "BUYER", "shippingAddress": "RECIPIENT"}


@dataclass(frozen=True)
class AmazonOptions:
    http_timeout: float = 60.0
    max_retries: int = 8
    retry_base: float = 1.0
    retry_max: float = 120.0
    orders_initial_days: int = 730
    orders_page_size: int = 100
    orders_window_days: int = 0
    orders_sections: tuple[str, ...] = DEFAULT_SECTIONS
    personal_sections: tuple[str, ...] = ()
    report_poll: float = 2.0
    report_poll_max: float = 60.0
    report_timeout: float = 3600.0
    report_reuse_minutes: float = 30.0
    inventory_restarts: int = 2

    @property
    def included_data(self) -> tuple[str, ...]:
        """searchOrders `includedData`: the sections asked for, personal ones last."""
        return self.orders_sections + self.personal_sections

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "AmazonOptions":
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
            orders_window_days=int(env_number(env, "AMAZON_ORDERS_WINDOW_DAYS", 0, 0, integer=True)),
            orders_sections=_sections(env),
            personal_sections=_personal(env),
            report_poll=env_number(env, "AMAZON_REPORT_POLL_SECONDS", 2.0, 0.0),
            report_poll_max=env_number(env, "AMAZON_REPORT_POLL_MAX_SECONDS", 60.0, 0.0),
            report_timeout=env_number(env, "AMAZON_REPORT_TIMEOUT_SECONDS", 3600.0, 1.0),
            report_reuse_minutes=env_number(env, "AMAZON_REPORT_REUSE_MINUTES", 30.0, 0.0),
            inventory_restarts=int(env_number(env, "AMAZON_INVENTORY_RESTARTS", 2, 0, integer=True)),
        )


def _list(env: Mapping[str, str], name: str) -> list[str]:
    return [e.strip() for e in (env.get(name) or "").split(",") if e.strip()]


def _sections(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = [e.upper() for e in _list(env, "AMAZON_ORDERS_INCLUDED_DATA")] or list(DEFAULT_SECTIONS)
    personal = [e for e in raw if e in PERSONAL_SECTIONS]
    if personal:
        raise ConfigError(f"AMAZON_ORDERS_INCLUDED_DATA cannot ask for {', '.join(personal)}: personal data is "
                          f"chosen with AMAZON_ORDERS_PERSONAL_DATA")
    unknown = [e for e in raw if e not in OTHER_SECTIONS]
    if unknown:
        raise ConfigError(f"AMAZON_ORDERS_INCLUDED_DATA accepts {', '.join(OTHER_SECTIONS)}; got {', '.join(unknown)}")
    return tuple(dict.fromkeys(["FULFILLMENT", *raw]))


def store_pii(env: Mapping[str, str]) -> bool:
    """SYNC_STORE_PII (SPEC section 1): false keeps personal data out of the stored customers and orders."""
    return env_flag(env, "SYNC_STORE_PII", True)


def _personal(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = [e.upper() for e in _list(env, "AMAZON_ORDERS_PERSONAL_DATA")]
    if raw:
        unknown = [e for e in raw if e not in PERSONAL_SECTIONS]
        if unknown:
            raise ConfigError(f"AMAZON_ORDERS_PERSONAL_DATA accepts {', '.join(PERSONAL_SECTIONS)}; "
                              f"got {', '.join(unknown)}")
        wanted, source = raw, "AMAZON_ORDERS_PERSONAL_DATA"
    else:
        legacy = _list(env, "AMAZON_RESTRICTED_DATA_ELEMENTS")
        unknown = [e for e in legacy if e not in LEGACY_ELEMENTS]
        if unknown:
            raise ConfigError(f"AMAZON_RESTRICTED_DATA_ELEMENTS accepts {', '.join(LEGACY_ELEMENTS)}; got "
                              f"{', '.join(unknown)} (it is replaced by AMAZON_ORDERS_PERSONAL_DATA=BUYER,RECIPIENT)")
        wanted, source = [LEGACY_ELEMENTS[e] for e in legacy], "AMAZON_RESTRICTED_DATA_ELEMENTS"
    if not wanted:
        return ()
    if not store_pii(env):
        import logging  # (only here: every process parses these options at start-up)

        logging.getLogger("sync.platforms.amazon").warning(
            "%s asks for personal order data but SYNC_STORE_PII=false: it is not requested", source)
        return ()
    return tuple(s for s in PERSONAL_SECTIONS if s in wanted)
