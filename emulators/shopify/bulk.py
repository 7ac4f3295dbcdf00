"""Bulk operations: run a query over the whole shop and write Shopify's JSONL result.

Each object is one line; a nested connection's nodes become their own lines after their parent's,
carrying `"__parentId"`. `objectCount` counts every line, `rootObjectCount` the top-level ones.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterator

from graphql import (FieldNode, GraphQLSchema, InlineFragmentNode, OperationType, get_named_type, graphql_sync, parse,
                     validate)

from .data import iso

if TYPE_CHECKING:
    from .shop import EmulatedShop


@dataclass
class BulkOp:
    number: int
    query: str
    created_at: datetime
    started: float  # monotonic
    status: str = "CREATED"
    error_code: str | None = None
    object_count: int = 0
    root_object_count: int = 0
    completed_at: datetime | None = None
    content: bytes | None = None  # the JSONL served at `url`
    partial: bool = False
    file_token: str = ""
    group_objects: bool = False

    @property
    def gid(self) -> str:
        return f"gid://shopify/BulkOperation/{self.number}"

    def view(self, base_url: str) -> dict[str, Any]:
        url = f"{base_url}/bulk-results/{self.file_token}.jsonl" if self.content is not None else None
        return {
            "__typename": "BulkOperation", "id": self.gid, "status": self.status, "errorCode": self.error_code,
            "objectCount": str(self.object_count), "rootObjectCount": str(self.root_object_count),
            "fileSize": str(len(self.content)) if self.content is not None else None,
            "url": None if self.partial else url, "partialDataUrl": url if self.partial else None,
            "createdAt": iso(self.created_at), "completedAt": iso(self.completed_at) if self.completed_at else None,
            "query": self.query, "type": "QUERY",
        }


def check_bulk_query(schema: GraphQLSchema, query: str) -> str | None:
    """Why Shopify would refuse this bulk query, or None."""
    try:
        document = parse(query)
    except Exception as exc:
        return f"Invalid bulk query: {exc}"
    errors = validate(schema, document)
    if errors:
        return "Invalid bulk query: " + "; ".join(e.message for e in errors)
    ops = [d for d in document.definitions if d.kind == "operation_definition"]
    if len(ops) != 1 or ops[0].operation != OperationType.QUERY:
        return "Bulk queries must contain exactly one query operation."
    root = [s for s in ops[0].selection_set.selections if isinstance(s, FieldNode)]
    types = [get_named_type(schema.query_type.fields[s.name.value].type).name for s in root]
    if not any(t.endswith("Connection") for t in types):
        return "Bulk queries must contain at least one connection."
    return None


def _node_selection(conn_field: FieldNode):
    for sub in conn_field.selection_set.selections:
        if isinstance(sub, FieldNode) and sub.name.value == "edges":
            for inner in sub.selection_set.selections:
                if isinstance(inner, FieldNode) and inner.name.value == "node":
                    return "edges", inner
        if isinstance(sub, FieldNode) and sub.name.value == "nodes":
            return "nodes", sub
    return None, None


def _nodes(value: dict[str, Any], how: str) -> list[dict[str, Any]]:
    if how == "nodes":
        return value.get("nodes") or []
    return [e["node"] for e in value.get("edges") or []]


def _lines(node: dict[str, Any], selection, node_type, parent_id: str | None) -> Iterator[dict[str, Any]]:
    line: dict[str, Any] = {}
    children = []
    for sel in selection.selection_set.selections:
        if isinstance(sel, InlineFragmentNode):
            continue
        key = (sel.alias or sel.name).value
        ftype = get_named_type(node_type.fields[sel.name.value].type)
        if ftype.name.endswith("Connection") and "edges" in ftype.fields:
            children.append((key, sel, ftype))
        else:
            line[key] = node.get(key)
    if parent_id is not None:
        line["__parentId"] = parent_id
    yield line
    for key, sel, ftype in children:
        how, inner = _node_selection(sel)
        child_type = get_named_type(ftype.fields["nodes"].type)
        for child in _nodes(node.get(key) or {}, how):
            yield from _lines(child, inner, child_type, node.get("id"))


def run_bulk(schema: GraphQLSchema, shop: "EmulatedShop", op: BulkOp) -> None:
    """Execute the operation's query over the whole shop and store its JSONL (with the knobs applied)."""
    from .executor import Context

    document = parse(op.query)
    result = graphql_sync(schema, op.query, context_value=Context(shop, bulk=True))
    op.completed_at = datetime.now(timezone.utc)
    if result.errors:
        op.status, op.error_code, op.content = "FAILED", "INTERNAL_SERVER_ERROR", None
        return
    operation = [d for d in document.definitions if d.kind == "operation_definition"][0]
    out: list[bytes] = []
    roots = 0
    for sel in operation.selection_set.selections:
        if not isinstance(sel, FieldNode):
            continue
        ftype = get_named_type(schema.query_type.fields[sel.name.value].type)
        how, inner = _node_selection(sel)
        node_type = get_named_type(ftype.fields["nodes"].type)
        for node in _nodes(result.data[(sel.alias or sel.name).value], how):
            roots += 1
            for line in _lines(node, inner, node_type, None):
                out.append(json.dumps(line, separators=(",", ":")).encode() + b"\n")
    op.object_count, op.root_object_count = len(out), roots
    if shop.bulk_fail:
        # A failed operation: Shopify reports the error and links what it wrote before failing.
        op.status, op.error_code, op.partial = "FAILED", "INTERNAL_SERVER_ERROR", True
        out = out[: len(out) // 2]
    else:
        op.status = "COMPLETED"
    if shop.bulk_cut_short:
        out = out[: max(0, len(out) - shop.bulk_cut_short)]  # the file lacks lines objectCount announces
    op.content = b"".join(out)


def elapsed(op: BulkOp) -> float:
    return time.monotonic() - op.started
