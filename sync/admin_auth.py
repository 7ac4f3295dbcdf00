"""Who may call the admin API: `Authorization: Bearer <token>` (SPEC sections 1 and 5).

- `ADMIN_API_TOKEN` unset: the admin API is switched off and answers 503 to every admin request
  (the operator has something to fix; no token a caller could send would help).
- the token equals `ADMIN_API_TOKEN` (compared in constant time): allowed.
- `SUPABASE_JWT_SECRET` set and the token is a Supabase-issued HS256 JWT (audience "authenticated",
  not expired) whose `app_metadata.role` is "admin": allowed; such a JWT without that role: 403.
- anything else, or no token: 401 with `WWW-Authenticate: Bearer`.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

import jwt
from fastapi import HTTPException, Request

log = logging.getLogger("api_sync.admin_api")

JWT_AUDIENCE = "authenticated"
ADMIN_ROLE = "admin"
# Tolerated clock difference between Supabase's auth server and this machine.
JWT_LEEWAY_SECONDS = 30


class AdminAuth:
    """A FastAPI dependency: raises the right HTTP error, returns who the caller is when allowed."""

    def __init__(self, admin_token: str | None, jwt_secret: str | None):
        self._token = admin_token.encode() if admin_token else None
        self._jwt_secret = jwt_secret

    def __call__(self, request: Request) -> str:
        if self._token is None:
            raise HTTPException(status_code=503, detail=(
                "the admin API is disabled: set ADMIN_API_TOKEN in the server's environment to enable it"))
        presented = bearer_token(request.headers.get("authorization"))
        if presented is None:
            raise _unauthorized("send the admin token as 'Authorization: Bearer <token>'")
        if hmac.compare_digest(presented.encode(), self._token):
            return "admin-token"
        if self._jwt_secret and presented.count(".") == 2:
            claims = self._verify_jwt(presented)
            metadata = claims.get("app_metadata")
            role = metadata.get("role") if isinstance(metadata, dict) else None
            if role != ADMIN_ROLE:
                raise HTTPException(status_code=403, detail="this account is not an admin (app_metadata.role)")
            return f"jwt:{claims.get('sub', '?')}"
        raise _unauthorized("invalid admin token")

    def _verify_jwt(self, token: str) -> dict[str, Any]:
        try:
            return jwt.decode(token, self._jwt_secret, algorithms=["HS256"], audience=JWT_AUDIENCE,
                              options={"require": ["exp", "aud"]}, leeway=JWT_LEEWAY_SECONDS)
        except jwt.ExpiredSignatureError:
            raise _unauthorized("the token has expired") from None
        except jwt.InvalidTokenError as exc:
            # The reason (bad signature, wrong audience, ...) helps the caller; it never holds the token.
            log.info("Admin API refused a JWT: %s", type(exc).__name__)
            raise _unauthorized("invalid admin token") from None


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})
