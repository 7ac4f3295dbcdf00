"""Each platform owns what it knows: its data types, the cursor of each, its secrets and its knobs, in
packages of one shape; the stream request's typed cursor is what every fetcher reads."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sync import models
from sync.errors import ConfigError, CredentialError
from sync.models import Cursor
from sync.platforms import PLATFORMS, load_platform, parse_options
from sync.platforms.amazon.options import AmazonOptions
from sync.platforms.shopify.options import ShopifyOptions

ROOT = Path(__file__).resolve().parents[1]


def test_both_platform_packages_have_the_same_shape():
    for name in PLATFORMS:
        package = ROOT / "sync" / "platforms" / name
        assert {"__init__.py", "options.py", "connection.py", "streams.py"} <= {p.name for p in package.iterdir()}
        platform = load_platform(name)
        assert platform.name == name and platform.data_types
        assert set(platform.cursor_fields) <= set(platform.data_types)
    assert not (ROOT / "sync" / "platforms" / "amazon" / "timeutil.py").exists()  # one time helper: sync.timeutil


def test_platform_knowledge_left_the_models():
    assert not hasattr(models, "DATA_TYPES") and not hasattr(models, "REQUIRED_SECRETS")
    assert load_platform("shopify").data_types == ("orders", "products", "customers", "inventory")
    assert load_platform("amazon").data_types == ("orders", "products", "inventory")


def test_starting_up_loads_no_platform_client():
    # Every process parses the platforms' knobs at start-up: their entry points must stay light.
    code = ("import sys; from sync.config import Settings; s = Settings.from_env({}, load_dotenv=False); "
            "assert set(s.platform_options) == {'shopify', 'amazon'}, s.platform_options; "
            "heavy = {'requests', 'sp_api', 'httpx', 'supabase', 'psycopg'} & set(sys.modules); "
            "assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_knobs_are_parsed_once_by_each_platforms_hook():
    options = parse_options({"SHOPIFY_MAX_RETRIES": "2", "AMAZON_ORDERS_PAGE_SIZE": "50"})
    assert isinstance(options["shopify"], ShopifyOptions) and options["shopify"].max_retries == 2
    assert isinstance(options["amazon"], AmazonOptions) and options["amazon"].orders_page_size == 50
    with pytest.raises(ConfigError, match="SHOPIFY_MAX_RETRIES"):
        parse_options({"SHOPIFY_MAX_RETRIES": "abc"})
    with pytest.raises(ConfigError, match="AMAZON_ORDERS_PAGE_SIZE"):
        parse_options({"AMAZON_ORDERS_PAGE_SIZE": "101"})


@pytest.mark.parametrize("name, secrets, fragment", [
    ("shopify", {"shop_domain": "not a domain!", "access_token": "shpat_x"}, "malformed 'shop_domain'"),
    ("shopify", {"access_token": "shpat_x"}, "lack 'shop_domain'"),
    ("amazon", {"refresh_token": "r", "lwa_app_id": "a", "lwa_client_secret": "s", "marketplace_ids": ["NOPE"]},
     "unknown marketplace id 'NOPE'"),
    ("amazon", {"refresh_token": "r", "lwa_app_id": "a", "lwa_client_secret": "s",
                "marketplace_ids": ["ATVPDKIKX0DER", "A1PA6795UKMFR9"]}, "several regions"),
])
def test_each_platform_validates_its_secrets(name, secrets, fragment):
    with pytest.raises(CredentialError, match=re.escape(fragment)):
        load_platform(name).validate_secrets(secrets)


def test_the_cursor_reads_the_stored_entry_and_applies_the_lookback():
    lookback = timedelta(minutes=10)
    cursor = Cursor.of({"updated_at": "2026-03-01T12:00:00Z", "page_sizes": {"orders": 50}}, lookback)
    assert cursor.value == datetime(2026, 3, 1, 12, tzinfo=timezone.utc) and not cursor.first_sync
    assert cursor.since() == datetime(2026, 3, 1, 11, 50, tzinfo=timezone.utc)
    assert cursor.raw == "2026-03-01T12:00:00Z" and cursor.get("page_sizes") == {"orders": 50}
    assert cursor.at("2026-03-02T00:00:00Z", page_sizes={}) == {"page_sizes": {}, "updated_at": "2026-03-02T00:00:00Z"}
    assert cursor.at(datetime(2026, 3, 2, tzinfo=timezone.utc)) == {"updated_at": "2026-03-02T00:00:00+00:00"}
    # Before a first sync, after a hand edit, or with a text that is no time: no position, a full read.
    for state in (None, [1, 2], {}, {"updated_at": "yesterday"}, {"updated_at": 5}):
        cursor = Cursor.of(state, lookback)
        assert cursor.first_sync and cursor.since() is None
    amazon = Cursor.of({"last_updated_before": "2026-03-01T12:00:00Z"}, lookback, "last_updated_before")
    assert amazon.since() == datetime(2026, 3, 1, 11, 50, tzinfo=timezone.utc)
    assert Cursor.of({"report_ids": {}}, lookback, None).since() is None  # a snapshot stream: no cursor


def test_fetchers_read_the_typed_cursor_not_a_dict_of_their_own():
    # The cursor of both platforms and the test platform is `request.cursor` (models.Cursor).
    sources = [*sorted((ROOT / "sync" / "platforms").rglob("*.py")), ROOT / "tests" / "fakeplatform.py"]
    hand_rolled = [f"{p.relative_to(ROOT)}:{n}" for p in sources
                   for n, line in enumerate(p.read_text().splitlines(), 1)
                   if re.search(r"request\.(state|lookback)\b", line)]
    assert hand_rolled == []
