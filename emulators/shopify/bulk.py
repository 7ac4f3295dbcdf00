"""Bulk operations: run a query over the whole shop and write Shopify's JSONL result to a file.

Each object is one line; a nested connection's nodes become lines of their own carrying `"__parentId"`.
`objectCount` counts every line, `rootObjectCount` the top-level ones. Since API 2026-01 the output is
ungrouped unless the operation asked `groupObjects: true`: a child may come before its parent or far
from it. The emulator writes ungrouped output shuffled within windows of `shuffle_window` lines, so a
reader that expects children right after their parent fails here as it would on Shopify.

An operation runs in a thread of its own: the query is executed in chunks of root objects (the shop's
lock is held for one chunk at a time, so other requests go on meanwhile) and the lines go to a
temporary file. It completes no sooner than `latency + objectCount / objects_per_second` after its
start: the time model of a Shopify export (a fixed start-up, then a rate), which is what makes five
exports at once faster than one after another.
"""

from __future__ import annotations

import collections
import json
import os
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterator

from types import SimpleNamespace

from graphql import (FieldNode, GraphQLError, GraphQLList, GraphQLNonNull, GraphQLSchema, InlineFragmentNode,
                     OperationType, get_named_type, is_leaf_type, parse, validate)
from graphql.utilities import value_from_ast

from .data import iso

if TYPE_CHECKING:
    from .shop import EmulatedShop

ROOT_CHUNK = 100  # root objects executed per chunk (one hold of the shop's lock: other requests wait that long)


@dataclass
class BulkOp:
    number: int
    query: str
    created_at: datetime
    started: float  # monotonic
    group_objects: bool = False
    status: str = "CREATED"
    error_code: str | None = None
    object_count: int = 0  # running count while RUNNING, as Shopify reports it
    root_object_count: int = 0
    completed_at: datetime | None = None
    finished: float | None = None  # monotonic, when it reached a final status
    path: str | None = None  # the JSONL file served at `url`
    size: int = 0
    partial: bool = False
    file_token: str = ""
    written: bool = False  # the file is complete (the operation may still be RUNNING by the time model)
    failure: str | None = None
    ready_at: float | None = None  # monotonic: when the time model lets it complete
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def gid(self) -> str:
        return f"gid://shopify/BulkOperation/{self.number}"

    def view(self, base_url: str) -> dict[str, Any]:
        url = f"{base_url}/bulk-results/{self.file_token}.jsonl" if self.path and self.status in (
            "COMPLETED", "FAILED") else None
        return {
            "__typename": "BulkOperation", "id": self.gid, "status": self.status, "errorCode": self.error_code,
            "objectCount": str(self.object_count), "rootObjectCount": str(self.root_object_count),
            "fileSize": str(self.size) if url else None,
            "url": None if self.partial else url, "partialDataUrl": url if self.partial else None,
            "createdAt": iso(self.created_at), "completedAt": iso(self.completed_at) if self.completed_at else None,
            "query": self.query, "type": "QUERY",
        }

    def discard(self) -> None:
        if self.path:
            try:
                os.unlink(self.path)
            except OSError:
                pass


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


def _arguments(node: FieldNode, field_def) -> dict[str, Any]:
    args: dict[str, Any] = {}
    given = {a.name.value: a.value for a in node.arguments or ()}
    for name, arg in field_def.args.items():
        if name in given:
            args[name] = value_from_ast(given[name], arg.type, {})
        elif arg.default_value is not None and repr(arg.default_value) != "Undefined":
            args[name] = arg.default_value
    return args


