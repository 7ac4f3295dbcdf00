"""Exceptions that carry a message a user can act on.

Every message here may end up in `client_api_sync_results.error_message`, the logs and the console,
so it must never contain a secret.
"""


class SyncError(Exception):
    """Base class: `str(exc)` is a user-facing sentence."""


class ConfigError(SyncError):
    """Bad configuration or usage: the commands exit with code 2."""


class CredentialError(SyncError):
    """A stored credential cannot be decrypted or lacks a field: fails that integration only."""


class AuthError(SyncError):
    """The platform rejected the credentials (connection test or later)."""


class PlatformError(SyncError):
    """The platform answered with an error, or not at all, after the retries ran out."""


class IncompleteDataError(PlatformError):
    """The platform handed over less data than it announced: the stream's cursor must not move."""


class DataTypeSkipped(SyncError):
    """This data type cannot be synced for this integration (missing scope, not enrolled, ...).

    The engine records the reason in `data_types_synced` and goes on with the other data types;
    the integration does not fail because of it.
    """


class StoreError(SyncError):
    """The database failed under a sync and did not come back within SYNC_DB_RETRY_SECONDS (sync/reconnect.py)."""
