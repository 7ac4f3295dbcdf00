"""A small platform for the engine's tests: records in memory, incremental by updated-at, faults on demand.

Its data can also be derived from the secrets alone (`FakeShop.from_secrets`), so that separate
processes (the concurrency and crash tests) see the same shop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping

from sync.errors import AuthError, DataTypeSkipped, PlatformError
from sync.models import Census, Deletion, Page, Record, StreamRequest
from sync.platforms.base import require_fields

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass
class FakeShop:
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # data_type -> id -> record
    page_size: int = 50
    page_delay: float = 0.0
    reject_token: bool = False
    leak_token: bool = False  # fail with an error that (wrongly) quotes the token: redaction must catch it
    fail_data_type: str | None = None
    skip_data_type: str | None = None
    requests: int = 0
    clock: int = 0
    # Completeness: each stream's last page carries the platform's count; data types read as full
    # snapshots (every record each sync, with their ids); deletions the side stream "deletions" reports.
    census: bool = True
    snapshots: tuple[str, ...] = ()
    fail_snapshot_midway: bool = False  # a snapshot stream fails after its first page
    deletions: list[tuple[str, str, int]] = field(default_factory=list)  # (data type, id, clock)

    @classmethod
    def generate(cls, orders: int = 120, products: int = 30, **kwargs: Any) -> "FakeShop":
        shop = cls(**kwargs)
        for data_type, count in (("orders", orders), ("products", products)):
            for i in range(count):
                shop.put(data_type, f"{i + 1}", {"title": f"{data_type} {i + 1}", "qty": i % 7})
        return shop

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, Any]) -> "FakeShop":
        return cls.generate(orders=int(secrets.get("orders", 120)), products=int(secrets.get("products", 30)),
                            page_size=int(secrets.get("page_size", 50)),
                            page_delay=float(secrets.get("page_delay", 0.0)),
                            reject_token=bool(secrets.get("reject_token", False)),
                            leak_token=bool(secrets.get("leak_token", False)))

    def put(self, data_type: str, external_id: str, fields: dict[str, Any]) -> None:
        self.clock += 1
        updated = EPOCH + timedelta(seconds=self.clock)
        self.records.setdefault(data_type, {})[external_id] = {
            "id": external_id, "updatedAt": updated.isoformat(), **fields}

    def remove(self, data_type: str, external_id: str) -> None:
        """Delete a record on the platform (the side stream reports it)."""
        self.clock += 1
        del self.records[data_type][external_id]
        self.deletions.append((data_type, external_id, self.clock))

    def change(self, data_type: str, external_id: str) -> None:
        record = dict(self.records[data_type][external_id])
        record.pop("updatedAt")
        record["qty"] = record.get("qty", 0) + 100
        record.pop("id")
        self.put(data_type, external_id, record)


class FakeConnection:
    def __init__(self, shop: FakeShop, secrets: Mapping[str, Any]):
        self.shop = shop
        self.secrets = secrets

    def test(self) -> str:
        self.shop.requests += 1
        if self.shop.leak_token:
            raise PlatformError(f"request with token {self.secrets['access_token']} failed")
        if self.shop.reject_token:
            raise AuthError(f"the fake platform rejected the access token for {self.secrets['shop_domain']}")
        return self.secrets["shop_domain"]

    def fetch(self, request: StreamRequest) -> Iterator[Page]:
        if request.data_type == "deletions":
            yield from self._deletions(request)
            return
        if request.data_type == self.shop.skip_data_type:
            raise DataTypeSkipped("the app lacks the read_customers scope")
        snapshot = request.data_type in self.shop.snapshots
        since = None if snapshot else request.cursor.since()
        everything = self.shop.records.get(request.data_type, {})
        census = None
        if snapshot:
            census = Census(ids=frozenset(everything))
        elif self.shop.census:
            census = Census(count=len(everything))
        rows = sorted(everything.values(), key=lambda r: r["updatedAt"])
        if since is not None:
            rows = [r for r in rows if datetime.fromisoformat(r["updatedAt"]) >= since]
        self.shop.requests += 1
        if not rows:
            yield Page(records=[], state=None, census=census)  # nothing new: the cursor stays
            return
        for start in range(0, len(rows), self.shop.page_size):
            if start and request.data_type == self.shop.fail_data_type:
                raise PlatformError(f"the fake platform answered 500 for {request.data_type} three times")
            if start and snapshot and self.shop.fail_snapshot_midway:
                raise PlatformError(f"the fake platform's {request.data_type} report failed midway")
            chunk = rows[start:start + self.shop.page_size]
            if self.shop.page_delay:
                time.sleep(self.shop.page_delay)
            last = start + self.shop.page_size >= len(rows)
            yield Page(
                records=[Record(r["id"], r, datetime.fromisoformat(r["updatedAt"])) for r in chunk],
                state=request.cursor.at(chunk[-1]["updatedAt"]),
                census=census if last else None,
            )

    def _deletions(self, request: StreamRequest) -> Iterator[Page]:
        after = int(request.cursor.get("after", 0))
        events = [e for e in self.shop.deletions if e[2] > after]
        self.shop.requests += 1
        yield Page(records=[], deleted=[Deletion(t, i, EPOCH + timedelta(seconds=c)) for t, i, c in events],
                   state={"after": max([after] + [e[2] for e in events])})

    def close(self) -> None:
        pass


class FakePlatform:
    name = "shopify"
    data_types = ("orders", "products")
    cursor_fields = {"orders": "updated_at", "products": "updated_at"}

    def parse_options(self, env: Mapping[str, str]) -> None:
        return None

    def __init__(self, shops: dict[str, FakeShop] | None = None, *, side_streams: tuple[str, ...] = ()):
        self.shops = shops if shops is not None else {}
        self.side_streams = side_streams  # ("deletions",): the platform reports deletions

    def validate_secrets(self, secrets: Mapping[str, Any]) -> None:
        require_fields("shopify", secrets, ("shop_domain", "access_token"))

    def connect(self, secrets: Mapping[str, Any], settings: Any) -> FakeConnection:
        domain = secrets["shop_domain"]
        if domain not in self.shops:
            self.shops[domain] = FakeShop.from_secrets(secrets)
        return FakeConnection(self.shops[domain], secrets)
