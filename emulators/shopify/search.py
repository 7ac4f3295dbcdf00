"""Shopify's search syntax, the part the emulator honours: `field:value` terms with comparators.

    updated_at:>='2024-05-01T00:00:00Z' created_at:<2024-06-01 id:>=1234
    created_at:>='2026-01-01' AND (action:destroy OR action:redact)

Terms are joined by AND (implicitly or with the word) and OR, AND binding tighter, grouped with
parentheses. Unknown fields are ignored, as Shopify ignores them, and reported back as warnings
(Shopify puts them in `extensions.search`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

_TERM = re.compile(r"^(?P<field>[a-z_]+):(?P<op><=|>=|<|>)?(?P<value>.*)$")
TIME_FIELDS = {"updated_at": "updatedAt", "created_at": "createdAt"}
# Word-valued fields (bulkOperations' filters), compared without regard to case.
WORD_FIELDS = {"status": "status", "operation_type": "type", "action": "action", "subject_type": "subjectType"}


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


# A parsed query: a term, or ("and" | "or", [parts]).
Node = Any


@dataclass(frozen=True)
class Search:
    terms: tuple[Term, ...]  # every term, whatever the connectives
    warnings: tuple[str, ...]
    tree: Node = None  # None: no condition

    def predicate(self) -> Callable[[Mapping[str, Any]], bool]:
        tree = self.tree
        return lambda item: _holds(tree, item)


def _holds(node: Node, item: Mapping[str, Any]) -> bool:
    if node is None:
        return True
    if isinstance(node, Term):
        return node.matches(item)
    kind, parts = node
    return all(_holds(p, item) for p in parts) if kind == "and" else any(_holds(p, item) for p in parts)


_TOKEN = re.compile(r"\(|\)|[^\s()]+")


def _term(token: str, terms: list[Term], warnings: list[str]) -> Term | None:
    m = _TERM.match(token)
    if not m:
        warnings.append(f"Unsupported search term: {token}")
        return None
    field, op, raw = m["field"], m["op"] or "=", m["value"].strip("'\"")
    try:
        if field in TIME_FIELDS:
            term = Term(field, op, parse_time(raw).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        elif field == "id":
            term = Term(field, op, numeric_id(raw))
        elif field in WORD_FIELDS:
            term = Term(field, op, raw.lower())
        else:
            warnings.append(f"Invalid search field for this query: {field}")
            return None
    except ValueError:
        warnings.append(f"Invalid value for {field}: {raw}")
        return None
    terms.append(term)
    return term


def parse_search(query: str | None) -> Search:
    if not query:
        return Search((), ())
    tokens = _TOKEN.findall(query)
    terms: list[Term] = []
    warnings: list[str] = []
    position = 0

    def either() -> Node:  # and-groups joined by OR
        nonlocal position
        parts = [both()]
        while position < len(tokens) and tokens[position].upper() == "OR":
            position += 1
            parts.append(both())
        parts = [p for p in parts if p is not None]
        return None if not parts else parts[0] if len(parts) == 1 else ("or", parts)

    def both() -> Node:  # atoms joined by AND, said or implied
        nonlocal position
        parts = []
        while position < len(tokens) and tokens[position] != ")" and tokens[position].upper() != "OR":
            token = tokens[position]
            position += 1
            if token.upper() == "AND":
                continue
            if token == "(":
                parts.append(either())
                if position < len(tokens) and tokens[position] == ")":
                    position += 1
                continue
            parts.append(_term(token, terms, warnings))
        parts = [p for p in parts if p is not None]
        return None if not parts else parts[0] if len(parts) == 1 else ("and", parts)

    tree = either()
    while position < len(tokens):  # an unmatched ")": skipped, as Shopify is lenient
        position += 1
        extra = either()
        if extra is not None:
            tree = extra if tree is None else ("and", [tree, extra])
    return Search(tuple(terms), tuple(warnings), tree)
