"""PostgREST's error answers: the JSON body and the HTTP status it gives each PostgreSQL SQLSTATE.

The status table follows PostgREST's documented "HTTP Status Codes" (references/errors): a few exact
codes, then classes by prefix, then 400 for everything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_EXACT = {
    "23503": 409, "23505": 409, "25006": 405, "53400": 500, "P0001": 400,
    "42883": 404, "42P01": 404,
}
_PREFIX = {
    "08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500, "38": 500, "39": 500,
    "3B": 500, "40": 500, "53": 503, "54": 500, "55": 500, "57": 500, "58": 500, "F0": 500, "HV": 500,
    "P0": 500, "XX": 500,
}


def http_status(sqlstate: str, *, with_token: bool) -> int:
    """The HTTP status PostgREST answers a PostgreSQL error with."""
    if sqlstate == "42501":
        # Insufficient privilege: 401 for an anonymous request, 403 when a JWT was sent.
        return 403 if with_token else 401
    if sqlstate in _EXACT:
        return _EXACT[sqlstate]
    if sqlstate.startswith("PT") and sqlstate[2:].isdigit():
        return int(sqlstate[2:])  # RAISE SQLSTATE 'PT402' sets the status itself
    return _PREFIX.get(sqlstate[:2], 400)


@dataclass
class PgrstError(Exception):
    """One error answer: `{"code", "message", "details", "hint"}` with its HTTP status."""

    status: int
    code: str | None
    message: str
    details: Any = None
    hint: Any = None

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "details": self.details, "hint": self.hint, "message": self.message}


def from_database(exc: Exception, *, with_token: bool) -> PgrstError:
    """A psycopg error as PostgREST forwards it."""
    diag = getattr(exc, "diag", None)
    code = getattr(diag, "sqlstate", None) or getattr(exc, "sqlstate", None) or "XX000"
    message = getattr(diag, "message_primary", None) or str(exc).strip().splitlines()[0]
    return PgrstError(http_status(code, with_token=with_token), code, message,
                      getattr(diag, "message_detail", None), getattr(diag, "message_hint", None))


def gateway_no_key() -> PgrstError:
    # Supabase's API gateway answers before PostgREST sees the request.
    return PgrstError(401, None, "No API key found in request",
                      hint="No `apikey` request header or url param was found.")


def gateway_bad_key() -> PgrstError:
    return PgrstError(401, None, "Invalid API key",
                      hint="Double check your Supabase `anon` or `service_role` API key.")


def bad_jwt(token: str) -> PgrstError:
    parts = len(token.split("."))
    if parts != 3:
        # What PostgREST says to a Bearer token that is no JWT at all (e.g. a new-style sb_secret_ key).
        return PgrstError(401, "PGRST301", f"Expected 3 parts in JWT; got {parts}")
    return PgrstError(401, "PGRST301", "JWSError JWSInvalidSignature")
