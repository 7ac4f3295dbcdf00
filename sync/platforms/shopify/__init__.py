"""Shopify through the GraphQL Admin API (`POST https://{shop}/admin/api/{version}/graphql.json`).

Secrets: `{"shop_domain": "<name>.myshopify.com", "access_token": "shpat_..."}`. `SHOPIFY_BASE_URL`
replaces `https://{shop_domain}` (sandbox, tests, proxies); `SHOPIFY_API_VERSION` pins the version.
Data types: orders (with all line items), products (with all variants), customers, inventory (one
record per inventory item x location). Tuning knobs: see `options.py`.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping, Sequence

from ...config import Settings
from ...errors import CredentialError, DataTypeSkipped
from ...models import DATA_TYPES, Page, StreamRequest
from ..base import require_fields
from .bulk import BulkExports
from .client import AccessDenied, ShopifyClient
from .options import ShopifyOptions
from .streams import SORTED_SPECS, ShopStreams

_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")

# What a missing scope means for each data type, in words a merchant can act on.
_SCOPES = {
    "orders": "read_orders (and read_all_orders for orders older than 60 days)",
    "products": "read_products",
    "customers": "read_customers, with protected customer data access approved for the app",
    "inventory": "read_inventory and read_locations",
}


def normalize_domain(value: Any) -> str:
    text = str(value or "").strip().lower()
    text = re.sub(r"^https?://", "", text).split("/", 1)[0]
    if not _DOMAIN.match(text):
        raise CredentialError("shopify credentials have a malformed 'shop_domain': use the shop's "
                              "<name>.myshopify.com domain")
    return text


class ShopifyConnection:
    def __init__(self, shop_domain: str, access_token: str, settings: Settings):
        self.shop = shop_domain
        self.options = ShopifyOptions.from_env(settings.env)
        base_url = settings.shopify_base_url or f"https://{shop_domain}"
        self.client = ShopifyClient(shop_domain, access_token, base_url=base_url,
                                    api_version=settings.shopify_api_version, options=self.options)
        self.exports = BulkExports(self.client, self.options)
        self.streams = ShopStreams(self.client, self.options, self.exports)

    def test(self) -> str:
        from . import queries

        shop = self.client.execute(queries.SHOP, operation="ShopInfo")["shop"]
        return f"{shop['name']} ({shop['myshopifyDomain']}, {shop['plan']['publicDisplayName']} plan)"

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
            else:
                raise DataTypeSkipped(f"Shopify has no data type {request.data_type!r}")
        except AccessDenied as exc:
            raise DataTypeSkipped(
                f"Shopify denied access to {request.data_type} for {self.shop}: the app needs the "
                f"{_SCOPES.get(request.data_type, 'matching')} access scope ({exc})") from None

    def close(self) -> None:
        try:
            self.exports.close()
        finally:
            self.client.close()


class ShopifyPlatform:
    name = "shopify"
    data_types = DATA_TYPES["shopify"]

    def validate_secrets(self, secrets: Mapping[str, Any]) -> None:
        require_fields("shopify", secrets, ("shop_domain", "access_token"))
        normalize_domain(secrets["shop_domain"])
        token = secrets["access_token"]
        # Shopify's tokens are ASCII (shpat_ + hex); anything else could not even go out as an HTTP header.
        if not isinstance(token, str) or not token.isascii() or not token.isprintable() or " " in token:
            raise CredentialError("shopify credentials have a malformed 'access_token' (it must be one word of "
                                  "printable ASCII, as Shopify issues them)")

    def connect(self, secrets: Mapping[str, Any], settings: Settings) -> ShopifyConnection:
        self.validate_secrets(secrets)
        return ShopifyConnection(normalize_domain(secrets["shop_domain"]), secrets["access_token"], settings)


__all__ = ["ShopifyPlatform", "ShopifyConnection"]
