"""Amazon's side of `python -m sync audit` (the connection's `auditor`, see platforms/base.py).

- `products` and `inventory`: the ids of a complete snapshot, read as a sync reads it (the listings report
  of every marketplace, reused when one was requested in the last `AMAZON_REPORT_REUSE_MINUTES`; the FBA
  summaries); a snapshot cut short fails the comparison instead of reporting differences. A stored SKU the
  complete snapshot does not hold is gone (the snapshot is Amazon's word for it); missing ones are taken
  from a snapshot read again.
- `orders`: the orders searchOrders lists as last updated in the window from `AMAZON_AUDIT_ORDERS_DAYS`
  ago (default 30) to now, against the stored orders last updated in the same window; missing ones are
  fetched with `getOrder` (Orders API v2026-01-01), and a stored order is gone when `getOrder` answers 404.
  searchOrders allows one call every three minutes: a large window takes a while.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Sequence

from ...config import env_number
from ...errors import IncompleteDataError
from ...models import Cursor, Record, StreamRequest
from ...timeutil import iso_z, utcnow
from .calls import AmazonRefused
from .census import covering
from .orders import _record
from .streams import read

if TYPE_CHECKING:
    from .connection import AmazonConnection

DEFAULT_ORDER_DAYS = 30


class AmazonIds:
    data_types = ("orders", "products", "inventory")

    def __init__(self, connection: "AmazonConnection", env: Mapping[str, str], *,
                 now: Callable[[], datetime] = utcnow):
        self.connection = connection
        self.now = now
        self._windows: dict[str, tuple[datetime, datetime] | None] = {}
        self.order_days = int(env_number(env, "AMAZON_AUDIT_ORDERS_DAYS", DEFAULT_ORDER_DAYS, 1, integer=True))

    def _request(self, data_type: str) -> StreamRequest:
        state = {}
        if data_type == "orders":
            state = {"last_updated_before": iso_z(self.now() - timedelta(days=self.order_days))}
        return StreamRequest(data_type=data_type, cursor=Cursor.of(state, timedelta(0),
                                                                   "last_updated_before" if data_type == "orders"
                                                                   else None),
                             started_at=self.now(), stored_versions=lambda ids: {})

    def _read(self, data_type: str) -> Iterator[Record]:
        census = None
        for page in read(self.connection, self._request(data_type)):
            yield from page.records
            census = page.census or census
        if census is None:
            raise IncompleteDataError(f"Amazon's {data_type} could not be read completely; nothing was compared")
        self._windows[data_type] = census.updated_between

    def platform_ids(self, data_type: str) -> Iterator[tuple[str, datetime | None]]:
        for record in self._read(data_type):
            yield record.external_id, record.updated_at

    def window(self, data_type: str) -> tuple[datetime, datetime] | None:
        return self._windows.get(data_type)

    def covers(self, data_type: str) -> Callable[[str], bool] | None:
        if data_type == "orders":
            return None
        ids = self.connection.marketplace_ids
        return covering(ids, ids[0])

    def gone(self, data_type: str, ids: Sequence[str]) -> set[str]:
        if data_type != "orders":
            return set(ids)  # absent from the complete snapshot just read
        out = set()
        for order_id in ids:
            try:
                self._get_order(order_id)
            except AmazonRefused as exc:
                if exc.status == 404:
                    out.add(order_id)
                    continue
                raise
        return out

    def records(self, data_type: str, ids: Sequence[str]) -> Iterator[Record]:
        wanted = set(ids)
        if data_type != "orders":
            for record in self._read(data_type):
                if record.external_id in wanted:
                    yield record
            return
        for order_id in ids:
            try:
                yield _record(self._get_order(order_id))
            except AmazonRefused as exc:
                if exc.status != 404:
                    raise

    def _get_order(self, order_id: str) -> dict:
        c = self.connection
        response = c.caller.call("getOrder", lambda: c.clients.orders.get_order(
            order_id, includedData=list(c.tuning.included_data)))
        payload = response.payload if isinstance(getattr(response, "payload", None), dict) else {}
        order = payload.get("order")
        if not isinstance(order, dict):
            raise IncompleteDataError(f"Amazon answered getOrder for {order_id} without an order")
        return order
