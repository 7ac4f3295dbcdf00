"""A bulk result spooled to disk, so records can be put back together without holding the shop in memory.

Since API 2026-01 a bulk result is ungrouped: a child line (a line item, a variant, an inventory level)
carries its parent's id in `__parentId` and may come anywhere in the file, before its parent or far
after it. The spool is a temporary SQLite file: every line goes in as it is downloaded (roots in one
table, children in another, keyed by parent id), then one indexed join streams each root with its
children in file order. Memory stays at one page of records whatever the shop's size; the disk holds
about the JSONL file's size until the spool is closed.

Every line is counted on the way in (`LineCount`), so the caller can check the operation's
`objectCount` before handing anything over; a child whose parent is not in the file is counted too
(`orphans`) and makes the result incomplete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from ...errors import IncompleteDataError
from ...store.statements import named_statements, split
from ...tempdb import TempSqlite

SQL = named_statements("sync.platforms.shopify", "spool.sql")

BATCH = 2000  # lines per insert


@dataclass
class LineCount:
    objects: int = 0
    roots: int = 0


def _damaged() -> IncompleteDataError:
    return IncompleteDataError("a line of Shopify's bulk result was not JSON (the file is damaged); "
                               "the cursor stays and the next sync reads again")


class Spool:
    def __init__(self, directory: str | None = None):
        # Written by one thread (the download), read afterwards by another (the engine's fetch).
        self._file = TempSqlite("shopify-bulk-", SQL["open"], directory, check_same_thread=False)
        self._db = self._file.db
        self.path = self._file.path
        self._seq = 0
        self._indexed = False
        self.orphans = 0

    # --- filling ------------------------------------------------------------------------------------------
    def add(self, lines: Iterable[bytes], count: LineCount) -> None:
        """Spool one result file's lines (several files may go into one spool: the parts of one export)."""
        roots: list[tuple[int, str, bytes]] = []
        children: list[tuple[int, str, bytes]] = []
        self._db.execute(SQL["begin"])
        try:
            for raw in lines:
                try:
                    row = json.loads(raw)
                except ValueError:
                    raise _damaged() from None
                if not isinstance(row, dict):
                    raise _damaged()
                self._seq += 1
                count.objects += 1
                parent = row.get("__parentId")
                if parent is None:
                    count.roots += 1
                    roots.append((self._seq, str(row.get("id")), raw))
                else:
                    children.append((self._seq, str(parent), raw))
                if len(roots) + len(children) >= BATCH:
                    self._flush(roots, children)
            self._flush(roots, children)
        finally:
            self._db.execute(SQL["commit"])

    def _flush(self, roots: list, children: list) -> None:
        if roots:
            self._db.executemany(SQL["add_root"], roots)
            roots.clear()
        if children:
            self._db.executemany(SQL["add_child"], children)
            children.clear()

    def _index(self) -> None:
        if not self._indexed:
            for statement in split(SQL["index"]):  # once, after loading (cheaper than line by line)
                self._db.execute(statement)
            self._indexed = True
        (children,) = self._db.execute(SQL["count_children"]).fetchone()
        (placed,) = self._db.execute(SQL["count_placed_children"]).fetchone()
        self.orphans = children - placed

    def check_orphans(self, what: str, shop: str) -> None:
        self._index()
        if self.orphans:
            raise IncompleteDataError(
                f"Shopify's bulk export of {what} for {shop} held {self.orphans} object(s) whose parent is not "
                "in the file; nothing was stored, the cursor stays and the next sync reads again")

    # --- reading ------------------------------------------------------------------------------------------
    def roots_with_children(self, child_keys: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        """Each root (in file order) with its children (in file order) under `child_keys[type]` lists."""
        self._index()
        current: dict[str, Any] | None = None
        current_seq = None
        rows = self._db.execute(SQL["roots_with_children"])
        for seq, root_line, child_line in rows:
            if seq != current_seq:
                if current is not None:
                    yield current
                current, current_seq = json.loads(root_line), seq
                for key in child_keys.values():
                    current.setdefault(key, [])
            if child_line is not None:
                child = json.loads(child_line)
                child.pop("__parentId", None)
                current[_child_key(child, child_keys)].append(child)
        if current is not None:
            yield current

    def children_with_parents(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(parent, child) pairs in the children's file order, for results whose records are the children
        (inventory levels under their location). Parents are few here and decoded once each."""
        self._index()
        parents: dict[str, dict[str, Any]] = {}
        rows = self._db.execute(SQL["children_with_parents"])
        for child_line, parent_id, parent_line in rows:
            parent = parents.get(parent_id)
            if parent is None:
                parent = parents[parent_id] = json.loads(parent_line)
            child = json.loads(child_line)
            child.pop("__parentId", None)
            yield parent, child

    def close(self) -> None:
        self._file.close()


def _child_key(row: Mapping[str, Any], child_keys: Mapping[str, str]) -> str:
    gid = str(row.get("id", ""))
    kind = gid.split("/")[-2] if gid.count("/") >= 3 else ""
    if kind not in child_keys:
        raise IncompleteDataError(f"Shopify's bulk result held an unexpected child object ({kind or 'no id'})")
    return child_keys[kind]
