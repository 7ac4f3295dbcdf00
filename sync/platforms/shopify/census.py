"""What each Shopify data type tells the audit after a sync (`models.Census`, see sync/completeness.py).

- orders, products, customers: Shopify's own count (`ordersCount`, `productsCount`, `customersCount` with
  `limit: null`, so past 10,000, and its `precision`). A paged read asks it as `total` on every page, in
  the same request (a point each): the last page's is the figure, taken as the read ends, and a quiet sync
  spends no request on it. A bulk read asks it once after the export (`Counts`): one request.
- inventory: Shopify counts no inventory levels. A read of every level (a first sync, a re-read) is a
  snapshot of their ids, compared with the stored ones (a level no longer there is marked deleted); a
  delta read sees only the changed levels and gives no figure (`sync audit` compares every level id).
"""

from __future__ import annotations

from typing import Any, Mapping

from ...models import Census
from . import queries
from .client import ShopifyClient

COUNT_ROOTS = {"orders": "ordersCount", "products": "productsCount", "customers": "customersCount"}


def of_count(counted: Mapping[str, Any] | None) -> Census | None:
    """A Count object (`{count, precision}`) as the census; None when absent."""
    if not isinstance(counted, Mapping) or counted.get("count") is None:
        return None
    return Census(count=int(counted["count"]), exact=counted.get("precision", "EXACT") == "EXACT")


def of_page(answer: Mapping[str, Any]) -> Census | None:
    """The `total` a paged document asked beside its page."""
    return of_count(answer.get("total"))


def counts(client: ShopifyClient, data_types: list[str]) -> dict[str, Census]:
    """The whole counts of these data types (those Shopify counts), in one request."""
    wanted = [t for t in data_types if t in COUNT_ROOTS]
    if not wanted:
        return {}
    answer = client.execute(queries.COUNTS, {t: t in wanted for t in COUNT_ROOTS}, operation="Counts")
    out = {}
    for data_type in wanted:
        census = of_count(answer.get(COUNT_ROOTS[data_type]))
        if census is not None:
            out[data_type] = census
    return out
