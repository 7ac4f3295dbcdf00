"""Compare the ids a platform lists with the ids stored live, without holding either set in memory.

The platform's (id, version) pairs are spooled to a temporary SQLite file as they come (a bulk export of a
million orders never sits in RAM); the stored live ids are then walked in batches and looked up in it.
What comes out: the ids the platform has and the table lacks (`missing`), the ids stored live that the
platform no longer lists (`extra`: gone there, or not yet confirmed), and the ids stored with an older
version than the platform's (`stale`: a change the cursor skipped). `python -m sync audit` shows these,
and a deletion feed too old to trust reconciles with them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Iterator

from . import timeutil
from .store.statements import named_statements
from .tempdb import TempSqlite

SQL = named_statements("sync", "idcompare.sql")
BATCH = 500


@dataclass
class Comparison:
    platform: int = 0  # ids the platform listed
    stored: int = 0  # live rows walked
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not (self.missing or self.extra or self.stale)


class IdSpool:
    """The platform's side of a comparison, on disk."""

    def __init__(self, directory: str | None = None):
        self._file = TempSqlite("api-sync-ids-", SQL["open"], directory)
        self._db = self._file.db

    def add(self, pairs: Iterable[tuple[str, datetime | None]]) -> None:
        self._db.execute(SQL["begin"])
        try:
            batch = []
            for external_id, updated in pairs:
                batch.append((external_id, timeutil.fixed(updated) if updated else None))
                if len(batch) >= 5000:
                    self._db.executemany(SQL["add"], batch)
                    batch.clear()
            if batch:
                self._db.executemany(SQL["add"], batch)
        finally:
            self._db.execute(SQL["commit"])

    def count(self) -> int:
        return int(self._db.execute(SQL["count"]).fetchone()[0])

    def lookup(self, ids: list[str]) -> dict[str, str | None]:
        return dict(self._db.execute(SQL["lookup"], (json.dumps(ids),)).fetchall())

    def mark_seen(self, ids: list[str]) -> None:
        if ids:
            self._db.execute(SQL["mark_seen"], (json.dumps(ids),))

    def unseen(self) -> Iterator[str]:
        for (external_id,) in self._db.execute(SQL["unseen"]):
            yield external_id

    def close(self) -> None:
        self._file.close()


def compare(platform: Iterable[tuple[str, datetime | None]], stored: Iterable[tuple[str, datetime | None]],
            *, directory: str | None = None) -> Comparison:
    """The platform's (id, updatedAt) pairs against the stored live (id, source_updated_at) pairs."""
    spool = IdSpool(directory)
    try:
        spool.add(platform)
        out = Comparison(platform=spool.count())
        batch: list[tuple[str, datetime | None]] = []

        def check() -> None:
            found = spool.lookup([i for i, _ in batch])
            for external_id, version in batch:
                if external_id not in found:
                    out.extra.append(external_id)
                    continue
                theirs = found[external_id]
                if theirs and version is not None and timeutil.parse_optional(theirs) > version:
                    out.stale.append(external_id)
            spool.mark_seen([i for i, _ in batch if i in found])
            batch.clear()

        for pair in stored:
            out.stored += 1
            batch.append(pair)
            if len(batch) >= BATCH:
                check()
        if batch:
            check()
        out.missing = list(spool.unseen())
        return out
    finally:
        spool.close()
