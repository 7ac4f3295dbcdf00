"""Shopify through the GraphQL Admin API (`POST https://{shop}/admin/api/{version}/graphql.json`).

Secrets: `{"shop_domain": "<name>.myshopify.com", "access_token": "shpat_..."}`. `SHOPIFY_BASE_URL`
replaces `https://{shop_domain}` (sandbox, tests, proxies); `SHOPIFY_API_VERSION` pins the version.
Data types: orders (with all line items), products (with all variants), customers, inventory (one
record per inventory item x location). Modules: `options` (SHOPIFY_* knobs), `connection` (the live
connection, imported by `connect` only), `client` (GraphQL calls, retries, throttling), `streams` (the
data types' readers), `bulk` + `spool` (bulk exports), `queries`, `pagesize`, `throttle`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Mapping

from ...config import Settings
from ...errors import CredentialError
from ..base import require_fields
from .options import ShopifyOptions
from .personal import PERSONAL_DATA

if TYPE_CHECKING:
    from .connection import ShopifyConnection

_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


def normalize_domain(value: Any) -> str:
    text = str(value or "").strip().lower()
    text = re.sub(r"^https?://", "", text).split("/", 1)[0]
    if not _DOMAIN.match(text):
        raise CredentialError("shopify credentials have a malformed 'shop_domain': use the shop's "
                              "<name>.myshopify.com domain")
    return text


class ShopifyPlatform:
    name = "shopify"
    data_types = ("orders", "products", "customers", "inventory")
    # Every data type is read by updatedAt from its cursor (the largest updatedAt committed).
    cursor_fields = {data_type: "updated_at" for data_type in data_types}
    personal_data = PERSONAL_DATA  # removed from stored records when SYNC_STORE_PII=false
    # Read before the data types, its own cursor in sync_state: the rows Shopify reports deleted (deletions.py).
    side_streams = ("deletions",)

    def parse_options(self, env: Mapping[str, str]) -> ShopifyOptions:
        return ShopifyOptions.from_env(env)

    def validate_secrets(self, secrets: Mapping[str, Any]) -> None:
        require_fields("shopify", secrets, ("shop_domain", "access_token"))
        normalize_domain(secrets["shop_domain"])
        token = secrets["access_token"]
        # Shopify's tokens are ASCII (shpat_ + hex); anything else could not even go out as an HTTP header.
        if not isinstance(token, str) or not token.isascii() or not token.isprintable() or " " in token:
            raise CredentialError("shopify credentials have a malformed 'access_token' (it must be one word of "
                                  "printable ASCII, as Shopify issues them)")

    def connect(self, secrets: Mapping[str, Any], settings: Settings) -> "ShopifyConnection":
        from .connection import ShopifyConnection  # the HTTP client and the streams: only when syncing

        self.validate_secrets(secrets)
        return ShopifyConnection(normalize_domain(secrets["shop_domain"]), secrets["access_token"], settings)


__all__ = ["ShopifyPlatform", "normalize_domain"]
