"""The stores' SQL, loaded from `sql/*.sql` by name: the one place a Python module holds SQL text (and
the loader of any other package's `.sql` file in the same format).

Each dialect keeps its named statements in `sql/<dialect>_queries.sql` (procrastinate's `queries.sql`
format: a `-- name --` line, comment lines saying what it does, the statement); PostgreSQL's atomic
operations are functions in `sql/postgres_functions.sql`, shared by the PostgreSQL and Supabase REST
stores; the tables are in `sql/<dialect>_schema.sql`. `install_script()` is what `init-db` runs on
PostgreSQL and what the Supabase migration holds (sync/store/migration.py).
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Mapping

# The version of the tables and functions this code needs. Raise it with any change to a schema or
# functions file: a database with an older one is upgraded by `ensure_schema` (the Supabase REST
# store, which cannot install functions, asks for the migration to be run instead).
SCHEMA_VERSION = 3

_BLOCK = re.compile(r"^-- ([a-z0-9_]+) --\n", re.MULTILINE)
_PART = re.compile(r"\{([a-z_]+)\}")


# Plain files next to the code (importlib.resources would load zipfile at every start, for a source tree).
_SQL = Path(__file__).resolve().parent / "sql"


def read(filename: str) -> str:
    return (_SQL / filename).read_text(encoding="utf-8")


def named_statements(package: str, filename: str) -> dict[str, str]:
    """The named statements of a `.sql` file of another package (the Shopify bulk spool's, for one)."""
    path = Path(importlib.import_module(package).__file__ or "").resolve().parent / filename
    return parse(path.read_text(encoding="utf-8"))


def parse(text: str) -> dict[str, str]:
    """`{name: statement}` of a queries file; the comment lines under each name are left out."""
    pieces = _BLOCK.split(text)
    out: dict[str, str] = {}
    for name, body in zip(pieces[1::2], pieces[2::2]):
        lines = body.strip().splitlines()
        while lines and lines[0].startswith("--"):
            lines.pop(0)
        if name in out:
            raise ValueError(f"statement {name!r} is defined twice")
        out[name] = "\n".join(lines).strip()
    return out


class Statements:
    """The named statements of one dialect."""

    def __init__(self, dialect: str):
        self.dialect = dialect
        self._statements = parse(read(f"{dialect}_queries.sql"))

    def __getitem__(self, name: str) -> str:
        return self._statements[name]

    def __contains__(self, name: str) -> bool:
        return name in self._statements

    def names(self) -> list[str]:
        return list(self._statements)

    def render(self, name: str, parts: Mapping[str, str]) -> str:
        """The statement with its `{part}`s filled in: per-client table names, quoted by the caller
        (validated by sync.ids). Braces that do not name a part (a JSON literal '{}') stay as they are."""
        return _PART.sub(lambda m: parts[m.group(1)] if m.group(1) in parts else m.group(0), self[name])


@lru_cache(maxsize=None)
def statements(dialect: str) -> Statements:
    return Statements(dialect)


def split(script: str) -> list[str]:
    """The statements of a block or script, for drivers that run one at a time (SQLite)."""
    import sqlite3

    out, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip().rstrip(";").strip():
                out.append(current.strip().rstrip(";"))
            current = ""
    if current.strip():
        out.append(current.strip())
    return out


def functions_script() -> str:
    """postgres_functions.sql with the schema version and the one copy of the tables filled in."""
    return (read("postgres_functions.sql")
            .replace("{{SCHEMA_VERSION}}", str(SCHEMA_VERSION))
            .replace("{{POSTGRES_SCHEMA}}", read("postgres_schema.sql").strip()))


def install_script() -> str:
    """Everything PostgreSQL needs, idempotent: the tables, then the functions."""
    return read("postgres_schema.sql").rstrip() + "\n\n" + functions_script()
