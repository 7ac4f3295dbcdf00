"""The HTTP side of the Shopify GraphQL Admin API: one POST per document, retries, cost pacing, errors.

Transport failures (timeouts, dropped connections), HTTP 429 (honouring `Retry-After`) and 5xx are retried
with tenacity, bounded by `SHOPIFY_MAX_RETRIES`. A `THROTTLED` answer is not a failure: the pacer waits
for exactly the missing points and the document is sent again. Everything else becomes an exception
whose message a user can act on, naming the shop but never the access token.
"""

from __future__ import annotations

import json
import logging
import random
import time
from typing import Any, Callable, Iterator, Mapping

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from ...errors import AuthError, PlatformError
from .options import ShopifyOptions
from .queries import REQUESTED_COST
from .throttle import CostPacer

log = logging.getLogger("sync.platforms.shopify")

# A THROTTLED answer is retried after waiting for the points; this bound only stops a shop whose bucket
# never refills (a broken proxy), it never trips on a healthy one.
MAX_THROTTLED_RETRIES = 1000


class Retryable(Exception):
    """A transient failure worth another attempt (5xx, 429, timeout, reset)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class AccessDenied(PlatformError):
    """The app lacks an access scope for what the document asked (Shopify's ACCESS_DENIED)."""


class QueryTooCostly(PlatformError):
    """MAX_COST_EXCEEDED: the document asks for more than 1,000 points (`cost`: what Shopify computed)."""

    def __init__(self, message: str, cost: float | None = None, max_cost: float | None = None):
        super().__init__(message)
        self.cost = cost
        self.max_cost = max_cost


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class ShopifyClient:
    def __init__(self, shop_domain: str, access_token: str, *, base_url: str, api_version: str,
                 options: ShopifyOptions, session: requests.Session | None = None,
                 pacer: CostPacer | None = None, sleep: Callable[[float], None] = time.sleep):
        self.shop = shop_domain
        self.endpoint = f"{base_url.rstrip('/')}/admin/api/{api_version}/graphql.json"
        self.api_version = api_version
        self.served_version: str | None = None  # X-Shopify-API-Version: an unsupported version falls forward
        self.options = options
        self.session = session or requests.Session()
        self.pacer = pacer or CostPacer(sleep=sleep, expected={k: float(v) for k, v in REQUESTED_COST.items()})
        self._sleep = sleep
        self._headers = {"X-Shopify-Access-Token": access_token, "Content-Type": "application/json",
                         "Accept": "application/json", "User-Agent": "api-sync (+shopify graphql)"}
        self.requests_sent = 0
        self.throttled_answers = 0

    def close(self) -> None:
        self.session.close()

    # --- retries ------------------------------------------------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Retryable) and exc.retry_after is not None:
            return exc.retry_after
        base = self.options.retry_base_seconds * (2 ** (state.attempt_number - 1))
        return min(60.0, base) * (0.5 + random.random() / 2)

    def _retrying(self, what: str) -> Retrying:
        def give_up(state: RetryCallState) -> None:
            cause = state.outcome.exception() if state.outcome else None
            raise PlatformError(
                f"Shopify did not answer {what} for {self.shop} after {state.attempt_number} attempts "
                f"(last: {cause}); the sync will try again at its next run") from cause

        def before_sleep(state: RetryCallState) -> None:
            cause = state.outcome.exception() if state.outcome else None
            log.warning("Shopify %s for %s: %s; retry %d of %d in %.1f s", what, self.shop, cause,
                        state.attempt_number, self.options.max_retries,
                        state.next_action.sleep if state.next_action else 0.0)

        return Retrying(retry=retry_if_exception_type(Retryable), wait=self._wait, sleep=self._sleep,
                        before_sleep=before_sleep,
                        stop=stop_after_attempt(self.options.max_retries + 1), retry_error_callback=give_up,
                        reraise=False)

    # --- GraphQL ------------------------------------------------------------------------------------------
    def _post_once(self, body: bytes, operation: str) -> dict[str, Any]:
        self.requests_sent += 1
        try:
            response = self.session.post(self.endpoint, data=body, headers=self._headers,
                                         timeout=(10.0, self.options.timeout_seconds))
        except requests.Timeout as exc:
            raise Retryable(f"timed out after {self.options.timeout_seconds:g} s") from exc
        except requests.ConnectionError as exc:
            raise Retryable(f"connection failed: {type(exc).__name__}") from exc
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            # The connection broke while the body was read (fewer bytes than Content-Length, a bad chunk).
            raise Retryable(f"the answer was cut short: {type(exc).__name__}") from exc
        status = response.status_code
        if status == 429:
            raise Retryable("HTTP 429 Too Many Requests", _retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            raise Retryable(f"HTTP {status}", _retry_after(response.headers.get("Retry-After")))
        if status == 401:
            raise AuthError(f"Shopify rejected the access token for {self.shop} (HTTP 401): the app may have been "
                            "uninstalled or the token revoked; store a new access token for this shop")
        if status == 403:
            raise AuthError(f"Shopify refused access to {self.shop} (HTTP 403): check the app's access scopes")
        if status == 402:
            raise PlatformError(f"Shopify shop {self.shop} is frozen (HTTP 402 Payment Required): the shop owner "
                                "must settle the Shopify bill before its data can be read")
        if status == 404:
            raise PlatformError(f"Shopify has no shop at {self.shop} (HTTP 404): check the shop domain "
                                "(it must be the <name>.myshopify.com domain)")
        if status == 423:
            raise PlatformError(f"Shopify shop {self.shop} is locked (HTTP 423); contact Shopify support")
        if status != 200:
            raise PlatformError(f"Shopify answered HTTP {status} to {operation} for {self.shop}")
        self.served_version = response.headers.get("X-Shopify-API-Version") or self.served_version
        try:
            answer = response.json()
        except ValueError as exc:
            raise Retryable("the answer was not JSON (cut short?)") from exc
        errors = answer.get("errors") if isinstance(answer, dict) else None
        if isinstance(errors, list) and any(isinstance(e, dict) and (e.get("extensions") or {}).get("code")
                                            == "INTERNAL_SERVER_ERROR" for e in errors):
            # Shopify's GraphQL layer reports its own failures as HTTP 200 with this code instead of a 500.
            raise Retryable("HTTP 200 with INTERNAL_SERVER_ERROR")
        return answer

    def execute(self, document: str, variables: Mapping[str, Any] | None = None, *,
                operation: str) -> dict[str, Any]:
        """Send one document; returns its `data`. Waits out throttling; raises mapped errors."""
        return self.execute_with_cost(document, variables, operation=operation)[0]

    def execute_with_cost(self, document: str, variables: Mapping[str, Any] | None = None, *, operation: str,
                          expected_cost: float | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """`execute`, returning also the answer's `extensions.cost` (requested and actual cost, bucket).

        `expected_cost`: what the document should cost at its page size, so the pacer waits for that many
        points (otherwise it expects what the same operation cost last time)."""
        body = json.dumps({"query": document, "variables": dict(variables or {}), "operationName": operation},
                          separators=(",", ":")).encode()
        for _ in range(MAX_THROTTLED_RETRIES):
            self.pacer.before(operation, expected_cost)
            answer = self._retrying(operation)(self._post_once, body, operation)
            cost = (answer.get("extensions") or {}).get("cost")
            errors = answer.get("errors")
            if isinstance(errors, str):  # REST-style error body on a 200 (seen behind some proxies)
                raise PlatformError(f"Shopify answered {operation} for {self.shop} with an error: {errors}")
            codes = {((e.get("extensions") or {}).get("code")) for e in errors or [] if isinstance(e, dict)}
            if "THROTTLED" in codes:
                self.throttled_answers += 1
                log.debug("Shopify throttled %s for %s: waiting for the bucket to refill", operation, self.shop)
                self.pacer.throttled(operation, cost)
                continue
            self.pacer.observe(operation, cost)
            if errors:
                messages = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))[:500]
                if "ACCESS_DENIED" in codes:
                    raise AccessDenied(messages)
                if "MAX_COST_EXCEEDED" in codes:
                    refused = next((e.get("extensions") or {} for e in errors if isinstance(e, dict) and
                                    (e.get("extensions") or {}).get("code") == "MAX_COST_EXCEEDED"), {})
                    figure, ceiling = refused.get("cost"), refused.get("maxCost")
                    raise QueryTooCostly(f"Shopify refused {operation} as too costly: {messages}",
                                         float(figure) if isinstance(figure, (int, float)) else None,
                                         float(ceiling) if isinstance(ceiling, (int, float)) else None)
                raise PlatformError(f"Shopify answered {operation} for {self.shop} with errors: {messages}")
            data = answer.get("data")
            if not isinstance(data, dict):
                raise PlatformError(f"Shopify answered {operation} for {self.shop} without data")
            return data, cost if isinstance(cost, dict) else None
        raise PlatformError(f"Shopify kept throttling {operation} for {self.shop} ({MAX_THROTTLED_RETRIES} times); "
                            "another app may be using this shop's whole API budget")

    # --- bulk result files --------------------------------------------------------------------------------
    def stream_lines(self, url: str) -> Iterator[bytes]:
        """The lines of a bulk result file, streamed (never the whole file in memory).

        The URL is a signed storage link: the access token is not sent with it.
        """

        def open_stream() -> requests.Response:
            try:
                response = self.session.get(url, stream=True, timeout=(10.0, self.options.timeout_seconds))
            except (requests.Timeout, requests.ConnectionError) as exc:
                raise Retryable(f"download failed: {type(exc).__name__}") from exc
            if response.status_code == 429 or response.status_code >= 500:
                response.close()
                raise Retryable(f"HTTP {response.status_code}", _retry_after(response.headers.get("Retry-After")))
            if response.status_code != 200:
                response.close()
                raise PlatformError(f"Shopify's bulk result file for {self.shop} answered HTTP "
                                    f"{response.status_code} (the link may have expired)")
            return response

        response = self._retrying("the bulk result download")(open_stream)
        try:
            for line in response.iter_lines(chunk_size=64 * 1024):
                if line:
                    yield line
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            from ...errors import IncompleteDataError

            raise IncompleteDataError(f"the bulk result download from Shopify for {self.shop} broke off "
                                      f"({type(exc).__name__}); the cursor stays and the next sync reads again") from exc
        finally:
            response.close()
