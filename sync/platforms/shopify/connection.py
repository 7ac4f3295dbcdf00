"""A live Shopify connection: the GraphQL client, the bulk exports and the streams of one shop.

Imported by `ShopifyPlatform.connect` only: what it needs (requests, the client, the streams) is not
loaded by a process that merely starts, parses its settings or stores an integration.
"""

from __future__ import annotations

from typing import Iterator, Sequence

from ...config import Settings
from ...errors import DataTypeSkipped, IncompleteDataError
from ...models import Page, StreamRequest
from .bulk import BulkExports
from .client import AccessDenied, ShopifyClient
from .deletions import DeletionStream
from .ids import ShopifyIds
from .options import ShopifyOptions
from .streams import SORTED_SPECS, ShopStreams

# What a missing scope means for each data type, in words a merchant can act on.
_SCOPES = {
    "orders": "read_orders (and read_all_orders for orders older than 60 days)",
    "products": "read_products",
    "customers": "read_customers, with protected customer data access approved for the app",
    "inventory": "read_inventory and read_locations",
    "deletions": "read_products, read_customers and read_orders (the event feed of deleted records)",
}


class ShopifyConnection:
    def __init__(self, shop_domain: str, access_token: str, settings: Settings):
        self.shop = shop_domain
        self.options: ShopifyOptions = settings.options_for("shopify", ShopifyOptions.from_env)
        base_url = settings.shopify_base_url or f"https://{shop_domain}"
        self.client = ShopifyClient(shop_domain, access_token, base_url=base_url,
                                    api_version=settings.shopify_api_version, options=self.options)
        self.exports = BulkExports(self.client, self.options)
        self.streams = ShopStreams(self.client, self.options, self.exports)
        self.ids = ShopifyIds(self.client, self.exports, self.streams)  # the audit's side (ids.py)
        self.auditor = self.ids
        self.deletions = DeletionStream(self.client, self.ids)
        self.scopes: frozenset[str] = frozenset()  # the app's access scopes, as the connection test found them

    def test(self) -> str:
        from . import queries

        answer = self.client.execute(queries.SHOP, operation="ShopInfo")
        shop = answer["shop"]
        self.scopes = frozenset(s["handle"] for s in (answer.get("currentAppInstallation") or {}).get("accessScopes") or ())
        return f"{shop['name']} ({shop['myshopifyDomain']}, {shop['plan']['publicDisplayName']} plan)"

    def limits(self) -> dict[str, str]:
        """Without read_all_orders Shopify shows an app only the orders of the last 60 days, with no error."""
        if "read_orders" in self.scopes and "read_all_orders" not in self.scopes:
            # (The shop is not named: the engine redacts the secrets' values, the domain among them.)
            return {"orders": "Shopify shows this app only the orders of the last 60 days: older ones are neither "
                              "read nor counted until the app is granted the read_all_orders access scope (then "
                              "run `python -m sync reset-cursor --data-type orders` to read them)"}
        return {}

    def prepare(self, requests: Sequence[StreamRequest]) -> Iterator[str]:
        """Decide how each data type is read and start the bulk exports together (the engine's hook):
        the data types come back paged ones first, then each export as it becomes ready."""
        return self.streams.prepare(list(requests))

    def fetch(self, request: StreamRequest) -> Iterator[Page]:
        try:
            if request.data_type in SORTED_SPECS:
                yield from self.streams.sorted_stream(SORTED_SPECS[request.data_type], request)
            elif request.data_type == "inventory":
                yield from self.streams.inventory_stream(request)
            elif request.data_type == "deletions":
                yield from self.deletions.fetch(request)
            else:
                raise DataTypeSkipped(f"Shopify has no data type {request.data_type!r}")
        except AccessDenied as exc:
            raise DataTypeSkipped(
                f"Shopify denied access to {request.data_type} for {self.shop}: the app needs the "
                f"{_SCOPES.get(request.data_type, 'matching')} access scope ({exc})") from None
        except (KeyError, TypeError) as exc:
            # An answer without a field the 2026-10 schema promises (or null where it promises an object).
            raise IncompleteDataError(
                f"Shopify's answer for {request.data_type} could not be read ({type(exc).__name__}: {exc}): it is "
                "not in the shape of the API version asked for; nothing after the last committed page was "
                "stored and the cursor stays there.") from None

    def close(self) -> None:
        try:
            self.exports.close()
        finally:
            self.client.close()
