"""Dedup: decide, for one page, which records are new, which changed and which can be skipped.

Hashes are compared before anything is sent to the database, so an unchanged record costs one
hash comparison and no write.
"""

from __future__ import annotations

import time
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Mapping, NamedTuple

from .hashing import serialize
from .models import Page, Record
from .store.base import StagedRow


@dataclass
class PagePlan:
    """What to write of one page: rows never stored and rows stored with other content, kept apart so
    that a store can insert the first and upsert the second without having to remember a lookup."""

    new_rows: list[StagedRow]
    changed_rows: list[StagedRow]
    unchanged: int  # includes repeats of one id within the page

    @property
    def new(self) -> int:
        return len(self.new_rows)

    @property
    def updated(self) -> int:
        return len(self.changed_rows)


# Longer ids are refused: the dedup index's entry holds at most ~2.7 kB (PostgreSQL's btree limit), and no
# platform's id comes near (Shopify GIDs and Amazon order ids are tens of bytes, SKUs at most 40).
MAX_ID_BYTES = 1024


class Refused(NamedTuple):
    """A record that cannot be stored as given, and why (a sentence naming it, safe to show)."""

    external_id: str
    reason: str


class StagedPage(NamedTuple):
    rows: dict[str, StagedRow]  # by id; a later copy of the same id in the page wins
    repeats: int  # records that were repeats of an id within the page
    refused: list[Refused]


def id_problem(external_id: Any) -> str | None:
    """Why this id cannot key a stored row, or None when it can."""
    if type(external_id) is str and 0 < len(external_id) <= MAX_ID_BYTES and external_id.isascii() \
            and "\x00" not in external_id:
        return None  # nearly every id (ASCII: one byte a character, no surrogate): checked once, on the hot path
    if not isinstance(external_id, str):
        return f"its id is a {type(external_id).__name__}, not text"
    if not external_id:
        return "its id is empty"
    if "\x00" in external_id:
        return "its id holds a NUL character"
    try:
        size = len(external_id.encode("utf-8"))
    except UnicodeEncodeError:
        return "its id holds a lone UTF-16 surrogate (not valid Unicode)"
    if size > MAX_ID_BYTES:
        return f"its id is {size} bytes long (at most {MAX_ID_BYTES})"
    return None


def shown_id(external_id: Any) -> str:
    text = repr(external_id)
    return text if len(text) <= 60 else text[:57] + "..."


def _utc(value: Any) -> datetime | None:
    # A time without a zone is taken as UTC (a database session in another zone must not shift it).
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is timezone.utc:
        return value  # what the platforms' parsers give (sync.timeutil): no conversion to make
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def stage(records: Iterable[Record], *, yield_every: int = 0) -> StagedPage:
    """Serialize and hash each record once; a later copy of the same id in a page wins.

    A record that cannot be stored (an unusable id, a value JSON cannot hold) is refused with its reason
    instead of failing the page: the rest of the page is stored all the same.
    `yield_every`: on a helper thread, let other threads run every that many records (see stage_ahead).
    """
    staged: dict[str, StagedRow] = {}
    refused: list[Refused] = []
    seen = 0
    for record in records:
        seen += 1
        problem = id_problem(record.external_id)
        if problem is None:
            try:
                text, digest = serialize(record.data)
            except (TypeError, ValueError, RecursionError) as exc:
                problem = f"its data cannot be written as JSON ({exc})"
            else:
                staged[record.external_id] = StagedRow(record.external_id, text, digest, _utc(record.updated_at))
        if problem is not None:
            refused.append(Refused(shown_id(record.external_id), problem))
        if yield_every and seen % yield_every == 0:
            time.sleep(0)
    return StagedPage(staged, seen - len(staged) - len(refused), refused)


def classify(staged: Mapping[str, StagedRow], stored_hashes: Mapping[str, str], repeats: int = 0) -> PagePlan:
    new: list[StagedRow] = []
    changed: list[StagedRow] = []
    for external_id, row in staged.items():
        if external_id not in stored_hashes:
            new.append(row)
        elif stored_hashes[external_id] != row.record_hash:  # (a legacy row may have no hash: changed)
            changed.append(row)
    return PagePlan(new_rows=new, changed_rows=changed, unchanged=len(staged) - len(new) - len(changed) + repeats)


Staged = StagedPage
# Serializing holds the GIL; the writer thread, back from each database round trip, would wait up to
# the interpreter's switch interval (5 ms) for it. Handing the GIL over every few records keeps the
# writer's round trips prompt (a page of 250 takes ~3 ms to stage).
_YIELD_EVERY = 32


def stage_ahead(pages: Iterable[Page], pool: Executor) -> Iterator[tuple[Page, "Future[Staged]"]]:
    """Each page with its staging (serialize + hash) already started on `pool`, one page ahead.

    The caller writes page k while the pool stages page k+1 (the database wait releases the GIL, so
    on two cores the two overlap: staging is most of a re-sync's CPU). At most two pages are in hand.
    The fetch of page k+1 comes before page k is written, so a fetcher's `stored_versions` for it does
    not see page k yet (a record on both pages has its children fetched again: harmless). A fetch
    error is raised only after the page fetched before it was handed out, so everything fetched
    before a failure is still written.
    """
    pending: tuple[Page, Future[Staged]] | None = None
    iterator = iter(pages)
    while True:
        try:
            page = next(iterator)
        except StopIteration:
            break
        except Exception:
            if pending is not None:
                yield pending
            raise
        future = pool.submit(stage, page.records, yield_every=_YIELD_EVERY)
        if pending is not None:
            yield pending
        pending = (page, future)
    if pending is not None:
        yield pending
