"""What each Amazon data type tells the audit after a sync (`models.Census`, see sync/completeness.py).

- `products` (the listings report) and `inventory` (FBA summaries) are full snapshots: the ids a sync read
  in every marketplace, once the last one is read to its end. A stored SKU absent from them is gone from
  Amazon and gets `deleted_at`; one that reappears is written again, which clears it. A snapshot cut short
  (a FATAL report, a failed download, a page walk that stopped) gives no census, so it marks nothing; a
  marketplace that could not be read (an FBA 403 there) is not covered by it.
- `orders` have no count of their own: the census is the number of distinct orders searchOrders listed in
  the sync's window (lastUpdatedAfter to lastUpdatedBefore), next to the stored rows last updated in it.
  A sync that resumed a window half-read by an earlier one saw only part of it: no census then.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterable, Iterator, Sequence

from ...models import Census, Page


def marketplace_of(external_id: str, primary: str) -> str:
    """The marketplace a listing or inventory id belongs to (`<sku>` primary, `<sku>|<marketplace>` others)."""
    return external_id.rsplit("|", 1)[1] if "|" in external_id else primary


def covering(marketplaces: Sequence[str], primary: str) -> Callable[[str], bool]:
    """Stored ids of these marketplaces: what a snapshot read in them speaks for (rows of a marketplace
    the integration no longer lists, or could not read this time, are left as they are)."""
    read = set(marketplaces)
    return lambda external_id: marketplace_of(external_id, primary) in read


def collect(pages: Iterable[Page], ids: set[str]) -> Iterator[Page]:
    """The pages, unchanged, with their records' ids added to `ids` on the way."""
    for page in pages:
        ids.update(record.external_id for record in page.records)
        yield page


def on_last(pages: Iterable[Page], census: Callable[[], Census | None]) -> Iterator[Page]:
    """The pages, the last one carrying `census()` (asked once every page is read: a read that fails
    midway never gets to it). One page is held back to know which is the last (for pages read from a
    document already downloaded); when the read fails, the page held back is handed over first."""
    held: Page | None = None
    iterator = iter(pages)
    while True:
        try:
            page = next(iterator)
        except StopIteration:
            break
        except BaseException:
            if held is not None:
                yield held
            raise
        if held is not None:
            yield held
        held = page
    if held is None:
        held = Page(records=[])
    held.census = census()
    yield held


def snapshot(ids: set[str], marketplaces: Sequence[str], primary: str) -> Census:
    """A complete snapshot's census."""
    return Census(ids=frozenset(ids), covers=covering(marketplaces, primary))


def window_count(ids: set[str], after: datetime, before: datetime) -> Census:
    """The orders listed in [after, before] (bounds at the second precision they were sent with, both
    included, as searchOrders reads them)."""
    return Census(count=len(ids), updated_between=(after.replace(microsecond=0), before.replace(microsecond=0)))
