"""SYNC_STORE_PII=false (SPEC section 1): personal data is taken out of the records between fetch and dedup.

Each platform names the paths of its personal fields per data type (`Platform.personal_data`, e.g.
`sync/platforms/shopify/personal.py`); this module removes them. A path is dotted keys; a list on the way is
walked element by element ("lineItems.name" would reach every line item's name). A removed field is absent,
not null, and the hash is taken after removal: switching the setting changes each affected record once
(counted as updated), and then never again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .models import Page, Record


def without_paths(data: Any, paths: Sequence[Sequence[str]]) -> Any:
    """`data` without the fields at `paths` (split into keys); only the branches touched are copied."""
    if not paths:
        return data
    if isinstance(data, list):
        return [without_paths(item, paths) for item in data]
    if not isinstance(data, Mapping):
        return data
    here = {p[0] for p in paths if len(p) == 1}
    deeper: dict[str, list[Sequence[str]]] = {}
    for path in paths:
        if len(path) > 1:
            deeper.setdefault(path[0], []).append(path[1:])
    if not (here & data.keys()) and not (deeper.keys() & data.keys()):
        return data
    out = {}
    for key, value in data.items():
        if key in here:
            continue
        out[key] = without_paths(value, deeper[key]) if key in deeper else value
    return out


def split_paths(paths: Iterable[str]) -> list[tuple[str, ...]]:
    return [tuple(p.split(".")) for p in paths]


def pages_without(pages: Iterable[Page], paths: Iterable[str]) -> Iterator[Page]:
    """The pages with the personal fields at `paths` removed from every record."""
    split = split_paths(paths)
    for page in pages:
        records = [Record(r.external_id, without_paths(r.data, split), r.updated_at) for r in page.records]
        yield replace(page, records=records)
