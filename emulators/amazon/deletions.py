"""Listings a seller removes (Seller Central's "Delete product and listing"), for the tests and `--sandbox`.

A removed listing is gone from the next merchant listings report of its marketplace; with `inventory`,
its FBA inventory summary goes too (a listing deleted once its stock is gone), else the summary stays,
as Amazon keeps reporting stock still in its warehouses.
"""

from __future__ import annotations

from typing import Sequence

from .seed import SellerData


def remove_listings(data: SellerData, *, count: int = 0, skus: Sequence[str] = (), marketplace: str | None = None,
                    inventory: bool = True) -> list[str]:
    """Remove the listings of `skus` (or the last `count` listed) in one marketplace (default: every one
    of the seller's); returns the SKUs removed."""
    marketplaces = [marketplace] if marketplace else list(data.marketplaces)
    chosen = list(skus)
    if not chosen and count:
        first = data.listings.get(marketplaces[0], [])
        chosen = [row["seller-sku"] for row in first[-count:]]
    wanted = set(chosen)
    for m in marketplaces:
        data.listings[m] = [row for row in data.listings.get(m, []) if row["seller-sku"] not in wanted]
        if inventory:
            data.inventory[m] = [s for s in data.inventory.get(m, []) if s["sellerSku"] not in wanted]
    return chosen
