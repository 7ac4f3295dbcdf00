"""What PostgREST keeps in its schema cache, read from the live catalog: functions and table columns.

PostgREST serves the schemas of its `db-schemas` setting (here: one, the connecting user's current
schema, fixed at start). The catalog is read again on every request, which stands for a schema cache
that is always fresh (`NOTIFY pgrst, 'reload schema'`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import psycopg

from .errors import PgrstError


@dataclass(frozen=True)
class Param:
    name: str
    type_sql: str  # format_type(): usable as a column type of json_to_record
    has_default: bool


@dataclass(frozen=True)
class Function:
    schema: str
    name: str
    params: tuple[Param, ...]
    returns_set: bool
    returns_composite: bool
    returns_void: bool

    def accepts(self, keys: set[str]) -> bool:
        names = {p.name for p in self.params}
        required = {p.name for p in self.params if not p.has_default}
        return keys <= names and required <= keys


_FUNCTIONS = """
SELECT p.proname, p.pronargs, p.pronargdefaults, p.proretset,
       t.typtype = 'c' OR p.prorettype = 'record'::regtype AS composite,
       p.prorettype = 'void'::regtype AS void,
       COALESCE(p.proargnames, '{}') AS argnames,
       COALESCE(p.proargmodes::text[], '{}') AS argmodes,
       ARRAY(SELECT format_type(x, NULL) FROM unnest(COALESCE(p.proallargtypes, p.proargtypes::oid[])) x) AS argtypes
FROM pg_proc p JOIN pg_type t ON t.oid = p.prorettype
WHERE p.pronamespace = %s::regnamespace AND p.proname = %s AND p.prokind = 'f'
"""


def functions(conn: psycopg.Connection, schema: str, name: str) -> list[Function]:
    out = []
    rows = conn.execute(_FUNCTIONS, (schema, name))
    for proname, nargs, ndefaults, retset, composite, void, names, modes, types in rows:
        inputs = []
        for i, type_sql in enumerate(types):
            mode = modes[i] if modes else "i"
            if mode in ("i", "b", "v"):
                inputs.append((names[i] if i < len(names) else "", type_sql))
        params = tuple(Param(n, t, i >= nargs - ndefaults) for i, (n, t) in enumerate(inputs))
        out.append(Function(schema, proname, params, retset, composite, void))
    return out


def resolve(conn: psycopg.Connection, schema: str, name: str, args: Mapping[str, object]) -> Function:
    """The overload whose parameter names fit the JSON keys, as PostgREST picks it (PGRST202/203 otherwise)."""
    candidates = functions(conn, schema, name)
    keys = set(args)
    fitting = [f for f in candidates if f.accepts(keys)]
    if not fitting:
        wanted = ", ".join(sorted(keys))
        hint = None
        if candidates:
            have = ", ".join(p.name for p in candidates[0].params)
            hint = f"Perhaps you meant to call the function {schema}.{name}({have})"
        else:
            hint = "If a new function was created in the database with this name and parameters, " \
                   "try reloading the schema cache."
        raise PgrstError(404, "PGRST202",
                         f"Could not find the function {schema}.{name}({wanted}) in the schema cache",
                         details=f"Searched for the function {schema}.{name} with parameters {wanted} or with a "
                                 "single unnamed json/jsonb parameter, but no matches were found in the schema cache.",
                         hint=hint)
    if len(fitting) > 1:
        raise PgrstError(300, "PGRST203", f"Could not choose the best candidate function between: "
                         + ", ".join(f"{schema}.{name}({', '.join(p.name for p in f.params)})" for f in fitting))
    return fitting[0]


def table_columns(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    """The columns of a table or view in the exposed schema (PGRST205 when there is none)."""
    rows = conn.execute(
        "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE c.relnamespace = %s::regnamespace AND c.relname = %s "
        "AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (schema, table)).fetchall()
    if not rows:
        raise PgrstError(404, "PGRST205", f"Could not find the table '{schema}.{table}' in the schema cache")
    return [r[0] for r in rows]
