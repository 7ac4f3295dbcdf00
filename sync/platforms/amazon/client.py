"""python-amazon-sp-api clients pointed at the right hosts, with per-connection LWA tokens.

Two library behaviours shape this module:
- `Client` keeps its SP-API endpoint in the instance attribute `endpoint` (set from a `Marketplaces`
  member); we overwrite it with the regional endpoint of the seller's marketplaces, or with
  `AMAZON_SP_API_BASE_URL`. Its `host` header is `endpoint[8:]`, which only works for `https://`, so the
  clients here compute it from the URL instead.
- `AccessTokenClient` builds the LWA URL from its class attributes `scheme`/`host`/`path` and caches access
  tokens in a module-level TTL cache keyed by the refresh token alone: an entry from another LWA host (a
  previous emulator), another app, or from before the seller revoked the app would be reused for up to
  ~53 minutes. Our subclass (passed as `auth_token_client_class=`) takes its URL from
  `AMAZON_LWA_TOKEN_URL` and keeps tokens in a `TokenStore` owned by one connection, honouring
  `expires_in`; the module cache is never read nor written. So a revoked refresh token shows at the next
  connection test, and two integrations never share a token.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from sp_api.api import Inventories, Reports, Sellers
from sp_api.api.orders.orders_2026_01_01 import OrdersV20260101
from sp_api.auth import AccessTokenClient, AccessTokenResponse
from sp_api.base import Marketplaces
from sp_api.base.exceptions import SellingApiException, get_exception_for_code
from sp_api.base.credential_provider import FromCodeCredentialProvider

from ...errors import CredentialError
from .regions import region_endpoint

DEFAULT_LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"

@dataclass
class TokenStore:
    """One connection's LWA access token: fetched on first use, refreshed a minute before it expires."""

    clock: Callable[[], float] = time.monotonic
    _token: dict[str, Any] | None = None
    _expires: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    fetches: int = 0

    def get(self, fetch: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            if self._token is None or self.clock() >= self._expires:
                token = fetch()
                self.fetches += 1
                lifetime = float(token.get("expires_in") or 3600)
                # Renew a minute early (a tenth early for short-lived tokens): no call races the expiry.
                self._token, self._expires = token, self.clock() + lifetime - min(60.0, lifetime / 10)
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None


def token_client_class(token_url: str, store: TokenStore) -> type[AccessTokenClient]:
    """An AccessTokenClient subclass bound to one LWA URL and one connection's TokenStore."""
    parts = urlsplit(token_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CredentialError("AMAZON_LWA_TOKEN_URL must be an http(s) URL")

    class ConnectionTokenClient(AccessTokenClient):
        scheme = f"{parts.scheme}://"
        host = parts.netloc
        path = parts.path or "/"

        def get_auth(self) -> AccessTokenResponse:
            url = self.scheme + self.host + self.path
            return AccessTokenResponse(**store.get(lambda: self._request(url, self.data, self.headers)))

        def get_grantless_auth(self, scope: str = "sellingpartnerapi::notifications") -> AccessTokenResponse:
            raise NotImplementedError("API Sync uses no grantless operations")

    return ConnectionTokenClient


class HttpStatusError(SellingApiException):
    """An error status the library has no exception class for (502, 401...), or with a non-JSON body."""

    def __init__(self, status: int, error: list[dict[str, Any]], headers: Any):
        super().__init__(error, headers)
        self.code = status


class _HostHeader:
    """Mixin fixing two library behaviours for our clients.

    - the `host` header comes from the endpoint URL (the library assumes `https://` and slices it);
    - an HTTP error whose body is not an SP-API error list (a gateway's HTML 502, an empty 503) raises:
      the library would return it as an empty, successful answer, and an empty searchOrders page would
      then move the cursor past orders never read.
    """

    endpoint: str

    @property
    def headers(self) -> dict[str, str]:
        headers = super().headers  # type: ignore[misc]
        headers["host"] = urlsplit(self.endpoint).netloc
        return headers

    def _check_response(self, res: Any, *args: Any, **kwargs: Any) -> Any:
        status = res.status_code
        if status >= 400:
            try:
                body = res.json()
            except ValueError:
                body = None
            errors = body.get("errors") if isinstance(body, dict) else None
            if not isinstance(errors, list) or not errors:
                errors = [{"code": f"HTTP{status}", "message": "an answer without an error list"}]
            cls = get_exception_for_code(status)
            if cls is SellingApiException:
                raise HttpStatusError(status, errors, res.headers)
            raise cls(errors, headers=res.headers)
        return super()._check_response(res, *args, **kwargs)  # type: ignore[misc]


class OrdersClient(_HostHeader, OrdersV20260101):
    """Orders API v2026-01-01 (searchOrders, getOrder): items inline, personal data by role, no RDT."""


class ReportsClient(_HostHeader, Reports):
    pass


class InventoriesClient(_HostHeader, Inventories):
    pass


class SellersClient(_HostHeader, Sellers):
    pass


@dataclass
class SpApiClients:
    orders: OrdersClient
    reports: ReportsClient
    inventories: InventoriesClient
    sellers: SellersClient
    tokens: TokenStore

    def close(self) -> None:
        for client in (self.orders, self.reports, self.inventories, self.sellers):
            try:
                client.close()
                client._auth._transport.close()
            except Exception:  # closing is best effort; nothing to report to the user
                pass


def _ca_bundle() -> str | None:
    try:
        import certifi  # what httpx verifies against by default

        return certifi.where()
    except ImportError:
        return None


def build_clients(*, refresh_token: str, lwa_app_id: str, lwa_client_secret: str, marketplace_ids: list[str],
                  endpoint: str | None, token_url: str | None, timeout: float) -> SpApiClients:
    base = (endpoint or region_endpoint(marketplace_ids)).rstrip("/")
    store = TokenStore()
    token_cls = token_client_class(token_url or DEFAULT_LWA_TOKEN_URL, store)
    credentials = {"refresh_token": refresh_token, "lwa_app_id": lwa_app_id, "lwa_client_secret": lwa_client_secret}
    marketplace = next((m for m in Marketplaces if m.marketplace_id == marketplace_ids[0]), Marketplaces.US)

    # One TLS context for the connection's eight httpx clients (each sp_api client and its token client own
    # one): building a context per client costs ~30 ms each, for no gain.
    tls = ssl.create_default_context(cafile=_ca_bundle())

    def make(cls: type) -> Any:
        client = cls(marketplace, refresh_token=refresh_token, credentials=credentials, timeout=timeout, verify=tls,
                     # Only the secrets given here: never the environment's or a config file's.
                     credential_providers=[FromCodeCredentialProvider], auth_token_client_class=token_cls)
        client.endpoint = base
        return client

    return SpApiClients(orders=make(OrdersClient), reports=make(ReportsClient),
                        inventories=make(InventoriesClient), sellers=make(SellersClient), tokens=store)
