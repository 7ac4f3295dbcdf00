"""`python -m sync reset-cursor`: make chosen data types of chosen integrations read their whole history again.

Each data type keeps its cursor in `sync_state` (SPEC section 3); without one, its next sync is a first sync
(Shopify: a bulk export; Amazon orders: `AMAZON_ORDERS_INITIAL_DAYS` back). Records read again are deduplicated
as always: unchanged ones are not written, changed ones are updated in place, nothing is duplicated. The use it
was made for: rows stored in an older shape (Amazon orders of the Orders API v0) are replaced by the current
one without waiting for each order to change.

An integration a sync is running on (a live lease) is left as it was: that sync would write its cursor back
with its next page. The command says so and exits 1; run it again once the sync has finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

from .errors import ConfigError
from .ids import normalize_uuid
from .models import Integration
from .platforms import PLATFORMS, data_types as platform_data_types
from .timeutil import utcnow
from .store.base import CliStore


@dataclass
class ResetReport:
    reset: list[tuple[Integration, tuple[str, ...]]] = field(default_factory=list)
    busy: list[Integration] = field(default_factory=list)  # a sync holds the lease: nothing changed

    @property
    def exit_code(self) -> int:
        return 1 if self.busy else 0


def choose(store: CliStore, *, credential_ids: Sequence[str] = (), client_id: str | None = None,
           platform: str | None = None) -> list[Integration]:
    """The integrations named by id, or every one of a client and/or platform. ConfigError when none."""
    if not (credential_ids or client_id or platform):
        raise ConfigError("name the integrations to reset: --credential-id, --client-id and/or --platform")
    if platform is not None and platform not in PLATFORMS:
        raise ConfigError(f"unknown platform {platform!r}: use one of {', '.join(PLATFORMS)}")
    if credential_ids:
        chosen = []
        for raw in credential_ids:
            integration = store.get_integration(normalize_uuid(raw, "credential id"))
            if integration is None:
                raise ConfigError(f"no integration with credential id {raw}")
            chosen.append(integration)
        chosen = [i for i in chosen if (client_id is None or i.client_id == normalize_uuid(client_id))
                  and (platform is None or i.platform_type == platform)]
    else:
        chosen = store.list_integrations(normalize_uuid(client_id) if client_id else None, platform)
    if not chosen:
        raise ConfigError("no integration matches the given --credential-id / --client-id / --platform")
    return chosen


def plan(integrations: Sequence[Integration], data_types: Sequence[str]) -> list[tuple[Integration, tuple[str, ...]]]:
    """Which data types to reset on each integration: the named ones it has, or all of its platform's."""
    own_types = {name: platform_data_types(name) for name in PLATFORMS}
    known = {t for types in own_types.values() for t in types}
    unknown = [t for t in data_types if t not in known]
    if unknown:
        raise ConfigError(f"unknown data type {unknown[0]!r}: use {', '.join(sorted(known))}")
    out = []
    for integration in integrations:
        own = own_types.get(integration.platform_type, ())
        types = tuple(t for t in own if t in data_types) if data_types else tuple(own)
        if types:
            out.append((integration, types))
    if not out:
        raise ConfigError(f"none of the chosen integrations has the data type(s) {', '.join(data_types)}")
    return out


def reset_cursors(store: CliStore, chosen: Sequence[tuple[Integration, tuple[str, ...]]], *, due_now: bool,
                  clock: Callable[[], datetime] = utcnow) -> ResetReport:
    report = ResetReport()
    for integration, types in chosen:
        if store.reset_cursors(integration.credential_id, types, due_now, clock()):
            report.reset.append((integration, types))
        else:
            report.busy.append(integration)
    return report
