"""A local Shopify Admin GraphQL API for tests and the `--sandbox` demo.

    with ShopifyEmulator() as emu:
        shop = emu.add_shop("demo.myshopify.com", "shpat_demo", orders=500, products=50, customers=80)
        settings = Settings.from_env({"SHOPIFY_BASE_URL": emu.base_url, ...}, load_dotenv=False)

A real HTTP server on 127.0.0.1 (ephemeral port) speaking what the fetcher uses as Shopify documents it:
`POST /admin/api/{version}/graphql.json` with `X-Shopify-Access-Token` (the token picks the shop, since
`SHOPIFY_BASE_URL` replaces the host; an unknown token gets Shopify's 401), queries validated and run by
graphql-core on a subset of Shopify's 2026-10 schema (`schema.graphql`, extracted by `make_schema.py`), the
requested version served when supported (else the oldest supported, as `X-Shopify-API-Version` says),
the search filter and sort keys, cursor pagination, query cost with a leaky bucket (`THROTTLED`,
`MAX_COST_EXCEEDED`), up to five bulk operations at once per shop with JSONL results (ungrouped unless
`groupObjects: true`, on a time model of start-up plus objects per second), `ACCESS_DENIED` for scopes the app lacks,
and injected faults (429 with Retry-After, 5xx, slow answers, dropped connections, bulk results cut short
or failed).
"""

from __future__ import annotations

import os
import random
import threading
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from graphql import GraphQLSchema, build_schema

from . import deletions
from .data import ShopData
from .executor import build_executable_schema
from .server import Fault, Server
from .shop import EmulatedShop, LeakyBucket, ShopStats

# The versions Shopify supports as the emulator's shop sees it (each for twelve months from its release);
# a request for any other version is served as the oldest of these, and X-Shopify-API-Version says so.
SUPPORTED_VERSIONS = ("2026-01", "2026-04", "2026-07", "2026-10")
# Standard plan (shopify.dev "API rate limits"): 100 points/s restored, a 2,000-point bucket, 1,000 max per query.
STANDARD_RESTORE_RATE = 100.0
STANDARD_BUCKET_SIZE = 2000.0
MAX_QUERY_COST = 1000

DEMO_DOMAIN = "sandbox-demo.myshopify.com"
DEMO_TOKEN = "shpat_sandbox_demo_token"

# Root fields a missing access scope hides, per data type (for `deny`).
_DATA_TYPE_FIELDS = {
    "orders": (("orders", "ordersCount", "order"), "read_orders"),
    "products": (("products", "productsCount", "product"), "read_products"),
    "customers": (("customers", "customersCount"), "read_customers"),
    "inventory": (("locations", "location"), "read_inventory"),
}


