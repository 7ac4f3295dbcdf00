"""A scratch SQLite file for one comparison or one bulk download (`idcompare.IdSpool`, the Shopify bulk
spool): on disk, so a million ids or lines never sit in memory, and removed when closed."""

from __future__ import annotations

import os
import sqlite3
import tempfile

from .store.statements import split


class TempSqlite:
    def __init__(self, prefix: str, setup: str, directory: str | None = None, *, check_same_thread: bool = True):
        fd, self.path = tempfile.mkstemp(prefix=prefix, suffix=".sqlite", dir=directory)
        os.close(fd)
        self.db = sqlite3.connect(self.path, check_same_thread=check_same_thread, isolation_level=None)
        for statement in split(setup):
            self.db.execute(statement)

    def close(self) -> None:
        try:
            self.db.close()
        finally:
            try:
                os.unlink(self.path)
            except OSError:
                pass
