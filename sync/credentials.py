"""Integrations and their secrets: add, list, remove, test, rotate the encryption key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from .config import Settings
from .crypto import SecretBox, is_plaintext, secret_strings
from .errors import ConfigError, CredentialError, SyncError
from .ids import normalize_uuid
from .models import Integration
from .platforms import PLATFORMS, PlatformRegistry
from .store.base import CliStore
from .timeutil import utcnow


def validate_new_integration(client_id: str, platform: str, frequency_hours: int, secrets: Any,
                             platforms: PlatformRegistry | None = None) -> str:
    """Everything checkable before writing; returns the canonical client id. ConfigError otherwise.

    The secrets are checked by the platform itself (`Platform.validate_secrets`: the fields it needs and
    their form, e.g. a shop domain or the marketplace ids), so a malformed one is refused here rather
    than at the first sync."""
    client = normalize_uuid(client_id)
    if platform not in PLATFORMS:
        raise ConfigError(f"unknown platform {platform!r}: use one of {', '.join(PLATFORMS)}")
    if not isinstance(frequency_hours, int) or frequency_hours <= 0:
        raise ConfigError(f"sync frequency must be a whole number of hours above 0, got {frequency_hours!r}")
    try:
        (platforms or PlatformRegistry()).get(platform).validate_secrets(secrets)
    except CredentialError as exc:
        raise ConfigError(f"{exc}; fix the secrets file") from None
    return client


def add_integration(store: CliStore, settings: Settings, *, client_id: str, platform: str, name: str | None,
                    secrets: Mapping[str, Any], frequency_hours: int = 24, now: datetime | None = None,
                    platforms: PlatformRegistry | None = None) -> str:
    client = validate_new_integration(client_id, platform, frequency_hours, secrets, platforms)
    box = SecretBox(settings.encryption_keys)
    token = box.encrypt(secrets)  # ConfigError without a key: secrets are never stored in plaintext
    now = now or utcnow()
    integration = Integration(
        credential_id=str(uuid.uuid4()), client_id=client, platform_type=platform, display_name=name,
        credentials=token, status="pending", is_active=True, next_sync_at=None,
        sync_frequency_hours=frequency_hours, created_at=now, updated_at=now,
    )
    store.insert_integration(integration)
    return integration.credential_id


def get_integration(store: CliStore, credential_id: str) -> Integration:
    integration = store.get_integration(normalize_uuid(credential_id, "credential id"))
    if integration is None:
        raise ConfigError(f"no integration with credential id {credential_id}")
    return integration


def test_connection(store: CliStore, settings: Settings, credential_id: str,
                    platforms: PlatformRegistry | None = None) -> str:
    """The connection test alone; returns what the platform said (SyncError when it fails)."""
    integration = get_integration(store, credential_id)
    secrets = SecretBox(settings.encryption_keys).decrypt(integration.credentials)
    platform = (platforms or PlatformRegistry()).get(integration.platform_type)
    platform.validate_secrets(secrets)
    try:
        connection = platform.connect(secrets, settings)
        try:
            return connection.test()
        finally:
            connection.close()
    except SyncError as exc:
        # The message is printed: redacted like a sync's error (every secret value of the integration).
        from .logs import Redactor

        redactor = Redactor([*settings.secret_values(), *secret_strings(secrets)])
        raise type(exc)(redactor.scrub(str(exc))) from None


@dataclass
class RotationReport:
    rotated: int
    failed: dict[str, str]  # credential_id -> reason


def rotate_key(store: CliStore, settings: Settings) -> RotationReport:
    """Re-encrypt every stored credential under the first key (and encrypt any plaintext left over)."""
    box = SecretBox(settings.encryption_keys)
    if not box.enabled:
        raise ConfigError("CREDENTIALS_ENCRYPTION_KEY is not set")
    rotated, failed = 0, {}
    for integration in store.list_integrations():
        if not integration.credentials:
            continue
        try:
            store.set_credentials_blob(integration.credential_id, box.rotate(integration.credentials))
            rotated += 1
        except SyncError as exc:
            failed[integration.credential_id] = str(exc)
    return RotationReport(rotated=rotated, failed=failed)


def encrypt_plaintext(store: CliStore, settings: Settings) -> int:
    """Encrypt the secrets the guide's first version stored in plaintext; returns how many.

    Run by `init-db` once a key is set, so that no plaintext secret waits for its integration's next
    sync (an inactive one would never have one).
    """
    box = SecretBox(settings.encryption_keys)
    if not box.enabled:
        return 0
    done = 0
    for integration in store.list_integrations():
        if integration.credentials and is_plaintext(integration.credentials):
            store.set_credentials_blob(integration.credential_id, box.encrypt(box.decrypt(integration.credentials)))
            done += 1
    return done
