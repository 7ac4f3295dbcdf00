"""The stores' SQL has one home: named statements in sync/store/sql/*.sql, the shared operations as the
functions of postgres_functions.sql. No Python module but the loader and the migration generator holds
SQL, and every operation the common store logic names exists for every store."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sync.store import statements as loader
from sync.store.core import StoreCore
from sync.store.memory import MemoryConnector
from sync.store.postgres import PostgresStore
from sync.store.sqlite import SqliteStore
from sync.store.supabase_rest import _READS, _STORED

ROOT = Path(__file__).resolve().parents[1]
# The two modules allowed to hold SQL text: the loader (sync/store/statements.py) and the generator
# of the Supabase migration (sync/store/migration.py).
ALLOWED = {ROOT / "sync" / "store" / "statements.py", ROOT / "sync" / "store" / "migration.py"}
_KEYWORDS = {"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "COPY", "PRAGMA", "BEGIN", "WITH"}


def _python_modules() -> list[Path]:
    return [*sorted((ROOT / "sync").rglob("*.py")), *sorted(ROOT.glob("*.py"))]


def _looks_like_sql(text: str) -> bool:
    words = text.strip().split(None, 1)
    return bool(words) and words[0] in _KEYWORDS and len(words) > 1


def test_no_sql_in_python_modules_but_the_loader_and_the_migration_generator():
    found = []
    for path in _python_modules():
        if path in ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _looks_like_sql(node.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.strip()[:60]!r}")
    assert found == []


def test_grep_finds_no_select_insert_update_outside_the_loader_and_the_generator():
    # The literal check, over the code (docstrings and comments included).
    hits = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in _python_modules() if p not in ALLOWED
            for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"\b(SELECT|INSERT|UPDATE)\b", line)]
    assert hits == []


def _core_operations() -> set[str]:
    source = (ROOT / "sync" / "store" / "core.py").read_text()
    return set(re.findall(r'self\._db\.(?:rows|value|count)\("([a-z_]+)"', source))


def _overrides(store: type, operation: str) -> bool:
    """The store implements the operation itself (a method of that name replacing StoreCore's)."""
    return any(operation in vars(cls) for cls in store.__mro__[:store.__mro__.index(StoreCore)])


def test_every_operation_of_the_common_logic_exists_for_every_store():
    operations = _core_operations()
    assert {"claim_next", "finish_attempt", "close_abandoned_runs", "list_due"} <= operations
    postgres, sqlite = loader.statements("postgres"), loader.statements("sqlite")
    functions = set(re.findall(r"CREATE OR REPLACE FUNCTION (api_sync_[a-z_]+)\(", loader.functions_script()))
    for name in operations:
        method = {"ensure_data_table": "_create_data_table", "data_batch": "iter_data"}.get(name, name)
        assert name in postgres or _overrides(PostgresStore, method), f"postgres_queries.sql lacks {name}"
        assert name in sqlite or _overrides(SqliteStore, method), f"sqlite_queries.sql lacks {name}"
        assert hasattr(MemoryConnector, f"_{name}"), f"the in-memory store lacks {name}"
        assert name in _READS or name in _STORED or f"api_sync_{name}" in functions \
            or name in ("schema_present", "schema_version"), f"no function api_sync_{name} for the Supabase REST store"


def test_every_named_statement_is_used():
    code = "\n".join(p.read_text() for p in (ROOT / "sync" / "store").glob("*.py"))
    for dialect in ("postgres", "sqlite"):
        for name in loader.statements(dialect).names():
            assert f'"{name}"' in code, f"{dialect}_queries.sql: {name} is not used"


def test_queries_files_parse_and_name_each_statement_once():
    text = "-- header\n\n-- one --\n-- what\nSELECT 1\n\n-- two --\nSELECT '{}'::jsonb, {table}\n"
    parsed = loader.parse(text)
    assert parsed == {"one": "SELECT 1", "two": "SELECT '{}'::jsonb, {table}"}
    assert loader.Statements.render(type("S", (), {"__getitem__": lambda s, n: parsed[n]})(), "two",
                                    {"table": '"t"'}) == "SELECT '{}'::jsonb, \"t\""
