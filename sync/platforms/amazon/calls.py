"""Every SP-API call goes through `SpApiCaller.call`: paced, retried, and mapped to user-facing errors.

- Pacing: the connection's `RateLimiter` (documented rate and burst, then `x-amzn-RateLimit-Limit`).
- Retries (tenacity): 429 QuotaExceeded, 5xx, timeouts, dropped connections, LWA hiccups; exponential
  backoff capped by `AMAZON_RETRY_MAX_SECONDS`, honouring `Retry-After` when Amazon sends one. After a
  429 the bucket is emptied, so the retry also waits a full refill interval.
- A 403 is retried once with a fresh LWA token (an access token can expire or be revoked mid-sync);
  a second 403 becomes `AmazonForbidden`, which callers turn into a skip or an `AuthError`.
- Messages never quote a token or secret: only operation names, HTTP statuses and Amazon's error codes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from json import JSONDecodeError
from typing import Callable, TypeVar

import httpx
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base.exceptions import SellingApiException
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from ...errors import AuthError, PlatformError
from .ratelimit import RateLimiter
from .options import AmazonOptions

log = logging.getLogger("sync.platforms.amazon")
T = TypeVar("T")

RETRYABLE_STATUSES = {429, 500, 502, 503, 504}


class AmazonForbidden(PlatformError):
    """403 from an SP-API operation even with a fresh access token: a missing role, or not enrolled.

    Each data type decides what it means (inventory: not enrolled in FBA, skip); the connection test
    turns it into an AuthError."""

    def __init__(self, operation: str, code: str | None, message: str):
        super().__init__(message)
        self.operation, self.code = operation, code


class AmazonRefused(PlatformError):
    """Amazon refused a call for a reason retrying will not change (a 400 InvalidInput, a 404...).

    `status` and `code` let a caller act on a known case (an expired searchOrders paginationToken)."""

    def __init__(self, operation: str, status: int, code: str, message: str):
        super().__init__(message)
        self.operation, self.status, self.code = operation, status, code


def _status(exc: BaseException) -> int | None:
    if isinstance(exc, SellingApiException):
        return int(getattr(exc, "code", 0) or 0)  # the class's status (or HttpStatusError's real one)
    if isinstance(exc, AuthorizationError):
        return int(exc.status_code or 0)
    return None


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in RETRYABLE_STATUSES
    if isinstance(exc, (httpx.TimeoutException, httpx.TransportError, JSONDecodeError)):
        return True
    status = _status(exc)
    if isinstance(exc, AuthorizationError):
        return status is not None and (status >= 500 or status == 429)
    return status in RETRYABLE_STATUSES


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "headers", None)
    if not headers:
        return None
    raw = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


@dataclass
class SpApiCaller:
    limiter: RateLimiter
    tuning: AmazonOptions
    invalidate_token: Callable[[], None]
    sleep: Callable[[float], None] = time.sleep
    calls: dict[str, int] = field(default_factory=dict)  # operation -> HTTP attempts
    retries: dict[str, int] = field(default_factory=dict)  # operation -> retried attempts

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        n = state.attempt_number
        backoff = min(self.tuning.retry_max, self.tuning.retry_base * (2 ** (n - 1)))
        if _status(exc) == 429 and isinstance(exc, SellingApiException):
            # The emptied bucket already waits one refill interval; back off further only when Amazon
            # keeps refusing (another app of the seller may share the quota).
            backoff = 0.0 if n == 1 else min(self.tuning.retry_max, self.tuning.retry_base * (2 ** (n - 2)))
        after = _retry_after(exc) if exc else None
        return max(backoff, after or 0.0)

    def _attempt(self, operation: str, fn: Callable[[], T]) -> T:
        self.limiter.acquire(operation)
        self.calls[operation] = self.calls.get(operation, 0) + 1
        try:
            response = fn()
        except SellingApiException as exc:
            headers = exc.headers or {}
            self.limiter.observe(operation, headers.get("x-amzn-RateLimit-Limit"))
            if getattr(exc, "code", None) == 429:
                self.limiter.throttled(operation)
            raise
        headers = getattr(response, "headers", None) or {}
        self.limiter.observe(operation, headers.get("x-amzn-RateLimit-Limit"))
        content_type = (headers.get("content-type") or "").lower()
        if content_type and "json" not in content_type:
            # sp_api reads a body that is not JSON (a proxy's or captive portal's page on HTTP 200) as an
            # empty answer, which would pass for "no marketplaces" or "no orders": retried instead.
            raise JSONDecodeError(f"Amazon answered {operation} with {content_type.split(';')[0]}, not JSON", "", 0)
        return response

    def _with_retries(self, operation: str, fn: Callable[[], T]) -> T:
        def before_sleep(state: RetryCallState) -> None:
            self.retries[operation] = self.retries.get(operation, 0) + 1
            exc = state.outcome.exception() if state.outcome else None
            log.info("Amazon %s: %s, retrying (attempt %d)", operation, _describe(exc), state.attempt_number + 1)

        retrying = Retrying(stop=stop_after_attempt(self.tuning.max_retries + 1),
                            retry=retry_if_exception(_retryable), wait=self._wait, sleep=self.sleep,
                            before_sleep=before_sleep, reraise=True)
        return retrying(self._attempt, operation, fn)

    def call(self, operation: str, fn: Callable[[], T]) -> T:
        """Run one SP-API operation (`fn` calls the sp_api client) under pacing and retries."""
        try:
            try:
                return self._with_retries(operation, fn)
            except SellingApiException as exc:
                if getattr(exc, "code", None) != 403:
                    raise
                self.invalidate_token()  # maybe an expired or revoked access token: try a fresh one once
                return self._with_retries(operation, fn)
        except Exception as exc:
            raise self._map(operation, exc) from None

    def _map(self, operation: str, exc: BaseException) -> Exception:
        if isinstance(exc, AuthorizationError):
            code = exc.error_code or "error"
            if code == "invalid_grant":
                return AuthError(
                    "Amazon rejected the refresh token (invalid_grant): the seller revoked this app's "
                    "authorization or the token is wrong. Authorize the app again in Seller Central and "
                    "store the new refresh token with `python -m sync credentials add`.")
            if code in ("invalid_client", "unauthorized_client"):
                return AuthError(
                    f"Amazon rejected the app's Login with Amazon credentials ({code}): check lwa_app_id and "
                    f"lwa_client_secret (a rotated client secret stops working when the old one expires).")
            if _retryable(exc):
                return PlatformError(f"Login with Amazon kept failing (HTTP {exc.status_code}) after "
                                     f"{self.tuning.max_retries + 1} attempts; the next sync will try again.")
            return AuthError(f"Login with Amazon refused the token request ({code}, HTTP {exc.status_code}).")
        if isinstance(exc, SellingApiException):
            status = getattr(exc, "code", 0)
            code = getattr(exc, "amzn_code", None) or "error"
            detail = getattr(exc, "message", None) or ""
            if status == 403:
                return AmazonForbidden(operation, code, (
                    f"Amazon denied access to {operation} (403 {code}) even with a fresh access token: the app "
                    f"may lack the role this data needs, or the seller's authorization was withdrawn."))
            if status == 429:
                return PlatformError(f"Amazon kept throttling {operation} (429 QuotaExceeded) after "
                                     f"{self.tuning.max_retries + 1} attempts; another app may be using this "
                                     f"seller's quota. The next sync will continue.")
            if status in RETRYABLE_STATUSES:
                return PlatformError(f"Amazon kept failing on {operation} (HTTP {status} {code}) after "
                                     f"{self.tuning.max_retries + 1} attempts; the next sync will try again.")
            said = f": {detail}" if detail else ""
            return AmazonRefused(operation, status, code, f"Amazon refused {operation} (HTTP {status} {code}{said})")
        if isinstance(exc, httpx.HTTPStatusError):
            return PlatformError(f"Amazon answered HTTP {exc.response.status_code} to {operation} after "
                                 f"{self.tuning.max_retries + 1} attempts; the next sync will try again.")
        if isinstance(exc, httpx.TimeoutException):
            return PlatformError(f"Amazon did not answer {operation} within {self.tuning.http_timeout:g} s "
                                 f"({self.tuning.max_retries + 1} attempts); the next sync will try again.")
        if isinstance(exc, (httpx.TransportError, JSONDecodeError)):
            return PlatformError(f"Could not talk to Amazon for {operation} ({type(exc).__name__}) after "
                                 f"{self.tuning.max_retries + 1} attempts; the next sync will try again.")
        if isinstance(exc, (AuthError, PlatformError)):
            return exc
        return PlatformError(f"Unexpected failure during Amazon {operation}: {type(exc).__name__}")


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no answer"
    if isinstance(exc, SellingApiException):
        return f"HTTP {getattr(exc, 'code', '?')} {getattr(exc, 'amzn_code', '') or ''}".strip()
    if isinstance(exc, AuthorizationError):
        return f"LWA HTTP {exc.status_code} {exc.error_code or ''}".strip()
    return type(exc).__name__
