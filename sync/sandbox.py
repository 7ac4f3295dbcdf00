"""`api_sync_cron.py --sandbox`: a demo run against the bundled Shopify and Amazon emulators.

Starts both emulators on loopback, seeds a demo shop and a demo seller, points a separate SQLite file
(`SANDBOX_SQLITE_PATH`, default `data/sandbox.db`) at them with one demo client, and hands back settings
for one forced run. Running it twice shows dedup at work: the second run stores nothing new, and marks
the few records the demo shop and seller deleted since (`_demo_deletions`).
Production stores are never touched by the sandbox.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from .config import Settings
from .crypto import SecretBox
from .models import Integration
from .store import open_store
from .timeutil import utcnow

log = logging.getLogger("api_sync_cron")

SANDBOX_CLIENT_ID = "5a9d0000-0000-4000-8000-000000000001"
SHOPIFY_CREDENTIAL_ID = "5a9d0000-0000-4000-8000-0000000000a1"
AMAZON_CREDENTIAL_ID = "5a9d0000-0000-4000-8000-0000000000a2"
AMAZON_DEMO_REFRESH_TOKEN = "Atzr|sandbox-demo-refresh-token"
# The emulator runs Amazon's documented rates 60 times faster, so the demo takes seconds, not an hour.
AMAZON_TIME_SCALE = 60.0
# Orders come from the Orders API v2026-01-01; the emulator answers every v0 Orders call as removed, as Amazon
# does from 2027-03-27, so a demo that still needed v0 would fail instead of passing.
AMAZON_V0_ORDERS_REMOVED = True


def _ensure_demo_integration(store, box: SecretBox, credential_id: str, platform: str, name: str,
                             secrets: Mapping[str, Any]) -> None:
    token = box.encrypt(secrets)
    if store.get_integration(credential_id) is not None:
        # Emulator ports change between runs; the key may be a fresh one: store the secrets again.
        store.set_credentials_blob(credential_id, token)
        return
    now = utcnow()
    store.insert_integration(Integration(
        credential_id=credential_id, client_id=SANDBOX_CLIENT_ID, platform_type=platform, display_name=name,
        credentials=token, status="pending", next_sync_at=None, sync_frequency_hours=24, created_at=now,
        updated_at=now))


def _demo_deletions(shopify: Any, amazon: Any) -> None:
    """From the second demo run on, the shop and the seller have deleted a few records since the last one
    (the same ones each run, the data being seeded alike): the sync marks their rows deleted and the
    audit shows it."""
    from emulators.shopify import DEMO_DOMAIN

    products = shopify.delete_products(DEMO_DOMAIN, 2)
    customers = shopify.delete_customers(DEMO_DOMAIN, 1)
    orders = shopify.delete_orders(DEMO_DOMAIN, 1)
    listings = amazon.remove_listings(AMAZON_DEMO_REFRESH_TOKEN, count=2)
    print(f"Sandbox: since the last demo run the shop deleted {len(products)} products, {len(customers)} customer "
          f"and {len(orders)} order, the seller {len(listings)} listings: the sync marks their rows deleted")


@contextmanager
def sandbox_settings(settings: Settings) -> Iterator[Settings]:
    from cryptography.fernet import Fernet

    from emulators.amazon import AmazonEmulator
    from emulators.shopify import ShopifyEmulator

    with ShopifyEmulator() as shopify, AmazonEmulator(time_scale=AMAZON_TIME_SCALE,
                                                      v0_orders_removed=AMAZON_V0_ORDERS_REMOVED) as amazon:
        shop_secrets = shopify.seed_demo()
        amazon.add_seller(AMAZON_DEMO_REFRESH_TOKEN, orders=120, listings=40, fba=True)
        env = dict(settings.env)
        env.update({
            "DATABASE_URL": "", "SUPABASE_URL": "",
            "SQLITE_PATH": env.get("SANDBOX_SQLITE_PATH") or "data/sandbox.db",
            "SHOPIFY_BASE_URL": shopify.base_url,
            "AMAZON_SP_API_BASE_URL": amazon.sp_api_base_url,
            "AMAZON_LWA_TOKEN_URL": amazon.lwa_token_url,
            # The demo's secrets are the emulators' own: a throwaway key is enough when none is set.
            "CREDENTIALS_ENCRYPTION_KEY": env.get("CREDENTIALS_ENCRYPTION_KEY") or Fernet.generate_key().decode(),
        })
        sandbox = Settings.from_env(env)
        box = SecretBox(sandbox.encryption_keys)
        store = open_store(sandbox)
        try:
            store.ensure_schema()
            previous = store.get_integration(SHOPIFY_CREDENTIAL_ID)
            if previous is not None and previous.last_sync_at is not None:
                _demo_deletions(shopify, amazon)
            _ensure_demo_integration(store, box, SHOPIFY_CREDENTIAL_ID, "shopify", "Sandbox demo shop", shop_secrets)
            _ensure_demo_integration(store, box, AMAZON_CREDENTIAL_ID, "amazon", "Sandbox demo seller",
                                     amazon.demo_secrets(AMAZON_DEMO_REFRESH_TOKEN))
        finally:
            store.close()
        print(f"Sandbox: Shopify emulator at {shopify.base_url}, Amazon emulator at {amazon.url}, "
              f"store {sandbox.sqlite_path}, demo client {SANDBOX_CLIENT_ID}")
        yield sandbox
