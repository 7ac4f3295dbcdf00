"""`inventory`: FBA getInventorySummaries (details=true), per marketplace, one record per seller SKU.

Record ids follow the listings scheme: the seller SKU in the integration's first marketplace,
`<sku>|<marketplaceId>` in the others; `data` is the InventorySummary plus `marketplaceId`.
Inventory is a snapshot, read whole each sync (dedup keeps writes to what changed). A nextToken expires
30 seconds after it is issued, so pages are followed at once (each page is only committed in between);
should one expire anyway, the marketplace is read again from the start (`AMAZON_INVENTORY_RESTARTS`).

A seller not enrolled in FBA gets 403 (or no summaries at all): the data type is skipped with that
reason, and the other data types still sync. A 403 in some marketplaces only skips those marketplaces.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Iterator

from ...errors import DataTypeSkipped, IncompleteDataError, PlatformError
from ..paging import NextPages
from ...models import Page, Record, StreamRequest
from . import census
from .calls import AmazonForbidden, SpApiCaller
from .client import InventoriesClient
from .listings import listing_id
from ...timeutil import iso_z as iso, parse
from .options import AmazonOptions

log = logging.getLogger("sync.platforms.amazon")

NOT_ENROLLED = ("Amazon denied access to FBA inventory (403): the seller is not enrolled in Fulfillment by "
                "Amazon, or the app lacks the 'Amazon Fulfillment' role. Inventory is skipped; enrol in FBA "
                "or grant the role and authorize the app again to sync it.")
NOTHING = ("Amazon returned no FBA inventory for any marketplace of this seller: the seller does not appear "
           "to be enrolled in Fulfillment by Amazon. Inventory is skipped.")


def _updated(summary: dict[str, Any]) -> datetime | None:
    raw = summary.get("lastUpdatedTime")
    try:
        return parse(raw) if raw else None
    except ValueError:
        return None


class _TokenExpired(Exception):
    pass


def fetch_inventory(caller: SpApiCaller, client: InventoriesClient, request: StreamRequest,
                    marketplace_ids: list[str], tuning: AmazonOptions) -> Iterator[Page]:
    total = 0
    forbidden: list[str] = []
    ids: set[str] = set()
    for marketplace in marketplace_ids:
        for restart in range(tuning.inventory_restarts + 1):
            try:
                for page in census.collect(_marketplace_pages(caller, client, marketplace, marketplace_ids[0]), ids):
                    total += len(page.records)
                    yield page
                break
            except _TokenExpired:
                if restart == tuning.inventory_restarts:
                    raise PlatformError(
                        f"Amazon's inventory page token for marketplace {marketplace} kept expiring "
                        f"(they live 30 seconds); the next sync will try again.") from None
            except AmazonForbidden:
                # FBA is per region and program: one marketplace may be enrolled, another not.
                log.warning("Amazon FBA inventory denied (403) for marketplace %s", marketplace)
                forbidden.append(marketplace)
                break
    if len(forbidden) == len(marketplace_ids):
        raise DataTypeSkipped(NOT_ENROLLED)
    if total == 0:
        raise DataTypeSkipped(NOTHING)
    # Every marketplace was read to its last page: the snapshot is complete (but for the marketplaces
    # that denied access, which it does not speak for).
    yield Page(records=[], state={"snapshot_at": iso(request.started_at)},
               census=census.snapshot(ids, [m for m in marketplace_ids if m not in forbidden], marketplace_ids[0]))


def _marketplace_pages(caller: SpApiCaller, client: InventoriesClient, marketplace: str,
                       primary: str) -> Iterator[Page]:
    token: str | None = None
    pages = NextPages(f"Amazon getInventorySummaries of marketplace {marketplace}")
    while True:
        params: dict[str, Any] = {"details": "true", "granularityType": "Marketplace",
                                  "granularityId": marketplace, "marketplaceIds": [marketplace]}
        if token:
            params["nextToken"] = token
        try:
            response = caller.call("getInventorySummaries",
                                   lambda: client.get_inventory_summary_marketplace(**params))
        except PlatformError as exc:
            if token and "expired" in str(exc).lower():
                raise _TokenExpired() from None
            raise
        payload = response.payload or {}
        summaries = payload.get("inventorySummaries")
        if not isinstance(summaries, list):
            raise IncompleteDataError(f"Amazon answered getInventorySummaries for marketplace {marketplace} "
                                      f"without an inventorySummaries list.")
        token = pages.next(((response.pagination or {}).get("nextToken") if hasattr(response, "pagination")
                            else None) or response.next_token)
        records = []
        for summary in summaries:
            sku = str(summary.get("sellerSku") or "").strip()
            if not sku:
                continue
            records.append(Record(external_id=listing_id(sku, marketplace, primary),
                                  data={**summary, "marketplaceId": marketplace}, updated_at=_updated(summary)))
        yield Page(records=records)
        if not token:
            return
