"""Calls to a Supabase project's REST API (PostgREST) through supabase-py: retries and error meaning.

Every call is one HTTP request and one database transaction on the server. Transient failures
(connection refused or reset, 503 from the gateway, serialization failures) are retried with
tenacity; a request that may have reached the database is retried only for calls marked idempotent.
Error messages name the function and the database's own words, never the key.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping
from urllib.parse import urlsplit

import httpx
from postgrest.exceptions import APIError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from ..config import SupabaseOptions
from ..errors import ConfigError
from .base import LeaseLost
from .migration import MIGRATION

log = logging.getLogger("api_sync_cron")

INSTALL_HINT = (
    f"apply the migration {MIGRATION} (`supabase db push`, or paste it into the Supabase SQL editor and "
    "run it), or run `python -m sync init-db` once with DATABASE_URL set to the project's connection string"
)
LEASE_LOST_SQLSTATE = "ASL01"  # raised by api_sync_save_state (postgres_functions.sql)
# PostgREST's own "could not reach the database" codes, and the gateway's 5xx without a JSON body.
_TRANSIENT_CODES = {"PGRST000", "PGRST001", "PGRST002", "PGRST003", "40001", "40P01", "500", "502", "503",
                    "504", "520"}


class SupabaseRestError(Exception):
    """A REST call failed for good (after retries); the message is safe to show."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


def _looks_like_jwt(key: str) -> bool:
    return key.count(".") == 2 and all(key.split("."))


def _unsent(exc: BaseException) -> bool:
    """The request never reached the server: safe to send again whatever it does."""
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, APIError) and (exc.code or "") in _TRANSIENT_CODES


class RestClient:
    """One supabase-py client; `rpc()` and `select()` return decoded JSON or raise a meaningful error."""

    def __init__(self, url: str, key: str, options: SupabaseOptions):
        from supabase import ClientOptions, create_client  # imported here: only this store needs it

        if not url or not key:
            raise ConfigError("SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY must both be set for the Supabase store")
        self.host = urlsplit(url).netloc or url
        self.options = options
        try:
            # Our own httpx client carries the timeout (supabase-py deprecates its timeout option).
            self._client = create_client(url, key, options=ClientOptions(
                httpx_client=httpx.Client(timeout=options.timeout_seconds, follow_redirects=True),
                auto_refresh_token=False, persist_session=False))
        except Exception as exc:  # supabase-py validates the URL's form
            raise ConfigError(f"SUPABASE_URL {url!r} is not usable: {exc}") from None
        self._postgrest = self._client.postgrest
        if not _looks_like_jwt(key):
            # A new-style secret key (sb_secret_...) is not a JWT: it belongs in `apikey` alone, from which
            # the gateway derives the role. supabase-py also sends it as `Authorization: Bearer`, which
            # PostgREST rejects (PGRST301, "Expected 3 parts in JWT").
            self._postgrest.headers.pop("Authorization", None)

    def close(self) -> None:
        try:
            self._postgrest.aclose()  # the sync client's close, despite the name
        except Exception:
            pass

    # -- calls --------------------------------------------------------------------------------------
    def rpc(self, function: str, params: Mapping[str, Any], *, idempotent: bool = True) -> Any:
        return self._run(function, lambda: self._postgrest.rpc(function, dict(params)).execute().data, idempotent)

    def rpc_rows(self, function: str, params: Mapping[str, Any], page: int = 1000) -> list[Any]:
        """Every row of a set-returning function, page by page: Supabase caps each answer at its
        "Max rows" setting (1000 by default), silently, so a short page is no proof of the end."""
        out: list[Any] = []
        while True:
            rows = self._run(function, lambda: self._postgrest.rpc(function, dict(params)).limit(page)
                             .offset(len(out)).execute().data, True) or []
            out.extend(rows)
            if not rows:
                return out

    def select(self, table: str, columns: str = "*", *, eq: Mapping[str, Any] | None = None,
               order: tuple[str, ...] = (), page: int = 1000) -> list[dict[str, Any]]:
        """Every matching row of a table, page by page (see `rpc_rows`); `order` must end on a unique key."""
        def call(offset: int) -> Any:
            query = self._postgrest.from_(table).select(columns)
            for column, value in (eq or {}).items():
                if value is not None:
                    query = query.eq(column, str(value))
            for column in order:
                query = query.order(column)
            # Our own retries, with our backoff; supabase-py's own would sleep up to 30 s per try.
            return query.limit(page).offset(offset).retry(False).execute().data

        out: list[dict[str, Any]] = []
        while True:
            rows = self._run(f"read of {table}", lambda: call(len(out)), True) or []
            out.extend(rows)
            if not rows:
                return out

    def _run(self, what: str, call: Any, idempotent: bool) -> Any:
        predicate = _transient if idempotent else _unsent
        retrying = Retrying(
            retry=retry_if_exception(predicate), stop=stop_after_attempt(self.options.attempts),
            wait=wait_exponential(multiplier=self.options.retry_base_seconds, max=30), reraise=True,
            before_sleep=lambda state: self._log_retry(what, state))
        try:
            return retrying(call)
        except APIError as exc:
            raise self._meaning(what, exc) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Like a refused database connection: the configuration (URL, network) is what to fix.
            raise ConfigError(f"cannot reach the Supabase REST API at {self.host} (SUPABASE_URL): "
                              f"{type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise SupabaseRestError(f"the Supabase REST API at {self.host} did not answer {what}: "
                                    f"{type(exc).__name__}") from None

    def _log_retry(self, what: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("Supabase REST call %s failed (%s); retrying", what, _describe(exc))

    def _meaning(self, what: str, exc: APIError) -> Exception:
        code = exc.code or ""
        if code == LEASE_LOST_SQLSTATE:
            return LeaseLost(exc.message or "lease lost")
        if code == "PGRST202" or code == "PGRST205":
            return ConfigError(f"the API Sync functions are missing or outdated in the Supabase project at "
                               f"{self.host} ({what}): {INSTALL_HINT}")
        if code in ("401", "PGRST301", "PGRST302") or (exc.message or "").startswith(("Invalid API key",
                                                                                      "No API key")):
            return ConfigError(f"the Supabase project at {self.host} rejected SUPABASE_SERVICE_ROLE_KEY "
                               f"({exc.message}); use the service_role key from Project Settings > API")
        if code == "42501":
            return ConfigError(f"the key has no right to call {what} at {self.host}: use the service_role "
                               "key (the functions are not granted to anon or authenticated)")
        return SupabaseRestError(f"Supabase REST call {what} failed: {_describe(exc)}", code or None)


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, APIError):
        text = f"{exc.code}: {exc.message}" if exc.code else str(exc.message)
        return text + (f" ({exc.details})" if exc.details and isinstance(exc.details, str)
                       and len(exc.details) < 300 else "")
    return type(exc).__name__ if exc else "unknown error"
