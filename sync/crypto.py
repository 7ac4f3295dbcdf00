"""Secrets at rest: Fernet tokens of the secrets' JSON, keys from CREDENTIALS_ENCRYPTION_KEY.

The first key encrypts, every key decrypts (MultiFernet), so keys can be rotated without downtime:
add the new key in front, run `python -m sync credentials rotate-key`, then drop the old one.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from .errors import ConfigError, CredentialError


class SecretBox:
    def __init__(self, keys: tuple[str, ...]):
        self._keys = keys
        self._fernet = None
        if keys:
            from cryptography.fernet import Fernet, MultiFernet

            try:
                self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
            except (ValueError, TypeError):
                raise ConfigError(
                    "CREDENTIALS_ENCRYPTION_KEY is not a valid Fernet key (32 url-safe base64-encoded bytes); "
                    "make one with: python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\""
                ) from None

    @property
    def enabled(self) -> bool:
        return self._fernet is not None

    def encrypt(self, secrets: Mapping[str, Any]) -> str:
        if self._fernet is None:
            raise ConfigError("CREDENTIALS_ENCRYPTION_KEY is not set: it is required to store a credential")
        return self._fernet.encrypt(json.dumps(dict(secrets)).encode()).decode()

    def decrypt(self, token: str | None) -> dict[str, Any]:
        if not token:
            raise CredentialError("the integration has no stored credentials: add them again")
        if is_plaintext(token):
            return _parse_secrets(token.encode())
        if self._fernet is None:
            raise CredentialError(
                "the stored credentials are encrypted but CREDENTIALS_ENCRYPTION_KEY is not set"
            )
        from cryptography.fernet import InvalidToken

        try:
            plain = self._fernet.decrypt(token.encode())
        except (InvalidToken, ValueError, TypeError):
            raise CredentialError(
                "the stored credentials cannot be decrypted with CREDENTIALS_ENCRYPTION_KEY "
                "(wrong or rotated-away key, or a damaged value): set the key they were stored with, "
                "or add the credentials again"
            ) from None
        return _parse_secrets(plain)

    def rotate(self, token: str) -> str:
        """Re-encrypt under the first key (plaintext rows get encrypted)."""
        if self._fernet is None:
            raise ConfigError("CREDENTIALS_ENCRYPTION_KEY is not set")
        if is_plaintext(token):
            return self.encrypt(self.decrypt(token))
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.rotate(token.encode()).decode()
        except (InvalidToken, ValueError, TypeError):
            raise CredentialError("cannot be decrypted with any key in CREDENTIALS_ENCRYPTION_KEY") from None


def is_plaintext(token: str) -> bool:
    """Rows written by the guide's first version may hold the secrets' JSON unencrypted."""
    return token.lstrip().startswith("{")


def _parse_secrets(plain: bytes) -> dict[str, Any]:
    try:
        secrets = json.loads(plain)
    except ValueError:
        raise CredentialError("the stored credentials are not valid JSON: add them again") from None
    if not isinstance(secrets, dict):
        raise CredentialError("the stored credentials are not a JSON object: add them again")
    return secrets


# Fields of the secrets JSON that identify rather than authenticate: error messages may name them
# ("Shopify rejected the access token for acme.myshopify.com"). Every other string value is redacted.
PUBLIC_SECRET_FIELDS = frozenset({"shop_domain", "marketplace_ids", "seller_id"})


def secret_strings(secrets: Mapping[str, Any]) -> list[str]:
    """Every string value worth redacting: all but the identifying fields (short values are ids)."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str) and len(value) >= 8:
            out.append(value)
        elif isinstance(value, Mapping):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    walk({k: v for k, v in secrets.items() if k not in PUBLIC_SECRET_FIELDS})
    return out
