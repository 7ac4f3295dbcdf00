"""One integration's live connection: its sp_api clients, LWA token and pacing; its data types are read by
the readers of `streams`. Imported by `AmazonPlatform.connect` only (it loads sp_api)."""

from __future__ import annotations

import logging
from typing import Any, Iterator, Mapping

from ...config import Settings
from ...errors import AuthError
from ...models import Page, StreamRequest
from .calls import AmazonForbidden, SpApiCaller
from .client import SpApiClients, build_clients
from .ids import AmazonIds
from . import streams
from .options import AmazonOptions
from .ratelimit import RateLimiter

log = logging.getLogger("sync.platforms.amazon")


class AmazonConnection:
    def __init__(self, secrets: Mapping[str, Any], settings: Settings):
        self.tuning: AmazonOptions = settings.options_for("amazon", AmazonOptions.from_env)
        self.marketplace_ids = [str(m) for m in secrets["marketplace_ids"]]
        self.clients: SpApiClients = build_clients(
            refresh_token=str(secrets["refresh_token"]), lwa_app_id=str(secrets["lwa_app_id"]),
            lwa_client_secret=str(secrets["lwa_client_secret"]), marketplace_ids=self.marketplace_ids,
            endpoint=settings.amazon_sp_api_base_url, token_url=settings.amazon_lwa_token_url,
            timeout=self.tuning.http_timeout)
        self.limiter = RateLimiter()
        self.caller = SpApiCaller(self.limiter, self.tuning, self.clients.tokens.invalidate)
        self.auditor = AmazonIds(self, settings.env)  # `python -m sync audit`'s side (ids.py)

    def test(self) -> str:
        """getMarketplaceParticipations: proves the refresh token, the app credentials and the region."""
        try:
            response = self.caller.call("getMarketplaceParticipations",
                                        lambda: self.clients.sellers.get_marketplace_participation())
        except AmazonForbidden as exc:
            raise AuthError(f"{exc} Authorize the app again in Seller Central.") from None
        participations = response.payload or []
        names = {}
        for entry in participations if isinstance(participations, list) else []:
            market = entry.get("marketplace") or {}
            if (entry.get("participation") or {}).get("isParticipating", True):
                names[market.get("id")] = market.get("countryCode") or market.get("name") or market.get("id")
        missing = [m for m in self.marketplace_ids if m not in names]
        if missing:
            raise AuthError(
                f"The seller does not participate in marketplace(s) {', '.join(missing)} listed in the "
                f"credentials' marketplace_ids; fix marketplace_ids (it participates in "
                f"{', '.join(sorted(str(k) for k in names)) or 'none'}).")
        return "Amazon seller in " + ", ".join(str(names[m]) for m in self.marketplace_ids)

    def fetch(self, request: StreamRequest) -> Iterator[Page]:
        return streams.read(self, request)

    def close(self) -> None:
        self.clients.close()
