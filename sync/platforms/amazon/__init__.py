"""Amazon Selling Partner API platform, through python-amazon-sp-api (`sp_api`).

Login with Amazon (refresh token + app id + client secret; no AWS keys). Data types: `orders` (the
Orders API v2026-01-01, each order with its items), `products` (the merchant listings report),
`inventory` (FBA summaries). Modules: `options` (AMAZON_* knobs), `connection` (the live connection,
imported by `connect` only), `client` (sp_api clients, endpoints, per-connection LWA tokens),
`ratelimit` (per-operation buckets), `calls` (pacing, retries, error messages), and the data types'
readers `orders`, `listings` + `documents`, `inventory`.
"""

from __future__ import annotations

from typing import Any, Mapping

from ...config import Settings
from ...errors import CredentialError
from ..base import require_fields
from .options import AmazonOptions
from .personal import PERSONAL_DATA
from .regions import region_endpoint

REQUIRED = ("refresh_token", "lwa_app_id", "lwa_client_secret", "marketplace_ids")


class AmazonPlatform:
    name = "amazon"
    data_types = ("orders", "products", "inventory")
    # Listings and inventory are read as full snapshots each time: they have no incremental cursor (their
    # state only notes what was read).
    cursor_fields = {"orders": "last_updated_before"}
    personal_data = PERSONAL_DATA  # removed from stored records when SYNC_STORE_PII=false

    def parse_options(self, env: Mapping[str, str]) -> AmazonOptions:
        return AmazonOptions.from_env(env)

    def validate_secrets(self, secrets: Mapping[str, Any]) -> None:
        require_fields("amazon", secrets, REQUIRED)
        ids = secrets["marketplace_ids"]
        if isinstance(ids, str) or not isinstance(ids, (list, tuple)) or not all(isinstance(m, str) and m for m in ids):
            raise CredentialError("amazon credentials' marketplace_ids must be a list of marketplace id strings, "
                                  "e.g. [\"ATVPDKIKX0DER\"]")
        region_endpoint(list(ids))  # unknown ids or mixed regions: CredentialError now, not mid-sync

    def connect(self, secrets: Mapping[str, Any], settings: Settings):
        from .connection import AmazonConnection  # imports sp_api only when Amazon is used

        self.validate_secrets(secrets)
        return AmazonConnection(secrets, settings)


__all__ = ["AmazonPlatform"]
