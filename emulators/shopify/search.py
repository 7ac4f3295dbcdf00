"""Shopify's search syntax, the part the emulator honours: `field:value` terms with comparators.

    updated_at:>='2024-05-01T00:00:00Z' created_at:<2024-06-01 id:>=1234

Terms are joined by AND (implicitly or with the word). Unknown fields are ignored, as Shopify ignores
them, and reported back as warnings (Shopify puts them in `extensions.search`).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

_TERM = re.compile(r"^(?P<field>[a-z_]+):(?P<op><=|>=|<|>)?(?P<value>.*)$")
TIME_FIELDS = {"updated_at": "updatedAt", "created_at": "createdAt"}
# Word-valued fields (bulkOperations' filters), compared without regard to case.
WORD_FIELDS = {"status": "status", "operation_type": "type"}


def parse_time(text: str) -> datetime:
    text = text.strip().strip("'\"")
    if len(text) == 10:
        text += "T00:00:00"
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def numeric_id(gid: str | int) -> int:
    return int(str(gid).rsplit("/", 1)[-1].split("?", 1)[0])


@dataclass(frozen=True)
class Term:
    field: str
    op: str
    value: Any

    def matches(self, item: Mapping[str, Any]) -> bool:
        if self.field == "id":
            left: Any = numeric_id(item["id"])
        elif self.field in WORD_FIELDS:
            left = str(item.get(WORD_FIELDS[self.field]) or "").lower()
        else:
            # Stored timestamps are all "YYYY-MM-DDTHH:MM:SSZ" (UTC): as strings they sort as times.
            left = item[TIME_FIELDS[self.field]]
        right = self.value
        return {"=": left == right, ">": left > right, ">=": left >= right,
                "<": left < right, "<=": left <= right}[self.op]


@dataclass(frozen=True)
class Search:
    terms: tuple[Term, ...]
    warnings: tuple[str, ...]

    def predicate(self) -> Callable[[Mapping[str, Any]], bool]:
        terms = self.terms
        return lambda item: all(t.matches(item) for t in terms)


def parse_search(query: str | None) -> Search:
    if not query:
        return Search((), ())
    terms: list[Term] = []
    warnings: list[str] = []
    try:
        tokens = shlex.split(query, posix=False)
    except ValueError:
        tokens = query.split()
    for token in tokens:
        if token.upper() == "AND":
            continue
        m = _TERM.match(token)
        if not m:
            warnings.append(f"Unsupported search term: {token}")
            continue
        field, op, raw = m["field"], m["op"] or "=", m["value"].strip("'\"")
        try:
            if field in TIME_FIELDS:
                terms.append(Term(field, op, parse_time(raw).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")))
            elif field == "id":
                terms.append(Term(field, op, numeric_id(raw)))
            elif field in WORD_FIELDS:
                terms.append(Term(field, op, raw.lower()))
            else:
                warnings.append(f"Invalid search field for this query: {field}")
        except ValueError:
            warnings.append(f"Invalid value for {field}: {raw}")
    return Search(tuple(terms), tuple(warnings))
