"""`GET /rest/v1/<table>?select=...&col=op.value&order=...&limit=...`: PostgREST's horizontal and vertical
filtering, the subset the store uses (select of plain columns, eq/neq/gt/gte/lt/lte/like/is/in, order, limit,
offset). Every name is checked against the table's columns and quoted; every value is a bound parameter.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from .errors import PgrstError

_OPERATORS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "like": "LIKE",
              "ilike": "ILIKE"}
_RESERVED = {"select", "order", "limit", "offset", "on_conflict", "columns"}


def _column(name: str, columns: list[str]) -> sql.Identifier:
    if name not in columns:
        raise PgrstError(400, "42703", f"column {name} does not exist")
    return sql.Identifier(name)


def _split_list(value: str) -> list[str]:
    """`(a,b,"c,d")` -> ['a', 'b', 'c,d']"""
    inner = value[1:-1] if value.startswith("(") and value.endswith(")") else value
    out, current, quoted = [], [], False
    for char in inner:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(char)
    out.append("".join(current))
    return out


def build_select(schema: str, table: str, columns: list[str],
                 query: list[tuple[str, str]]) -> tuple[sql.Composed, list[Any]]:
    """The SQL for one read and its parameters; the result is one JSON array."""
    select: list[sql.Composable] = [sql.SQL("*")]
    where: list[sql.Composable] = []
    order: list[sql.Composable] = []
    params: list[Any] = []
    limit = offset = None
    for key, value in query:
        if key == "select":
            names = [c.strip() for c in value.split(",") if c.strip()]
            if names and names != ["*"]:
                select = [_column(n, columns) for n in names]
        elif key == "order":
            for term in value.split(","):
                parts = term.split(".")
                item = [_column(parts[0], columns)]
                for modifier in parts[1:]:
                    if modifier not in ("asc", "desc", "nullsfirst", "nullslast"):
                        raise PgrstError(400, "PGRST100", f'"failed to parse order ({value})"')
                    item.append(sql.SQL({"nullsfirst": "NULLS FIRST", "nullslast": "NULLS LAST"}.get(
                        modifier, modifier.upper())))
                order.append(sql.SQL(" ").join(item))
        elif key == "limit":
            limit = int(value)
        elif key == "offset":
            offset = int(value)
        elif key in _RESERVED:
            continue
        else:
            column = _column(key, columns)
            negate, _, rest = value.partition(".") if value.startswith("not.") else ("", "", value)
            if negate:
                value = rest
            op, dot, operand = value.partition(".")
            if not dot:
                raise PgrstError(400, "PGRST100", f'"failed to parse filter ({value})"')
            if op in _OPERATORS:
                clause = sql.SQL("{} {} %s").format(column, sql.SQL(_OPERATORS[op]))
                params.append(operand.replace("*", "%") if op in ("like", "ilike") else operand)
            elif op == "is":
                word = {"null": "NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}.get(operand.lower())
                if word is None:
                    raise PgrstError(400, "PGRST100", f'"failed to parse filter ({value})"')
                clause = sql.SQL("{} IS {}").format(column, sql.SQL(word))
            elif op == "in":
                clause = sql.SQL("{}::text = ANY(%s)").format(column)
                params.append(_split_list(operand))
            else:
                raise PgrstError(400, "PGRST100", f'"failed to parse filter ({value})"')
            where.append(sql.SQL("NOT ({})").format(clause) if negate else clause)
    query_sql = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(select), sql.Identifier(schema, table))
    if where:
        query_sql += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
    if order:
        query_sql += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(order)
    if limit is not None:
        query_sql += sql.SQL(" LIMIT {}").format(sql.Literal(limit))
    if offset is not None:
        query_sql += sql.SQL(" OFFSET {}").format(sql.Literal(offset))
    wrapped = sql.SQL("SELECT COALESCE(json_agg(_r), '[]'::json)::text FROM ({}) _r").format(query_sql)
    return wrapped, params