def _is_list(type_) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _plan(selection_set, parent_type, plans: dict) -> list[tuple]:
    """Per selection, what `project` needs, worked out once per operation (not once per record).

    `plans` lives as long as the operation's parsed document, so the ids it is keyed by stay unique.
    """
    cache_key = (id(selection_set), parent_type.name)
    plan = plans.get(cache_key)
    if plan is None:
        plan = []
        for sel in selection_set.selections:
            if not isinstance(sel, FieldNode):
                continue
            name, key = sel.name.value, (sel.alias or sel.name).value
            if name == "__typename":
                plan.append((key, name, None, None, None, False, True, None))
                continue
            field_def = parent_type.fields[name]
            type_ = get_named_type(field_def.type)
            leaf = is_leaf_type(type_) or sel.selection_set is None
            plan.append((key, name, field_def.resolve, _arguments(sel, field_def) if field_def.resolve else None,
                         type_, _is_list(field_def.type), leaf, sel.selection_set))
        plans[cache_key] = plan
    return plan


def project(selection_set, parent_type, value: Any, ctx, path: Any) -> dict[str, Any]:
    """The answer graphql-core would give for this selection over a stored record, without its
    per-field machinery: the stored records already have the answer's shape, and the schema's resolvers
    (connections, quantities, access checks) are called where the executor defines them.

    A bulk export of a large shop runs through this path (a full execution is several times slower).
    """
    out: dict[str, Any] = {}
    for key, name, resolve, args, type_, many, leaf, sub in _plan(selection_set, parent_type, ctx.bulk_cache):
        if name == "__typename":
            out[key] = parent_type.name
            continue
        here = SimpleNamespace(prev=path, key=key)
        if resolve is not None:
            result = resolve(value, SimpleNamespace(context=ctx, path=here, field_name=name), **args)
        else:
            result = value.get(key if key in value else name) if isinstance(value, dict) else None
        if result is None or leaf:
            out[key] = result
        elif many:
            out[key] = [project(sub, type_, item, ctx, here) for item in result]
        else:
            out[key] = project(sub, type_, result, ctx, here)
    return out


class _Writer:
    """Lines to the result file: in order (grouped) or shuffled within windows (ungrouped)."""

    def __init__(self, path: str, shuffle_window: int, rng: random.Random):
        self.file = open(path, "wb")
        self.window = shuffle_window
        self.rng = rng
        self.pending: list[bytes] = []
        self.lines = 0

    def add(self, line: bytes) -> None:
        self.lines += 1
        if self.window <= 1:
            self.file.write(line)
            return
        self.pending.append(line)
        if len(self.pending) >= self.window:
            self.flush()

    def flush(self) -> None:
        self.rng.shuffle(self.pending)
        self.file.writelines(self.pending)
        self.pending = []

    def close(self) -> None:
        self.flush()
        self.file.close()


def _tail_cut(path: str, keep: int) -> int:
    """Keep the first `keep` lines of the file; returns its new size."""
    tmp = path + ".cut"
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        for i, line in enumerate(src):
            if i >= keep:
                break
            dst.write(line)
    os.replace(tmp, path)
    return os.path.getsize(path)


