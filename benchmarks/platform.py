"""A benchmark platform: serves generated orders in pages through the real `SyncEngine`.

Like a real fetcher it yields `Page`s of records sorted by updated-at with the cursor on each page.
It always re-reads the whole shop (a forced full re-sync), so a re-sync hands every record to dedup.
Records come either from a list built before the clock starts (throughput figures: the platform's own
cost stays out of the store's figure) or are generated page by page (memory figures: nothing held).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Callable, Iterator, Mapping, Sequence

from sync.models import Page, Record, StreamRequest

from . import records

PAGE_SIZE = 250


def build(count: int, changed_fraction: float = 0.0) -> list[Record]:
    return [make_record(i, v) for i, v in records.orders(count, changed_fraction)]


def make_record(i: int, version: int = 0) -> Record:
    data = records.order(i, version)
    return Record(str(i), data, records.updated_at(i, version))


class BenchShop:
    """What one integration serves: a fixed list of records, or `count` generated on the fly."""

    def __init__(self, prebuilt: Sequence[Record] | None = None, *, count: int = 0, changed_fraction: float = 0.0,
                 page_size: int = PAGE_SIZE, page_delay: float = 0.0):
        self.prebuilt = prebuilt
        self.count = len(prebuilt) if prebuilt is not None else count
        self.changed_fraction = changed_fraction
        self.page_size = page_size
        self.page_delay = page_delay

    def pages(self) -> Iterator[list[Record]]:
        for start in range(0, self.count, self.page_size):
            if self.page_delay:
                time.sleep(self.page_delay)  # the platform's answer time (threads overlap it)
            if self.prebuilt is not None:
                yield list(self.prebuilt[start:start + self.page_size])
            else:
                stop = min(start + self.page_size, self.count)
                yield [make_record(i, 1 if records.changed(i, self.changed_fraction) else 0)
                       for i in range(start + 1, stop + 1)]


class BenchConnection:
    def __init__(self, shop: BenchShop):
        self.shop = shop

    def test(self) -> str:
        return "bench shop"

    def fetch(self, request: StreamRequest) -> Iterator[Page]:
        for chunk in self.shop.pages():
            last: datetime | None = chunk[-1].updated_at if chunk else None
            yield Page(records=chunk, state={"updated_at": last.isoformat()} if last else None)

    def close(self) -> None:
        pass


class BenchPlatform:
    """Registered as "shopify" (the engine only knows the real platform names); one data type."""

    name = "shopify"
    data_types = ("orders",)

    def __init__(self, shop_for: Callable[[Mapping[str, Any]], BenchShop]):
        self._shop_for = shop_for

    def validate_secrets(self, secrets: Mapping[str, Any]) -> None:
        pass

    def connect(self, secrets: Mapping[str, Any], settings: Any) -> BenchConnection:
        return BenchConnection(self._shop_for(secrets))
