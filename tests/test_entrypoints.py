"""The scripts as an operator runs them, against the real fetchers and both emulators over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from emulators.amazon import AmazonEmulator
from emulators.shopify import ShopifyEmulator

from .engine_fixtures import KEY, query

ROOT = Path(__file__).resolve().parents[1]
SHOP_TOKEN = "shpat_" + "e2e0" * 8
REFRESH_TOKEN = "Atzr|IwEBIe2e-refresh-token-for-tests"


@pytest.fixture
def emulators():
    with ShopifyEmulator() as shopify, AmazonEmulator(time_scale=60) as amazon:
        shopify.add_shop("e2e.myshopify.com", SHOP_TOKEN, orders=40, products=8, customers=10)
        amazon.add_seller(REFRESH_TOKEN, orders=30, listings=12, fba=True)
        yield shopify, amazon


@pytest.fixture(params=["sqlite", "postgres"])
def env(request, tmp_path, emulators):
    shopify, amazon = emulators
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SQLITE_PATH", "SUPABASE"))}
    base.update({
        "CREDENTIALS_ENCRYPTION_KEY": KEY, "LOG_DIR": str(tmp_path / "logs"),
        "SHOPIFY_BASE_URL": shopify.base_url, "AMAZON_SP_API_BASE_URL": amazon.sp_api_base_url,
        "AMAZON_LWA_TOKEN_URL": amazon.lwa_token_url,
    })
    if request.param == "postgres":
        base["DATABASE_URL"] = request.getfixturevalue("fresh_pg_dsn")
    else:
        base["SQLITE_PATH"] = str(tmp_path / "api_sync.db")
    return base


def run(env, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True,
                          timeout=300)


def add(env, client: str, platform: str, secrets: dict) -> str:
    out = run(env, "-m", "sync", "credentials", "add", "--client-id", client, "--platform", platform, "--name",
              f"{platform} e2e", "--secrets-file", "-", stdin=json.dumps(secrets))
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_operator_workflow(env, emulators):
    shopify, amazon = emulators
    client = str(uuid.uuid4())
    assert run(env, "-m", "sync", "init-db").returncode == 0
    shop_cred = add(env, client, "shopify", {"shop_domain": "e2e.myshopify.com", "access_token": SHOP_TOKEN})
    amazon_cred = add(env, client, "amazon", amazon.demo_secrets(REFRESH_TOKEN))

    test = run(env, "-m", "sync", "credentials", "test", shop_cred)
    assert test.returncode == 0 and "Connection test passed" in test.stdout, test.stdout + test.stderr

    manual = run(env, "test_api_sync_now.py", client, "shopify")
    assert manual.returncode == 0, manual.stderr
    assert "Sync summary" in manual.stderr and "ok" in manual.stderr

    cron = run(env, "api_sync_cron.py", "--json")
    assert cron.returncode == 0, cron.stderr
    summary = json.loads(cron.stdout)
    assert summary["due"] == 1 and summary["synced"] == 1  # the manual run already synced the shop
    assert summary["results"][0]["platform_type"] == "amazon"
    orders = summary["results"][0]["data_types_synced"]["orders"]
    assert orders["new"] == 30

    again = run(env, "api_sync_cron.py", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["due"] == 0

    status = run(env, "-m", "sync", "status", "--json")
    assert {row["status"] for row in json.loads(status.stdout)} == {"connected"}
    triggers = sorted(r[0] for r in query_env(env, "SELECT sync_triggered_by FROM client_api_sync_results"))
    assert triggers == ["cron", "manual"]

    log_text = (Path(env["LOG_DIR"]) / "api_sync_cron.log").read_text()
    for secret in (SHOP_TOKEN, REFRESH_TOKEN, amazon.demo_secrets(REFRESH_TOKEN)["lwa_client_secret"]):
        assert secret not in log_text + manual.stdout + manual.stderr + cron.stdout + cron.stderr

    # The merchant uninstalls the app: the next forced sync fails with a clear message, exit code 1.
    shopify.revoke("e2e.myshopify.com")
    failed = run(env, "test_api_sync_now.py", client, "shopify", "--json")
    assert failed.returncode == 1
    error = json.loads(failed.stdout)["results"][0]["error_message"]
    assert "rejected the access token for e2e.myshopify.com" in error and SHOP_TOKEN not in error
    assert run(env, "-m", "sync", "credentials", "test", shop_cred).returncode == 1


def query_env(env, sql: str):
    from sync.config import Settings

    return query(Settings.from_env(env, load_dotenv=False), sql)