class ShopifyEmulator:
    def __init__(self, *, restore_rate: float = STANDARD_RESTORE_RATE, bucket_size: float = STANDARD_BUCKET_SIZE,
                 max_query_cost: int = MAX_QUERY_COST, host: str = "127.0.0.1", port: int = 0,
                 reference_schema: str | os.PathLike | GraphQLSchema | None = None,
                 supported_versions: tuple[str, ...] = SUPPORTED_VERSIONS, requested_cost_scale: float = 1.0):
        """`reference_schema` (or env `SHOPIFY_EMULATOR_REFERENCE_SCHEMA`): the full Admin API SDL; when
        given, every incoming document is also validated against it, as Shopify would."""
        self.supported_versions = tuple(sorted(supported_versions))
        # Shopify's own calculation often charges connections less than the documented formula the
        # emulator computes; below 1.0 the emulator charges (and reports) that fraction of it.
        self.requested_cost_scale = requested_cost_scale
        self.restore_rate = restore_rate
        self.bucket_size = bucket_size
        self.max_query_cost = max_query_cost
        self.schema = build_executable_schema()
        reference_schema = reference_schema or os.environ.get("SHOPIFY_EMULATOR_REFERENCE_SCHEMA")
        self.reference_schema: GraphQLSchema | None = None
        if isinstance(reference_schema, GraphQLSchema):
            self.reference_schema = reference_schema
        elif reference_schema:
            self.reference_schema = build_schema(Path(reference_schema).read_text(encoding="utf-8"))
        self._address = (host, port)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._shops: dict[str, EmulatedShop] = {}  # by access token
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    # --- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> str:
        if self._server is None:
            self._server = Server(self._address, self)
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="shopify-emulator", daemon=True)
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for shop in list(self._shops.values()):
            shop.discard_bulk_files()

    def __enter__(self) -> "ShopifyEmulator":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Shopify emulator is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- shops --------------------------------------------------------------------------------------------
    def add_shop(self, domain: str, token: str, *, orders: int = 50, products: int = 20, customers: int = 30,
                 locations: int = 2, seed: int | None = None, restore_rate: float | None = None,
                 bucket_size: float | None = None, now: datetime | None = None) -> EmulatedShop:
        """Seed a shop with deterministic data (same domain and seed: same records, timestamps aside)."""
        rng = random.Random(seed if seed is not None else zlib.crc32(domain.encode()))
        data = ShopData(domain=domain, rng=rng)
        data.generate(orders=orders, products=products, customers=customers, locations=locations,
                      base=(now or datetime.now(timezone.utc)).replace(microsecond=0))
        shop = EmulatedShop(domain, token, data, self.schema,
                            bucket_size=bucket_size or self.bucket_size, restore_rate=restore_rate or self.restore_rate,
                            base_url_fn=lambda: self.base_url)
        with self._lock:
            self._shops[token] = shop
        return shop

    def shop(self, domain: str) -> EmulatedShop:
        for shop in self._shops.values():
            if shop.domain == domain:
                return shop
        raise KeyError(domain)

    def shop_for_token(self, token: str | None) -> EmulatedShop | None:
        return self._shops.get(token or "")

    def revoke(self, domain: str) -> None:
        """The merchant uninstalled the app: its token stops working (401)."""
        shop = self.shop(domain)
        with self._lock:
            self._shops.pop(shop.token, None)

    def deny(self, domain: str, data_type: str) -> None:
        """The app lacks the access scope of a data type: its fields answer ACCESS_DENIED."""
        fields, scope = _DATA_TYPE_FIELDS[data_type]
        shop = self.shop(domain)
        for name in fields:
            shop.denied[name] = scope
        shop.scopes.discard(scope)

    def withhold_scope(self, domain: str, scope: str) -> None:
        """The merchant did not grant `scope` (read_all_orders: only the last 60 days of orders show)."""
        shop = self.shop(domain)
        with shop.lock:
            shop.scopes.discard(scope)

    # --- mutation helpers for tests ----------------------------------------------------------------------
    def touch_orders(self, domain: str, count: int) -> list[str]:
        shop = self.shop(domain)
        with shop.lock:
            return shop.data.touch_orders(count)

    def add_orders(self, domain: str, count: int) -> list[str]:
        shop = self.shop(domain)
        with shop.lock:
            return shop.data.add_orders(count)

    def touch_products(self, domain: str, count: int) -> list[str]:
        shop = self.shop(domain)
        with shop.lock:
            return shop.data.touch_products(count)

    def set_available(self, domain: str, count: int) -> list[str]:
        shop = self.shop(domain)
        with shop.lock:
            return shop.data.set_available(count)

    # Deletions, each with the `destroy` event Shopify records (see deletions.py); `ids` or a random `count`.
    def delete_products(self, domain: str, count: int = 0, ids: list[str] | tuple[str, ...] = ()) -> list[str]:
        shop = self.shop(domain)
        with shop.lock:
            return deletions.delete_products(shop.data, count, ids)

    def delete_variants(self, domain: str, count: int = 0, ids: list[str] | tuple[str, ...] = ()) -> list[str]:
        shop = self.shop(domain)
        with shop.lock:
            return deletions.delete_variants(shop.data, count, ids)

    def delete_customers(self, domain: str, count: int = 0, ids: list[str] | tuple[str, ...] = (), *,
                         erased: bool = False) -> list[str]:
        shop = self.shop(domain)
        with shop.lock:
            return deletions.delete_customers(shop.data, count, ids, erased=erased)

    def delete_orders(self, domain: str, count: int = 0, ids: list[str] | tuple[str, ...] = ()) -> list[str]:
        shop = self.shop(domain)
        with shop.lock:
            return deletions.delete_orders(shop.data, count, ids)

    # --- knobs --------------------------------------------------------------------------------------------
    def set_throttle(self, domain: str, *, restore_rate: float | None = None, bucket_size: float | None = None,
                     available: float | None = None) -> None:
        shop = self.shop(domain)
        with shop.lock:
            bucket = shop.bucket
            bucket.restore_rate = restore_rate if restore_rate is not None else bucket.restore_rate
            bucket.size = bucket_size if bucket_size is not None else bucket.size
            bucket.available = min(bucket.size, available if available is not None else bucket.available)

    def cut_bulk_short(self, domain: str, lines: int) -> None:
        """Bulk result files lack their last `lines` lines, while `objectCount` announces them all."""
        self.shop(domain).bulk_cut_short = lines

    def fail_bulk(self, domain: str, failed: bool = True) -> None:
        """Bulk operations end FAILED (INTERNAL_SERVER_ERROR) with a partial result."""
        self.shop(domain).bulk_fail = failed

    def stats(self, domain: str) -> ShopStats:
        """Counters: requests per operation, HTTP statuses, THROTTLED answers, cost samples over time."""
        return self.shop(domain).stats

    def inject(self, kind: str, times: int = 1, *, status: int = 500, retry_after: float | None = None,
               delay: float = 0.0, operation: str | None = None) -> None:
        """Queue `times` faults: "429" (with Retry-After), "5xx" (status), "slow" (delay), "drop",
        "internal" (HTTP 200 with an INTERNAL_SERVER_ERROR error, as Shopify's GraphQL layer answers)."""
        if kind not in ("429", "5xx", "slow", "drop", "internal"):
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self._faults += [Fault(kind, status, retry_after, delay, operation) for _ in range(times)]

    def take_fault(self, operation: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.operation is None or fault.operation == operation:
                    return self._faults.pop(i)
        return None

    def bulk_file(self, token: str) -> tuple[str, int] | None:
        for shop in list(self._shops.values()):
            with shop.lock:
                found = shop.bulk_file(token)
            if found is not None:
                return found
        return None

    def set_bulk_timing(self, domain: str, *, seconds: float | None = None,
                        objects_per_second: float | None = None) -> None:
        """The export time model: at least `seconds`, plus the objects at `objects_per_second`."""
        shop = self.shop(domain)
        with shop.lock:
            if seconds is not None:
                shop.bulk_seconds = seconds
            shop.bulk_objects_per_second = objects_per_second

    def bulk_log(self, domain: str):
        """The shop's bulk operations with their start and finish times (see bulk.LoggedOperation)."""
        shop = self.shop(domain)
        with shop.lock:
            return shop.bulk_log()

    # --- sandbox demo -------------------------------------------------------------------------------------
    def seed_demo(self, *, orders: int = 300, products: int = 40, customers: int = 60) -> dict[str, str]:
        """Seed the demo shop (once) and return its secrets, as `credentials add` would store them."""
        if DEMO_TOKEN not in self._shops:
            # Anchored at today's midnight (UTC): every run of the same day sees the very same shop, so a
            # second demo run shows dedup at work (nothing new), while sales stay recent for the SKU report.
            today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
            self.add_shop(DEMO_DOMAIN, DEMO_TOKEN, orders=orders, products=products, customers=customers, seed=7,
                          now=today)
        return self.demo_secrets()

    @staticmethod
    def demo_secrets() -> dict[str, str]:
        return {"shop_domain": DEMO_DOMAIN, "access_token": DEMO_TOKEN}


__all__ = ["ShopifyEmulator", "SUPPORTED_VERSIONS", "EmulatedShop", "LeakyBucket", "ShopStats", "STANDARD_RESTORE_RATE",
           "STANDARD_BUCKET_SIZE", "MAX_QUERY_COST", "DEMO_DOMAIN", "DEMO_TOKEN"]
