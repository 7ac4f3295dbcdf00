"""The commands as a user runs them: validation, exit codes, and no secret anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .engine_fixtures import add, make_settings, query

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "shpat_" + "5ec7e7" * 6


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request, tmp_path):
    dsn = request.getfixturevalue("fresh_pg_dsn") if request.param == "postgres" else None
    return make_settings(request.param, tmp_path, dsn)


def run(settings, *args: str, stdin: str | None = None, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SQLITE_PATH", "SUPABASE"))}
    env.update(settings.env)
    env.update(extra_env or {})
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True,
                          timeout=120)


def count_integrations(settings) -> int:
    try:
        return query(settings, "SELECT count(*) FROM client_api_credentials")[0][0]
    except Exception:
        return 0  # the table does not even exist: nothing was written


def test_add_list_remove(settings, tmp_path):
    secrets = tmp_path / "s.json"
    secrets.write_text(json.dumps({"shop_domain": "demo.myshopify.com", "access_token": TOKEN}))
    client = str(uuid.uuid4()).upper()
    out = run(settings, "-m", "sync", "credentials", "add", "--client-id", client, "--platform", "shopify",
              "--name", "Main Store", "--secrets-file", str(secrets), "--frequency-hours", "6")
    assert out.returncode == 0, out.stderr
    credential_id = out.stdout.strip().splitlines()[-1]
    assert uuid.UUID(credential_id)
    stored = query(settings, "SELECT client_id, credentials, sync_frequency_hours, status FROM client_api_credentials")
    assert str(stored[0][0]) == client.lower() and stored[0][2] == 6 and stored[0][3] == "pending"
    assert TOKEN not in stored[0][1] and stored[0][1].startswith("gAAAA")
    listing = run(settings, "-m", "sync", "credentials", "list")
    assert listing.returncode == 0 and "Main Store" in listing.stdout and TOKEN not in listing.stdout
    status = run(settings, "-m", "sync", "status", "--json")
    assert json.loads(status.stdout)[0]["next_sync_at"] is None
    assert run(settings, "-m", "sync", "credentials", "remove", credential_id).returncode == 0
    assert count_integrations(settings) == 0


@pytest.mark.parametrize("args, message", [
    (["--client-id", "abc123"], "is not a UUID"),
    (["--frequency-hours", "0"], "above 0"),
    (["--frequency-hours", "-3"], "above 0"),
    (["--platform", "ebay"], "invalid choice"),
])
def test_bad_input_is_refused_and_nothing_written(settings, tmp_path, args, message):
    secrets = tmp_path / "s.json"
    secrets.write_text(json.dumps({"shop_domain": "demo.myshopify.com", "access_token": TOKEN}))
    base = {"--client-id": str(uuid.uuid4()), "--platform": "shopify", "--name": "x",
            "--secrets-file": str(secrets)}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = [x for pair in base.items() for x in pair]
    out = run(settings, "-m", "sync", "credentials", "add", *argv)
    assert out.returncode == 2
    assert message in out.stderr
    assert count_integrations(settings) == 0


def test_secrets_missing_a_field_are_refused(settings):
    out = run(settings, "-m", "sync", "credentials", "add", "--client-id", str(uuid.uuid4()), "--platform", "amazon",
              "--name", "EU", "--secrets-file", "-", stdin=json.dumps({"refresh_token": "Atzr|abc"}))
    assert out.returncode == 2
    assert "'lwa_app_id'" in out.stderr and "Atzr|abc" not in out.stderr
    assert count_integrations(settings) == 0


def test_storing_without_a_key_is_refused(settings, tmp_path):
    out = run(settings, "-m", "sync", "credentials", "add", "--client-id", str(uuid.uuid4()), "--platform",
              "shopify", "--name", "x", "--secrets-file", "-",
              stdin=json.dumps({"shop_domain": "a.myshopify.com", "access_token": TOKEN}),
              extra_env={"CREDENTIALS_ENCRYPTION_KEY": ""})
    assert out.returncode == 2 and "CREDENTIALS_ENCRYPTION_KEY" in out.stderr
    assert count_integrations(settings) == 0


@pytest.mark.parametrize("script, args", [
    ("api_sync_cron.py", ["--client-id", "not-a-uuid"]),
    ("api_sync_cron.py", ["--platform", "ebay"]),
    ("api_sync_cron.py", ["--workers", "0"]),
    ("test_api_sync_now.py", ["not-a-uuid"]),
    ("test_api_sync_now.py", [str(uuid.uuid4()), "ebay"]),
])
def test_entry_points_refuse_bad_usage(settings, script, args):
    out = run(settings, script, *args)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "error" in out.stderr


def test_bad_configuration_exits_2(settings):
    out = run(settings, "api_sync_cron.py", extra_env={"SYNC_MAX_WORKERS": "many"})
    assert out.returncode == 2 and "SYNC_MAX_WORKERS" in out.stderr


def test_dry_run_lists_due_and_json(settings):
    add(settings)
    out = run(settings, "api_sync_cron.py", "--dry-run", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["due"] == 1
    assert count_integrations(settings) == 1


def test_no_secret_in_database_logs_results_or_console(settings, tmp_path):
    leaky_token = "shpat_" + "1eaky0" * 6
    add(settings, domain="ok.myshopify.com", access_token=TOKEN)
    add(settings, domain="leaky.myshopify.com", access_token=leaky_token, leak_token=True)
    out = run(settings, "-m", "tests.run_fake_sync", "--console")
    assert out.returncode == 1  # the leaky one failed
    summary = json.loads(out.stdout.splitlines()[-1])
    failed = [r for r in summary["results"] if not r["success"]][0]
    assert "***" in failed["error_message"]
    console = out.stdout + out.stderr
    log_text = (Path(settings.log_dir) / "api_sync_cron.log").read_text()
    assert "Starting full API sync cron job" in log_text and "request with token ***" in log_text
    tables = ["client_api_credentials", "client_api_sync_results", "api_sync_runs"]
    dump = " ".join(str(row) for t in tables for row in query(settings, f"SELECT * FROM {t}"))
    status = run(settings, "-m", "sync", "status")
    for text in (console, log_text, dump, status.stdout, status.stderr):
        assert TOKEN not in text and leaky_token not in text


def test_console_without_utf8_does_not_crash(settings):
    add(settings)
    out = run(settings, "-m", "tests.run_fake_sync", "--console", extra_env={"PYTHONIOENCODING": "cp1252"})
    assert out.returncode == 0, out.stderr
    assert "Logging error" not in out.stderr
    assert "Found 1 API integrations due for sync" in out.stderr


def test_connection_test_error_never_quotes_a_secret(settings):
    # `credentials test` prints the failure's message: it gets the same redaction as a sync's error.
    from sync import credentials as creds
    from sync.errors import SyncError
    from sync.platforms import PlatformRegistry
    from sync.store import open_store

    from .fakeplatform import FakePlatform

    leaky_token = "custom-app-token-" + "1eaky1" * 4  # no token shape: only the value itself can be matched
    _, credential_id = add(settings, domain="leaky2.myshopify.com", access_token=leaky_token, leak_token=True)
    store = open_store(settings)
    try:
        with pytest.raises(SyncError) as failure:
            creds.test_connection(store, settings, credential_id, PlatformRegistry({"shopify": FakePlatform()}))
    finally:
        store.close()
    assert leaky_token not in str(failure.value) and "***" in str(failure.value)


@pytest.mark.parametrize("password, leaked", [
    ("pa@ss-w0rd-secret", "ss-w0rd-secret"),  # an unencoded "@": libpq takes the rest for the host name
    ("s3cr et PW-secret", "s3cr et PW-secret"),  # an unencoded space: libpq quotes the password back
    ("s3cr%ZZetPW-secret", "ZZetPW-secret"),  # a bad percent escape: likewise
])
def test_bad_database_url_exits_2_without_echoing_its_password(tmp_path, password, leaked):
    env = {"DATABASE_URL": f"postgresql://postgres:{password}@127.0.0.1:5432/test", "LOG_DIR": str(tmp_path)}
    out = run(make_settings("sqlite", tmp_path), "-m", "sync", "status", extra_env=env)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "DATABASE_URL" in out.stderr
    assert leaked not in out.stdout + out.stderr


def test_tables_show_square_brackets_as_text(monkeypatch):
    # A store name or an error message with "[/...]" (a URL path, say) is text, not rich markup:
    # `status` on a terminal and the manual script's summary must print it, not crash.
    import io
    from datetime import datetime, timezone

    from rich.console import Console

    from sync import cli
    from sync.models import Integration, StreamCounts, SyncResult
    from sync.progress import RichProgress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Tty()
    monkeypatch.setattr(sys, "stdout", screen)
    cli._table(["name", "last error"], [["Shop [/] one", "HTTP 404 for [/admin/api/graphql.json]"]])
    assert "[/admin/api/graphql.json]" in screen.getvalue()

    out = io.StringIO()
    integration = Integration(credential_id=str(uuid.uuid4()), client_id=str(uuid.uuid4()), platform_type="shopify",
                              display_name="Shop [/] two", credentials=None)
    now = datetime.now(timezone.utc)
    result = SyncResult(run_id=str(uuid.uuid4()), credential_id=integration.credential_id,
                        client_id=integration.client_id, platform_type="shopify", triggered_by="manual",
                        started_at=now, finished_at=now, error_message="orders: HTTP 404 for [/x]",
                        streams={"orders": StreamCounts(fetched=1, new=1)})
    with RichProgress(Console(file=out, width=200)) as progress:
        progress.integration_started(integration)
        progress.page_stored(integration, "orders", result.streams["orders"])
        progress.integration_finished(integration, result)
    progress.print_summary()
    assert "Shop [/] two" in out.getvalue() and "[/x]" in out.getvalue()


def test_unusable_sqlite_path_exits_2(tmp_path):
    # SPEC: bad configuration exits 2 with a message (not a traceback).
    out = run(make_settings("sqlite", tmp_path), "-m", "sync", "status", extra_env={"SQLITE_PATH": str(tmp_path)})
    assert out.returncode == 2, out.stdout + out.stderr
    assert "SQLITE_PATH" in out.stderr and "Traceback" not in out.stderr


def test_rotate_key_reencrypts_under_the_new_first_key(settings, tmp_path):
    from cryptography.fernet import Fernet

    from sync.crypto import SecretBox

    add(settings, access_token=TOKEN)
    new_key = Fernet.generate_key().decode()
    old_key = settings.env["CREDENTIALS_ENCRYPTION_KEY"]
    out = run(settings, "-m", "sync", "credentials", "rotate-key",
              extra_env={"CREDENTIALS_ENCRYPTION_KEY": f"{new_key},{old_key}"})
    assert out.returncode == 0 and "Re-encrypted 1 credential(s)" in out.stdout, out.stderr
    token = query(settings, "SELECT credentials FROM client_api_credentials")[0][0]
    assert SecretBox((new_key,)).decrypt(token)["access_token"] == TOKEN  # the old key is no longer needed


def test_log_lines_have_the_guides_format(settings):
    import re

    add(settings)
    assert run(settings, "-m", "tests.run_fake_sync").returncode == 0
    lines = (Path(settings.log_dir) / "api_sync_cron.log").read_text(encoding="utf-8").splitlines()
    pattern = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} - [\w.]+ - (DEBUG|INFO|WARNING|ERROR|CRITICAL) - .+")
    assert lines and all(pattern.match(line) for line in lines), lines[:3]
    assert any(" - api_sync_cron - INFO - " in line and "Next sync scheduled for:" in line for line in lines)


AMAZON = {"refresh_token": "Atzr|IwEBI-cli-test", "lwa_app_id": "amzn1.application-oa2-client.x",
          "lwa_client_secret": "cli-secret-123", "marketplace_ids": ["ATVPDKIKX0DER"]}


@pytest.mark.parametrize("platform, secrets, message", [
    ("shopify", {"shop_domain": "not a domain!", "access_token": TOKEN}, "malformed 'shop_domain'"),
    ("shopify", {"shop_domain": "demo.myshopify.com"}, "lack 'access_token'"),
    ("shopify", {"shop_domain": "demo.myshopify.com", "access_token": "two words"}, "malformed 'access_token'"),
    ("amazon", {**AMAZON, "marketplace_ids": ["NOPE"]}, "unknown marketplace id 'NOPE'"),
    ("amazon", {**AMAZON, "marketplace_ids": "ATVPDKIKX0DER"}, "must be a list"),
    ("amazon", {k: v for k, v in AMAZON.items() if k != "lwa_client_secret"}, "lack 'lwa_client_secret'"),
    ("amazon", [AMAZON], "must be a JSON object"),
])
def test_secrets_the_platform_refuses_exit_2_and_store_nothing(settings, platform, secrets, message):
    # The platform checks its own secrets when they are stored, not at the first sync.
    out = run(settings, "-m", "sync", "credentials", "add", "--client-id", str(uuid.uuid4()), "--platform", platform,
              "--name", "x", "--secrets-file", "-", stdin=json.dumps(secrets))
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "fix the secrets file" in out.stderr
    assert TOKEN not in out.stderr and "cli-secret-123" not in out.stderr
    assert count_integrations(settings) == 0


@pytest.mark.parametrize("variable, value", [
    ("SHOPIFY_MAX_RETRIES", "abc"), ("SHOPIFY_BULK", "sometimes"), ("AMAZON_ORDERS_PAGE_SIZE", "500"),
    ("AMAZON_HTTP_TIMEOUT_SECONDS", "nan"), ("SUPABASE_RETRY_ATTEMPTS", "0"), ("SYNC_MAX_WORKERS", "many"),
    ("SYNC_DB_RETRY_SECONDS", "abc"),
])
def test_a_bad_setting_exits_2_naming_it_before_anything_runs(settings, tmp_path, variable, value):
    # A platform's knob too: checked when the process starts, so no integration is touched, no result or
    # run row is written (before, SHOPIFY_MAX_RETRIES=abc failed the integration at its sync, exit 1).
    client, cred = add(settings)
    before = _integration(settings, cred)
    for argv in (["api_sync_cron.py"], ["api_sync_cron.py", "--dry-run"], ["test_api_sync_now.py", "--json"],
                 ["-m", "sync", "status"], ["sku_analysis_cron.py"]):
        out = run(settings, *argv, extra_env={variable: value})
        assert out.returncode == 2, (argv, out.stdout, out.stderr)
        assert variable in out.stderr, (argv, out.stderr)
    assert _integration(settings, cred) == before  # not claimed, not failed, not rescheduled
    assert query(settings, "SELECT count(*) FROM client_api_sync_results")[0][0] == 0
    assert query(settings, "SELECT count(*) FROM api_sync_runs")[0][0] == 0


def _integration(settings, credential_id):
    from .engine_fixtures import integration_row

    return {k: v for k, v in integration_row(settings, credential_id).items() if k != "updated_at"}
