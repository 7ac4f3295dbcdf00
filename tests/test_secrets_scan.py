"""Secrets never leak: the whole life of three integrations through the commands a user runs (init-db, add,
list, status, test, the cron job, the manual script with its progress, the admin API, rotate-key), with the
log level at DEBUG, two of them failing along the way; then every log file, every command's console
output, every error_message, every results and runs row and a pg_dump of the whole database are scanned for
every secret used. The stored credentials cannot be read without the key; after rotate-key the new key
alone reads all of them and the old one none.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet, InvalidToken
from fastapi.testclient import TestClient

from emulators.shopify import ShopifyEmulator
from sync.config import Settings
from sync.crypto import SecretBox
from sync.errors import CredentialError

from .amazon_fixtures import FAST_ENV, emulator as amazon_emulator
from .pg_cluster import cluster  # noqa: F401 (the fixture)
from .reliability import record
from .shopify_fixtures import FAST

ROOT = Path(__file__).resolve().parents[1]



def _run(env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("DATABASE_URL", "SQLITE_PATH", "SUPABASE", "CREDENTIALS_", "SHOPIFY_", "AMAZON_"))}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env={**base, **env}, input=stdin, capture_output=True,
                          text=True, timeout=240)


def test_no_secret_in_logs_console_results_or_a_database_dump(cluster, tmp_path):
    # A database role with a password: the DATABASE_URL's password is a secret too.
    password = "pw-" + uuid.uuid4().hex
    database = f"secrets_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE syncer LOGIN PASSWORD '{password}'")
        conn.execute(f'CREATE DATABASE "{database}" OWNER syncer')
    database_url = f"postgresql://syncer:{password}@127.0.0.1:{cluster.port}/{database}"
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    admin_token = "admin-" + uuid.uuid4().hex
    jwt_secret = "jwt-" + uuid.uuid4().hex
    good_token, revoked_token = f"shpat_{uuid.uuid4().hex}", f"shpat_{uuid.uuid4().hex}"
    refresh_token = f"Atzr|{uuid.uuid4().hex}{uuid.uuid4().hex}"
    client_secret = f"amzn1.oa2-cs.v1.{uuid.uuid4().hex}"
    lwa_app_id = f"amzn1.application-oa2-client.{uuid.uuid4().hex}"
    outputs: list[str] = []
    with ShopifyEmulator(restore_rate=1e6, bucket_size=1e6) as shopify, amazon_emulator(time_scale=600) as amazon:
        shopify.add_shop("good-secrets.myshopify.com", good_token, orders=12, products=4, customers=5)
        shopify.add_shop("gone-secrets.myshopify.com", revoked_token, orders=3, products=2, customers=2)
        amazon.add_seller(refresh_token, orders=6, listings=4, lwa_app_id=lwa_app_id, lwa_client_secret=client_secret)
        env = {"DATABASE_URL": database_url, "CREDENTIALS_ENCRYPTION_KEY": old_key, "ADMIN_API_TOKEN": admin_token,
               "SUPABASE_JWT_SECRET": jwt_secret, "LOG_DIR": str(tmp_path / "logs"), "LOG_LEVEL": "DEBUG",
               "SHOPIFY_BASE_URL": shopify.base_url, "AMAZON_SP_API_BASE_URL": amazon.sp_api_base_url,
               "AMAZON_LWA_TOKEN_URL": amazon.lwa_token_url, **FAST, **FAST_ENV}

        def run(*args: str, stdin: str | None = None, expect: int | None = 0, **extra: str) -> str:
            done = _run({**env, **extra}, *args, stdin=stdin)
            outputs.extend([done.stdout, done.stderr])
            if expect is not None:
                assert done.returncode == expect, (args, done.stdout[-2000:], done.stderr[-2000:])
            return done.stdout

        run("-m", "sync", "init-db")
        clients = {name: str(uuid.uuid4()) for name in ("good", "gone", "amazon")}
        secrets = {
            "good": {"shop_domain": "good-secrets.myshopify.com", "access_token": good_token},
            "gone": {"shop_domain": "gone-secrets.myshopify.com", "access_token": revoked_token},
            "amazon": amazon.demo_secrets(refresh_token),
        }
        creds = {}
        for name, secret in secrets.items():
            platform = "amazon" if name == "amazon" else "shopify"
            out = run("-m", "sync", "credentials", "add", "--client-id", clients[name], "--platform", platform,
                      "--name", f"{name} store", "--secrets-file", "-", stdin=json.dumps(secret))
            creds[name] = out.strip().splitlines()[-1]
        run("-m", "sync", "credentials", "list")
        for cred in creds.values():
            run("-m", "sync", "credentials", "test", cred)
        run("api_sync_cron.py", "--json")                      # every first sync (Shopify in bulk)
        access_tokens = list(getattr(amazon, "_access_tokens", {}))  # what LWA issued to the syncs
        shopify.revoke("gone-secrets.myshopify.com")
        amazon.revoke(refresh_token)
        run("api_sync_cron.py", "--json", "--force", expect=1)  # two fail: a revoked token, a revoked app
        run("test_api_sync_now.py", expect=1)                  # the manual script, its progress and summary
        run("-m", "sync", "credentials", "test", creds["gone"], expect=1)
        run("-m", "sync", "status")
        run("-m", "sync", "status", "--json")
        # The admin API, in this process (its answers are scanned too).
        for key, value in env.items():
            os.environ[key] = value
        try:
            from sync.admin_api import create_app

            settings = Settings.from_env(env, load_dotenv=False)
            app = create_app(settings)
            with TestClient(app) as http:
                headers = {"Authorization": f"Bearer {admin_token}"}
                answer = http.post("/api/admin/trigger-api-sync?force_sync=true", headers=headers).json()
                assert app.state.background_runs.join(answer["run_id"], 120)
                outputs.append(http.get(f"/api/admin/sync-runs/{answer['run_id']}", headers=headers).text)
                outputs.append(http.get("/api/admin/sync-runs/not-a-uuid", headers=headers).text)
                outputs.append(http.post("/api/admin/trigger-api-sync", headers={"Authorization": "Bearer wrong"}).text)
        finally:
            for key in env:
                os.environ.pop(key, None)
        # Rotate: the new key in front, rotate, then the new key alone.
        run("-m", "sync", "credentials", "rotate-key", CREDENTIALS_ENCRYPTION_KEY=f"{new_key},{old_key}")
        run("-m", "sync", "credentials", "test", creds["good"], CREDENTIALS_ENCRYPTION_KEY=new_key)
        out = run("-m", "sync", "credentials", "test", creds["good"], CREDENTIALS_ENCRYPTION_KEY=old_key, expect=None)
        assert "cannot be decrypted" in out + outputs[-1]
        run("api_sync_cron.py", "--json", "--force", "--client-id", clients["good"], CREDENTIALS_ENCRYPTION_KEY=new_key)

    dump = subprocess.run([str(cluster.bindir / "pg_dump"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U",
                           "postgres", "--no-owner", database], capture_output=True, text=True, check=True).stdout
    with psycopg.connect(cluster.dsn(database)) as conn:
        rows = conn.execute("SELECT error_message, data_types_synced::text FROM client_api_sync_results").fetchall()
        rows += conn.execute("SELECT error_message, sync_state::text FROM client_api_credentials").fetchall()
        rows += conn.execute("SELECT status, summary::text FROM api_sync_runs").fetchall()
        blobs = [r[0] for r in conn.execute("SELECT credentials FROM client_api_credentials").fetchall()]
        failures = [r[0] for r in conn.execute(
            "SELECT error_message FROM client_api_sync_results WHERE NOT success").fetchall()]
    logs = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "logs").glob("*.log*")}
    # The scan has something to read: the logs and the dump hold the shops, the clients and the records.
    assert "api_sync_cron.log" in logs and len(failures) >= 4 and access_tokens
    assert "good-secrets.myshopify.com" in logs["api_sync_cron.log"] and clients["amazon"] in dump
    assert "gid://shopify/Order/" in dump
    assert any("rejected the access token" in f for f in failures)

    secrets_used = {"database password": password, "old key": old_key, "new key": new_key, "admin token": admin_token,
                    "JWT secret": jwt_secret, "Shopify token": good_token, "revoked Shopify token": revoked_token,
                    "refresh token": refresh_token, "LWA client secret": client_secret, "LWA app id": lwa_app_id,
                    **{f"LWA access token {i}": t for i, t in enumerate(access_tokens)}}
    places = {**{f"log {n}": t for n, t in logs.items()}, "console output": "\n".join(outputs),
              "results and runs": json.dumps(rows, default=str), "database dump": dump}
    scanned = 0
    for where, text in places.items():
        for what, secret in secrets_used.items():
            scanned += 1
            assert secret not in text, f"the {what} appears in the {where}"
        # Token shapes issued along the way (LWA access tokens, Shopify tokens) never show either.
        assert not re.search(r"Atza\|[A-Za-z0-9]", text), f"an LWA access token appears in the {where}"
        assert not re.search(r"shpat_[0-9a-f]{8}", text), f"a Shopify token appears in the {where}"
    # Stored credentials: Fernet tokens the new key alone reads; the old key, no key or another key, never.
    assert len(blobs) == 3
    for blob in blobs:
        assert SecretBox((new_key,)).decrypt(blob) in list(secrets.values())
        for keys in ((old_key,), (Fernet.generate_key().decode(),)):
            with pytest.raises(CredentialError, match="cannot be decrypted"):
                SecretBox(keys).decrypt(blob)
        with pytest.raises(CredentialError, match="CREDENTIALS_ENCRYPTION_KEY is not set"):
            SecretBox(()).decrypt(blob)
        with pytest.raises(InvalidToken):
            Fernet(old_key.encode()).decrypt(blob.encode())
    record("secrets scan", secrets=len(secrets_used), places=len(places), checks=scanned, leaks=0,
           credentials_after_rotation="new key only")
