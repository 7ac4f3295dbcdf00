"""The PostgreSQL store (psycopg 3): production, including a client's Supabase database.

Every operation but the page write is one named statement of sql/postgres_queries.sql, most of them
one call of a function of sql/postgres_functions.sql (the functions the Supabase REST store calls
too). Prepared statements are off (`prepare_threshold=None`) because Supabase's transaction pooler
(port 6543) cannot keep them between transactions; every write is one statement or a short explicit
transaction.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator, Mapping, Sequence
from urllib.parse import unquote

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ..errors import ConfigError
from ..ids import data_table, normalize_uuid, quote_ident
from . import rows
from .base import DataRow, PageScope
from .core import StoreCore
from .postgres_page import PostgresPageTransaction, probe
from .rows import Json
from .statements import install_script, statements


def _scrub_password(dsn: str, message: str) -> str:
    """`message` without the URL's password, nor any piece of it a URL delimiter would cut off."""
    rest = dsn.split("://", 1)[-1]
    userinfo = rest[:rest.rfind("@")] if "@" in rest else ""
    password = userinfo.split(":", 1)[1] if ":" in userinfo else ""
    if not password:
        return message
    pieces = {password, unquote(password), *re.split(r"[@:/?#%\s]", password)}
    for piece in sorted(pieces, key=len, reverse=True):
        if len(piece) >= 3 and piece in message:
            message = message.replace(piece, "***")
    return message


def connect(dsn: str, *, connect_timeout: int = 15) -> psycopg.Connection:
    try:
        return psycopg.connect(dsn, autocommit=True, prepare_threshold=None, row_factory=dict_row,
                               connect_timeout=connect_timeout, application_name="api_sync")
    except psycopg.Error as exc:
        # The message names host and database; a malformed URL (an unencoded "@" or space in the
        # password) can make libpq quote the password or a piece of it: those are scrubbed.
        message = _scrub_password(dsn, (str(exc).strip().splitlines() or [type(exc).__name__])[0])
        raise ConfigError(f"cannot connect to DATABASE_URL: {message}") from None


class PgConnector:
    """Named statements on one psycopg connection; `Json` parameters go as jsonb, lists as arrays."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self.sql = statements("postgres")

    @staticmethod
    def _params(params: Mapping[str, Any]) -> dict[str, Any]:
        return {k: Jsonb(v.value) if isinstance(v, Json) else list(v) if isinstance(v, tuple) else v
                for k, v in params.items()}

    def _execute(self, name: str, params: Mapping[str, Any]) -> psycopg.Cursor:
        return self.conn.execute(self.sql[name], self._params(params))

    def rows(self, name: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self._execute(name, params).fetchall()

    def value(self, name: str, params: Mapping[str, Any]) -> Any:
        row = self._execute(name, params).fetchone()
        return next(iter(row.values())) if row else None

    def count(self, name: str, params: Mapping[str, Any]) -> int:
        cur = self._execute(name, params)
        if cur.description is None:
            return cur.rowcount
        row = cur.fetchone()
        return int(next(iter(row.values())) or 0) if row else 0

    def close(self) -> None:
        self.conn.close()


class PostgresStore(StoreCore):
    kind = "postgres"

    def __init__(self, dsn: str, *, connect_timeout: int = 15):
        self._conn = connect(dsn, connect_timeout=connect_timeout)
        super().__init__(PgConnector(self._conn))

    # -- schema -------------------------------------------------------------------------------------
    def init_db(self) -> None:
        """The tables, then the functions (which the Supabase REST store calls too: `init-db` with the
        pooler DATABASE_URL installs them, so a project can later run with only the REST settings)."""
        with self._conn.transaction():
            self._db.value("init_lock", {})
            self._conn.execute(install_script())

    # -- SKU analysis -------------------------------------------------------------------------------
    def iter_data(self, client_id: str, data_types: Sequence[str], batch_size: int = 500) -> Iterator[DataRow]:
        client = normalize_uuid(client_id)
        self.ensure_data_table(client)
        parts = {"table": quote_ident(data_table(client))}
        bounds = self._conn.execute(self._db.sql.render("data_bounds", parts)).fetchone()
        if bounds is None or bounds["low"] is None:
            return
        low, high = bounds["low"] - 1, bounds["high"]
        statement = self._db.sql.render("data_range", parts)
        while low < high:
            # At most `batch_size` rows per range (ids are unique); upserts leave gaps, so ranges may hold fewer.
            top = low + batch_size
            for row in self._conn.execute(statement, {"low": low, "high": top,
                                                      "data_types": list(data_types)}).fetchall():
                yield rows.data_row(row)
            low = top

    # -- data ---------------------------------------------------------------------------------------
    def stored_versions(self, client_id: str, credential_id: str, data_type: str,
                        external_ids: Sequence[str]) -> dict[str, datetime | None]:
        # The fetchers ask this per page: the direct lookup, as the page write's (postgres_page.probe).
        if not external_ids:
            return {}
        return dict(probe(self._conn, normalize_uuid(client_id), "source_updated_at", {
            "credential_id": credential_id, "data_type": data_type, "external_ids": list(external_ids)}))

    @contextmanager
    def _page(self, scope: PageScope) -> Iterator[PostgresPageTransaction]:
        with self._conn.transaction():
            tx = PostgresPageTransaction(self._conn, scope)
            yield tx
            tx.flush()
