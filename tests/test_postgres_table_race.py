"""Two workers creating one client's table at once (its Shopify and Amazon integrations on their first
sync) must both succeed: PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against itself."""

from __future__ import annotations

import threading
import uuid

from sync.store.postgres import PostgresStore


def test_concurrent_first_creation_of_a_client_table(fresh_pg_dsn):
    stores = [PostgresStore(fresh_pg_dsn) for _ in range(4)]
    try:
        stores[0].ensure_schema()
        for _ in range(10):
            client = str(uuid.uuid4())
            barrier = threading.Barrier(len(stores))
            errors: list[BaseException] = []

            def create(store: PostgresStore) -> None:
                barrier.wait()
                try:
                    store.ensure_data_table(client)
                except BaseException as exc:  # collected: the assertion below names it
                    errors.append(exc)

            threads = [threading.Thread(target=create, args=(s,)) for s in stores]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert errors == []
    finally:
        for store in stores:
            store.close()