def run_bulk(schema: GraphQLSchema, shop: "EmulatedShop", op: BulkOp) -> None:
    """Execute the operation's query over the whole shop into its JSONL file (the knobs applied).

    Runs in the operation's own thread; the shop's lock is taken for one chunk of roots at a time.
    """
    from .executor import Context

    document = parse(op.query)
    operation = [d for d in document.definitions if d.kind == "operation_definition"][0]
    fd, op.path = tempfile.mkstemp(prefix="shopify-bulk-", suffix=".jsonl")
    os.close(fd)
    window = 1 if op.group_objects else shop.bulk_shuffle_window
    writer = _Writer(op.path, window, random.Random(op.number))
    cache: dict[Any, Any] = {}
    roots = 0
    failed: str | bool = False
    try:
        for sel in operation.selection_set.selections:
            if not isinstance(sel, FieldNode):
                continue
            ftype = get_named_type(schema.query_type.fields[sel.name.value].type)
            how, inner = _node_selection(sel)
            node_type = get_named_type(ftype.fields["nodes"].type)
            offset = 0
            while True:
                if op.status not in ("CREATED", "RUNNING"):
                    return  # cancelled
                with shop.lock:
                    ctx = Context(shop, bulk=True, bulk_window=(offset, ROOT_CHUNK), bulk_cache=cache)
                    try:
                        data = project(SimpleNamespace(selections=[sel]), schema.query_type, None, ctx, None)
                    except GraphQLError as exc:
                        failed = (exc.extensions or {}).get("code") or "INTERNAL_SERVER_ERROR"
                        break
                    nodes = _nodes(data[(sel.alias or sel.name).value], how)
                    lines = [json.dumps(line, separators=(",", ":")).encode() + b"\n"
                             for node in nodes for line in _lines(node, inner, node_type, None)]
                for line in lines:
                    writer.add(line)
                roots += len(nodes)
                op.object_count, op.root_object_count = writer.lines, roots
                if len(nodes) < ROOT_CHUNK:
                    break
                offset += ROOT_CHUNK
            if failed:
                break
    finally:
        writer.close()
    total = writer.lines
    op.size = os.path.getsize(op.path)
    if failed:
        code = failed if failed in ("ACCESS_DENIED", "TIMEOUT") else "INTERNAL_SERVER_ERROR"
        op.failure, op.error_code = code, code
    elif shop.bulk_fail:
        # A failed operation: Shopify reports the error and links what it wrote before failing.
        op.failure, op.error_code, op.partial = "INTERNAL_SERVER_ERROR", "INTERNAL_SERVER_ERROR", True
        op.size = _tail_cut(op.path, total // 2)
    elif shop.bulk_cut_short:
        op.size = _tail_cut(op.path, max(0, total - shop.bulk_cut_short))  # the file lacks announced lines
    op.object_count, op.root_object_count = total, roots
    rate = shop.bulk_objects_per_second
    op.ready_at = op.started + shop.bulk_seconds + (total / rate if rate else 0.0)
    op.written = True


def start(schema: GraphQLSchema, shop: "EmulatedShop", op: BulkOp) -> None:
    def work() -> None:
        try:
            run_bulk(schema, shop, op)
        except Exception:  # an emulator bug must show as a failed operation, not a hang
            op.failure, op.error_code, op.written = "INTERNAL_SERVER_ERROR", "INTERNAL_SERVER_ERROR", True
            op.ready_at = time.monotonic()

    op.thread = threading.Thread(target=work, name=f"bulk-{op.number}", daemon=True)
    op.thread.start()


def advance(op: BulkOp) -> None:
    """Move the operation's status on by the time model (called under the shop's lock)."""
    if op.status == "CREATED":
        op.status = "RUNNING"
    if op.status == "RUNNING" and op.written and time.monotonic() >= (op.ready_at or 0.0):
        op.status = "FAILED" if op.failure else "COMPLETED"
        op.completed_at = datetime.now(timezone.utc)
        op.finished = time.monotonic()


@dataclass(frozen=True)
class LoggedOperation:
    """One bulk operation as the emulator's operation log shows it (monotonic seconds)."""

    id: str
    root: str  # the query's top-level field, e.g. "orders"
    started: float
    finished: float | None
    status: str
    object_count: int


def log_entry(op: BulkOp) -> LoggedOperation:
    root = op.query.split("{", 2)[1].strip().split("(")[0].split()[0] if "{" in op.query else ""
    return LoggedOperation(op.gid, root, op.started, op.finished, op.status, op.object_count)


def overlapping(entries: list[LoggedOperation]) -> int:
    """The largest number of operations running at one moment."""
    events = collections.Counter()
    for e in entries:
        events[e.started] += 1
        events[e.finished if e.finished is not None else float("inf")] -= 1
    running = peak = 0
    for _, delta in sorted(events.items(), key=lambda kv: (kv[0], kv[1])):
        running += delta
        peak = max(peak, running)
    return peak
