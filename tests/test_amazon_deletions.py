"""Amazon completeness through the engine, the real sp_api client and the emulator: listings and FBA
inventory are full snapshots (a removed listing's rows get deleted_at, nothing else), a snapshot cut short
marks nothing, and the audit puts the snapshot sizes and the orders window's count next to the stored rows."""

from __future__ import annotations

import pytest

from sync.engine import SyncEngine
from sync.ids import data_table
from sync.models import RunParams

from .amazon_fixtures import US, add_amazon, emulator, engine_settings
from .engine_fixtures import query


CA = "A2EUQ1WTGCTBG2"  # Amazon.ca: the same (North America) region as the US


def run(settings):
    summary = SyncEngine(settings).run(RunParams(force=True, platform="amazon"))
    assert len(summary.results) == 1
    return summary.results[0]


def audit(result, data_type):
    return result.streams[data_type].audit.as_json()


def marked(settings, client_id):
    rows = query(settings, f'SELECT data_type, external_id FROM "{data_table(client_id)}" '
                           "WHERE deleted_at IS NOT NULL ORDER BY data_type, external_id")
    return [tuple(r) for r in rows]


@pytest.fixture(params=["sqlite", "postgres"])
def dsn(request):
    return request.getfixturevalue("fresh_pg_dsn") if request.param == "postgres" else None


def test_removed_listings_are_marked_and_the_audit_matches_the_emulator(dsn, tmp_path):
    with emulator() as emu:
        emu.add_seller("rt-del", orders=30, listings=25, marketplaces=[US, CA])
        settings = engine_settings(emu, tmp_path, dsn, AMAZON_REPORT_REUSE_MINUTES="0")
        client_id, _ = add_amazon(settings, emu.demo_secrets("rt-del"))
        first = run(settings)
        assert first.success, first.error_message
        counts = emu.counts("rt-del")
        assert audit(first, "products") == {"platform": counts["products"], "stored": counts["products"],
                                            "missing": 0, "deleted": 0}
        assert audit(first, "orders")["platform"] == audit(first, "orders")["stored"] == counts["orders"]

        # (A fresh listings report each sync: a reused one would show the catalogue of its own time.)
        # Four listings deleted in the US marketplace (their FBA stock gone too), none in Canada.
        gone = emu.remove_listings("rt-del", count=4, marketplace=US)
        second = run(settings)
        assert second.success, second.error_message
        counts = emu.counts("rt-del")
        assert audit(second, "products") == {"platform": counts["products"], "stored": counts["products"],
                                             "missing": 0, "deleted": 4}
        assert audit(second, "inventory") == {"platform": counts["inventory"], "stored": counts["inventory"],
                                              "missing": 0, "deleted": 4}
        # Exactly those rows: the US ids are the bare SKUs, the Canadian ones (still listed) stay live.
        assert marked(settings, client_id) == sorted([("inventory", s) for s in gone] + [("products", s) for s in gone])
        # Orders: the window's count next to the stored orders last updated in it.
        orders = audit(second, "orders")
        assert orders["platform"] == orders["stored"] and orders["missing"] == 0

        # Nothing changed: nothing more is marked, and the audit cost no request of its own (its figures are
        # the snapshots and the orders window the sync reads anyway).
        emu.reset_counters()
        third = run(settings)
        assert audit(third, "products")["deleted"] == 0 and len(marked(settings, client_id)) == 8
        assert set(emu.counters.calls) <= {"lwaToken", "getMarketplaceParticipations", "searchOrders", "getReports",
                                           "createReport", "getReport", "getReportDocument", "downloadReportDocument",
                                           "getInventorySummaries"}, emu.counters.calls
        assert emu.counters.calls["searchOrders"] == 1


def test_a_listings_report_that_fails_midway_marks_nothing(dsn, tmp_path):
    with emulator() as emu:
        emu.add_seller("rt-fatal", orders=5, listings=20, marketplaces=[US, CA])
        settings = engine_settings(emu, tmp_path, dsn, AMAZON_REPORT_REUSE_MINUTES="0")
        client_id, _ = add_amazon(settings, emu.demo_secrets("rt-fatal"))
        assert run(settings).success
        emu.remove_listings("rt-fatal", count=3)  # in both marketplaces
        # The US report is read and stored, then Canada's ends FATAL: the snapshot is incomplete.
        emu.set_report_outcome("rt-fatal", "FATAL", marketplace=CA)
        failed = run(settings)
        assert not failed.success and "products" in failed.error_message
        assert audit(failed, "products") == {"platform": None, "stored": 40, "missing": None, "deleted": 0}
        # The inventory snapshot was complete: its removed SKUs are marked (3 per marketplace).
        assert audit(failed, "inventory")["deleted"] == 6
        assert [r for r in marked(settings, client_id) if r[0] == "products"] == []
        # Once Canada's report works again, the next sync marks the six listings.
        emu.set_report_outcome("rt-fatal", "DONE", marketplace=CA)
        again = run(settings)
        assert again.success and audit(again, "products") == {"platform": 34, "stored": 34, "missing": 0,
                                                              "deleted": 6}


def test_an_inventory_walk_cut_short_marks_nothing(dsn, tmp_path):
    with emulator(inventory_page_size=10) as emu:
        emu.add_seller("rt-walk", orders=3, listings=35)
        settings = engine_settings(emu, tmp_path, dsn, AMAZON_INVENTORY_RESTARTS="0", AMAZON_MAX_RETRIES="1",
                                   AMAZON_REPORT_REUSE_MINUTES="0")
        client_id, _ = add_amazon(settings, emu.demo_secrets("rt-walk"))
        assert run(settings).success
        emu.remove_listings("rt-walk", count=5)
        # The third inventory page fails for good: the walk stops, nothing of inventory is marked.
        emu.inject("error500", "getInventorySummaries", times=10, after=2)
        failed = run(settings)
        assert not failed.success and "inventory" in failed.error_message
        assert audit(failed, "inventory")["deleted"] == 0 and audit(failed, "inventory")["platform"] is None
        assert audit(failed, "products")["deleted"] == 5
        assert [r for r in marked(settings, client_id) if r[0] == "inventory"] == []
