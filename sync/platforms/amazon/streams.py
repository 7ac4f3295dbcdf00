"""Amazon's streams: which reader reads each data type (the counterpart of Shopify's `streams`).

`orders` (orders.py: searchOrders windows, incremental on `last_updated_before`), `products`
(listings.py: the merchant listings report, a full snapshot), `inventory` (inventory.py: FBA summaries,
a full snapshot).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator

from ...errors import PlatformError
from ...models import Page, StreamRequest
from .inventory import fetch_inventory
from .listings import ListingsFetcher
from .orders import fetch_orders

if TYPE_CHECKING:
    from .connection import AmazonConnection

Reader = Callable[["AmazonConnection", StreamRequest], Iterator[Page]]

READERS: dict[str, Reader] = {
    "orders": lambda c, r: fetch_orders(c.caller, c.clients.orders, r, c.marketplace_ids, c.tuning),
    "products": lambda c, r: ListingsFetcher(c.caller, c.clients.reports, c.tuning).fetch(r, c.marketplace_ids),
    "inventory": lambda c, r: fetch_inventory(c.caller, c.clients.inventories, r, c.marketplace_ids, c.tuning),
}


def read(connection: "AmazonConnection", request: StreamRequest) -> Iterator[Page]:
    reader = READERS.get(request.data_type)
    if reader is None:
        raise PlatformError(f"Amazon has no data type {request.data_type!r}")
    return reader(connection, request)
