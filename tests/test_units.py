"""Pure pieces: schedule arithmetic, hashing, dedup classification, identifiers, secrets box, redaction."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet

from sync import dedup, schedule
from sync.crypto import SecretBox
from sync.errors import ConfigError, CredentialError
from sync.hashing import canonical_json, content_hash, serialize
from sync.ids import data_table, normalize_uuid, sku_cache_table
from sync.logs import Redactor
from sync.models import Record

UTC = timezone.utc


def test_success_schedule_stays_anchored_at_midnight():
    midnight = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)
    started = midnight + timedelta(minutes=3)
    finished = started + timedelta(minutes=20)
    assert schedule.next_after_success(midnight, started, 24, finished) == midnight + timedelta(days=1)
    # A cron that was down for three days still lands on a midnight, in the future.
    late = midnight + timedelta(days=3, hours=5)
    assert schedule.next_after_success(midnight, late, 24, late) == midnight + timedelta(days=4)
    # The first sync anchors the schedule at its start.
    assert schedule.next_after_success(None, started, 6, finished) == started + timedelta(hours=6)


def test_huge_frequency_schedules_far_ahead_instead_of_crashing():
    # `credentials add --frequency-hours 100000000` is accepted (> 0); its schedule must not overflow the
    # calendar (an OverflowError after a successful sync left the result unrecorded and the lease held).
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for hours in (100_000_000, 2_147_483_647):
        assert schedule.next_after_success(None, now, hours, now) > now + timedelta(days=365 * 50)
        assert schedule.next_after_success(now, now, hours, now) > now + timedelta(days=365 * 50)
        assert schedule.next_after_failure(3, hours, now) == now + timedelta(hours=1)
    # A row edited by hand to 0 or less (no CHECK constraint on older tables) syncs hourly, not crash.
    for hours in (0, -5):
        assert schedule.next_after_success(now - timedelta(minutes=30), now, hours, now) == now + timedelta(minutes=30)


def test_failure_backoff_doubles_and_is_capped_by_frequency():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    delays = [schedule.next_after_failure(n, 24, now) - now for n in range(1, 9)]
    assert delays[:4] == [timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2)]
    assert delays[-1] == timedelta(hours=24)
    assert schedule.next_after_failure(5, 1, now) - now == timedelta(hours=1)


def test_hash_ignores_key_order_and_sees_changes():
    a = canonical_json({"b": 1, "a": {"y": [1, 2], "x": "é"}})
    b = canonical_json({"a": {"x": "é", "y": [1, 2]}, "b": 1})
    assert a == b and content_hash(a) == content_hash(b)
    assert content_hash(canonical_json({"b": 2, "a": {"y": [1, 2], "x": "é"}})) != content_hash(a)
    assert "\\u0000" not in canonical_json({"a": "x\x00y"})


def test_dropping_nul_keeps_an_escaped_backslash_u0000_text_intact():
    # The text `\u0000` (a backslash, then "u0000") is not a NUL: it must survive as valid JSON.
    for data in ({"a": "x\\u0000y"}, {"a": "x\\u0000"}, {"a": "\\\x00", "b": "\\\\u0000"},
                 {"a": "x\\u0000y", "big": 2 ** 70}):
        text = canonical_json(data)
        expected = {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in data.items()}
        assert json.loads(text) == expected


def test_lone_surrogate_from_a_truncated_emoji_is_stored_not_fatal():
    # json.loads keeps an unpaired "\\ud83d" (a truncated emoji in a note) as a lone surrogate, which
    # cannot be encoded as UTF-8: the record must still serialize (one bad note must not block its data
    # type forever), stably, as valid JSON.
    data = json.loads('{"note": "trunc \\ud83d end", "ok": "\\ud83d\\ude00"}')
    text, digest = serialize(data)
    assert json.loads(text) == {"note": "trunc \ufffd end", "ok": "\U0001F600"}
    assert serialize(data) == (text, digest)


def test_classify_counts_new_updated_unchanged_and_repeats():
    records = [Record("1", {"v": 1}), Record("2", {"v": 2}), Record("3", {"v": 3}), Record("3", {"v": 4})]
    staged, repeats, refused = dedup.stage(records)
    assert refused == []
    assert repeats == 1 and staged["3"].data_json == '{"v":4}'
    stored = {"1": staged["1"].record_hash, "2": "something else"}
    plan = dedup.classify(staged, stored, repeats)
    assert (plan.new, plan.updated, plan.unchanged) == (1, 1, 2)
    assert [r.external_id for r in plan.new_rows] == ["3"] and [r.external_id for r in plan.changed_rows] == ["2"]
    # A stored row without a hash (the guide's first version wrote none) is changed, never new.
    assert [r.external_id for r in dedup.classify(staged, {"1": None}).changed_rows] == ["1"]


def test_ids_at_the_edges_of_what_a_row_can_be_keyed_by():
    # The hot path's shortcut (ASCII ids) and the full check must agree at every edge.
    limit = dedup.MAX_ID_BYTES
    assert dedup.id_problem("gid://shopify/Order/1") is None and dedup.id_problem("a" * limit) is None
    assert dedup.id_problem("é" * (limit // 2)) is None  # 2 bytes a character: exactly the limit
    assert "bytes long" in dedup.id_problem("a" * (limit + 1)) and "bytes long" in dedup.id_problem("é" * (limit // 2 + 1))
    assert "empty" in dedup.id_problem("") and "NUL" in dedup.id_problem("12\x003")
    assert "surrogate" in dedup.id_problem("x\ud83d") and "not text" in dedup.id_problem(12)

    class Sku(str):
        pass

    assert dedup.id_problem(Sku("SKU-1")) is None and "NUL" in dedup.id_problem(Sku("\x00"))


def test_update_times_are_kept_as_utc_whatever_zone_they_came_in():
    utc = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
    records = [Record("1", {}, utc), Record("2", {}, utc.astimezone(timezone(timedelta(hours=-5)))),
               Record("3", {}, utc.replace(tzinfo=None)), Record("4", {}, None)]
    staged = dedup.stage(records).rows
    assert [staged[i].source_updated_at for i in "1234"] == [utc, utc, utc, None]
    assert all(staged[i].source_updated_at.tzinfo is timezone.utc for i in "123")


def test_identifiers():
    cid = "3F2B8C1E-5D4A-4E6F-9A7B-1C2D3E4F5A6B"
    assert normalize_uuid(cid) == cid.lower()
    assert data_table(cid) == "client_3f2b8c1e_5d4a_4e6f_9a7b_1c2d3e4f5a6b_data"
    assert sku_cache_table(cid).endswith("_sku_cache")
    for bad in ("abc123", "x'; DROP TABLE t; --", "", None):
        with pytest.raises(ConfigError):
            data_table(bad)


def test_secret_box_rotation_and_errors():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = SecretBox((old,)).encrypt({"access_token": "t"})
    rotated = SecretBox((new, old)).rotate(token)
    assert SecretBox((new,)).decrypt(rotated) == {"access_token": "t"}
    with pytest.raises(CredentialError, match="cannot be decrypted"):
        SecretBox((new,)).decrypt(token)
    with pytest.raises(ConfigError, match="not a valid Fernet key"):
        SecretBox(("short",))
    with pytest.raises(ConfigError, match="required"):
        SecretBox(()).encrypt({"a": "b"})
    assert SecretBox((new,)).decrypt('{"legacy": "plaintext"}') == {"legacy": "plaintext"}


def test_redactor_scrubs_known_values_and_token_shapes():
    redactor = Redactor(["my-very-secret-value"])
    text = redactor.scrub("a my-very-secret-value b shpat_abcdef0123456789 X-Shopify-Access-Token: zzz123 Atzr|IwEB")
    assert "my-very-secret-value" not in text and "shpat_abcdef" not in text and "zzz123" not in text
    assert "Atzr|IwEB" not in text


def test_redaction_covers_the_token_after_an_authorization_scheme():
    redactor = Redactor()
    for text in ("Authorization: Bearer zzz123token", "{'Authorization': 'Bearer zzz123token'}",
                 '"authorization": "Basic zzz123token"'):
        scrubbed = redactor.scrub(text)
        assert "zzz123token" not in scrubbed and "***" in scrubbed, scrubbed


def test_a_malformed_log_call_never_raises_into_the_sync(tmp_path, monkeypatch):
    # Without a filter, logging reports a bad format call on stderr and goes on; the redacting filter
    # must not turn it into an exception at the caller (a library's log line would fail a data type).
    import logging

    from sync.logs import setup_logging

    log = setup_logging("units_bad_log", str(tmp_path), "INFO", Redactor(["my-very-secret-value"]), console=False)
    root = logging.getLogger()  # ours alone (pytest's capture handler re-raises logging errors itself)
    monkeypatch.setattr(root, "handlers", [h for h in root.handlers if getattr(h, "_api_sync", False)])
    log.info("two %s %s", "my-very-secret-value")
    log.info("fine %s", "my-very-secret-value")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = (tmp_path / "units_bad_log.log").read_text()
    assert "my-very-secret-value" not in text and "fine ***" in text and "two %s %s" in text


def test_secret_strings_keep_identifying_fields_visible():
    from sync.crypto import secret_strings

    values = secret_strings({"shop_domain": "acme.myshopify.com", "access_token": "shpat_0123456789",
                             "marketplace_ids": ["ATVPDKIKX0DER"], "lwa_client_secret": "amzn1.oa2-cs.v1.abcdef"})
    assert sorted(values) == ["amzn1.oa2-cs.v1.abcdef", "shpat_0123456789"]


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf"])
def test_numeric_settings_must_be_finite(raw):
    from sync.config import env_number

    with pytest.raises(ConfigError, match="finite"):
        env_number({"SHOPIFY_TIMEOUT_SECONDS": raw}, "SHOPIFY_TIMEOUT_SECONDS", 60.0, 0.1)


def test_store_choice_follows_the_spec_order():
    from sync.config import Settings

    assert Settings.from_env({}, load_dotenv=False).store_kind == "sqlite"
    assert Settings.from_env({}, load_dotenv=False).sqlite_path == "data/api_sync.db"
    rest = Settings.from_env({"SUPABASE_URL": "https://x.supabase.co", "SUPABASE_KEY": "k"}, load_dotenv=False)
    assert rest.store_kind == "supabase" and rest.supabase_key == "k"
    both = Settings.from_env({"DATABASE_URL": "postgresql://u@h/db", "SUPABASE_URL": "https://x.supabase.co",
                              "SUPABASE_SERVICE_ROLE_KEY": "k"}, load_dotenv=False)
    assert both.store_kind == "postgres"


def test_dotenv_in_the_working_directory_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    from sync.config import Settings

    (tmp_path / ".env").write_text("SYNC_MAX_WORKERS=7\nSYNC_LEASE_SECONDS=123\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNC_MAX_WORKERS", raising=False)
    monkeypatch.setenv("SYNC_LEASE_SECONDS", "456")
    settings = Settings.from_env()
    assert (settings.max_workers, settings.lease_seconds) == (7, 456)
    monkeypatch.delenv("SYNC_MAX_WORKERS", raising=False)  # load_dotenv wrote it into the environment
