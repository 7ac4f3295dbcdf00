"""The interface every platform (Shopify, Amazon, a test double) implements.

A platform turns an integration's decrypted secrets into a `Connection`; the engine then calls
`test()` once, the optional `prepare()` once, and `fetch()` once per data type. `fetch` streams `Page`s:
it must not hold a whole shop in memory, and it decides when the stream's cursor may move (see
`Page.state`). A platform package has the same shape as `shopify/` and `amazon/` (README, "Adding a
platform or a store").

Errors: raise `CredentialError` for secrets that are unusable as given, `AuthError` when the platform
rejects them, `DataTypeSkipped` when one data type cannot be synced for a reason the user should see
but that should not fail the integration, `PlatformError` (or `IncompleteDataError`) otherwise.
Messages must never contain a secret.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Protocol

from ..config import Settings
from ..errors import CredentialError
from ..models import Page, StreamRequest


class Connection(Protocol):
    def test(self) -> str:
        """A cheap authenticated call; returns a short description (e.g. the shop's name)."""

    def fetch(self, request: StreamRequest) -> Iterator[Page]:
        """Yield the data type's records changed since `request.cursor.since()` (the committed cursor minus
        the lookback; None on a first sync); a page's new cursor is `request.cursor.at(...)`."""

    # Optional (the engine looks it up with getattr; a connection without it is synced in
    # `Platform.data_types` order):
    #
    #     def prepare(self, requests: Sequence[StreamRequest]) -> Iterable[str] | None
    #
    # Called once after `test()`, with the request of every data type, before any `fetch`. A platform
    # can start slow work ahead here (Shopify starts its bulk exports together). It returns the data
    # type names in the order the engine should fetch and store them, typically lazily, as each becomes
    # ready (a generator that blocks until the next one is); None keeps the platform's order. The engine
    # still stores one data type at a time, one writer each, with its own cursor and counts; it fetches
    # every data type exactly once, appending any the order leaves out. The iterator should not raise for
    # one data type's trouble: yield that data type and let its `fetch` raise, so only it fails.
    # `close()` must stop whatever `prepare` started.
    #
    #     def limits(self) -> Mapping[str, str]
    #
    # Called once after `test()`: per data type, what the platform will not show this integration although
    # it exists (a window its grants leave out), in words a merchant can act on. The sync still runs; the
    # sentence goes into the data type's result (`note`) and the log, so a short history is never silent.
    #
    # Optional, for `python -m sync audit` (sync/audit.py): an attribute `auditor` with
    #
    #     data_types: tuple[str, ...]                       # the data types it can compare by id
    #     def platform_ids(self, data_type) -> Iterator[tuple[str, datetime | None]]   # every (id, version)
    #     def window(self, data_type) -> tuple[datetime, datetime] | None   # stored rows compared: those last
    #                                                       # updated in it (asked after platform_ids); None: all
    #     def covers(self, data_type) -> Callable[[str], bool] | None       # which stored ids the listing covers
    #     def gone(self, data_type, ids) -> set[str]        # those the platform confirms it no longer has
    #     def records(self, data_type, ids) -> Iterator[Record]   # records by id, as the reads store them

    def close(self) -> None: ...


class Platform(Protocol):
    """A platform package's light entry point (its `__init__.py`): nothing here may import an HTTP
    client or a platform SDK, since every process loads it at start-up."""

    name: str
    data_types: tuple[str, ...]
    # Optional: data type -> dotted paths of its personal fields (names, e-mail addresses, phone numbers,
    # street addresses), removed before dedup when SYNC_STORE_PII=false (sync/personal.py).
    #
    #     personal_data: Mapping[str, tuple[str, ...]]
    #
    # The field of each data type's `sync_state` entry its reads are incremental on, declared once (the
    # engine builds each request's `Cursor` with it); a data type not named here has no time cursor
    # (a full snapshot each sync).
    cursor_fields: Mapping[str, str]

    def parse_options(self, env: Mapping[str, str]) -> Any:
        """The platform's knobs from the environment, parsed when the process starts (the engine hands
        them back as `settings.platform_options[name]`); ConfigError naming the variable when one is bad."""

    def validate_secrets(self, secrets: Mapping[str, Any]) -> None:
        """Raise CredentialError naming what is missing or malformed (never echoing a value). Called by
        `credentials add` before anything is stored, and before each sync."""

    def connect(self, secrets: Mapping[str, Any], settings: Settings) -> Connection: ...


def require_fields(platform: str, secrets: Mapping[str, Any], fields: tuple[str, ...]) -> None:
    """Shared check for the secrets JSON (SPEC section 2)."""
    if not isinstance(secrets, Mapping):
        raise CredentialError(f"{platform} secrets must be a JSON object")
    missing = [f for f in fields if not secrets.get(f)]
    if missing:
        raise CredentialError(f"{platform} credentials lack {', '.join(repr(m) for m in missing)}")


def close_quietly(connection: Connection | None) -> None:
    """Close a connection at the end of a sync or an audit: a failure to close changes nothing stored, and
    must not hide the error that ended the work."""
    if connection is None:
        return
    try:
        connection.close()
    except Exception:
        pass
