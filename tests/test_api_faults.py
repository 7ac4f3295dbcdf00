"""Single API faults the fault matrix (tests/test_fault_matrix.py, long) found mishandled, kept in the default
run: each must be retried into a complete sync."""

from __future__ import annotations

import uuid

import pytest

from emulators.http_faults import faults_of
from emulators.shopify import ShopifyEmulator
from sync.engine import SyncEngine
from sync.models import RunParams

from .engine_fixtures import make_settings
from .shopify_fixtures import FAST
from .test_fault_matrix import _add


@pytest.mark.parametrize("operation", ["ShopInfo", "Orders"])
def test_a_shopify_answer_cut_short_is_retried(tmp_path, operation):
    with ShopifyEmulator(restore_rate=1e9, bucket_size=1e9) as emu:
        domain, token = f"cut-{uuid.uuid4().hex[:8]}.myshopify.com", f"shpat_{uuid.uuid4().hex}"
        emu.add_shop(domain, token, orders=5, products=3, customers=3)
        emu.set_bulk_timing(domain, seconds=0.02)
        settings = make_settings("sqlite", tmp_path, SHOPIFY_BASE_URL=emu.base_url, SHOPIFY_BULK="off", **FAST)
        client_id, _ = _add(settings, "shopify", {"shop_domain": domain, "access_token": token})
        faults_of(emu).add("truncated", operation)
        summary = SyncEngine(settings).run(RunParams(force=True, client_id=client_id), workers=1)
        assert faults_of(emu).pending() == 0
        assert summary.results[0].success, summary.results[0].error_message
