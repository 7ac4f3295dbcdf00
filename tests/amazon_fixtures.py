"""Helpers for the Amazon tests: the emulator, settings pointing at it, integrations, schema validation."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from emulators.amazon import AmazonEmulator
from sync.config import Settings
from sync.models import Cursor, Page, StreamRequest
from sync.platforms.amazon import AmazonPlatform

from .engine_fixtures import add_client, make_settings

REFERENCE = Path(__file__).resolve().parent / "reference" / "amazon-sp-api"  # vendored, see its README

# Fast but faithful: documented limits x60, quick report processing and polling, short retry backoff.
FAST_ENV = {
    "AMAZON_REPORT_POLL_SECONDS": "0.05",
    "AMAZON_REPORT_POLL_MAX_SECONDS": "0.2",
    "AMAZON_RETRY_BASE_SECONDS": "0.02",
    "AMAZON_RETRY_MAX_SECONDS": "0.5",
    "AMAZON_HTTP_TIMEOUT_SECONDS": "5",
}
US = "ATVPDKIKX0DER"
GB = "A1F83G8C2ARO7P"
DE = "A1PA6795UKMFR9"


def emulator(**kwargs: Any) -> AmazonEmulator:
    kwargs.setdefault("time_scale", 60)
    kwargs.setdefault("report_processing_seconds", 0.2)
    return AmazonEmulator(**kwargs)


def emulator_env(emu: AmazonEmulator, **extra: str) -> dict[str, str]:
    return {"AMAZON_SP_API_BASE_URL": emu.sp_api_base_url, "AMAZON_LWA_TOKEN_URL": emu.lwa_token_url,
            **FAST_ENV, **extra}


def direct_settings(emu: AmazonEmulator, **extra: str) -> Settings:
    return Settings.from_env(emulator_env(emu, **extra), load_dotenv=False)


def engine_settings(emu: AmazonEmulator, tmp_path, dsn: str | None, **extra: str) -> Settings:
    env = emulator_env(emu, SYNC_LOOKBACK_MINUTES="10", **extra)
    return make_settings("postgres" if dsn else "sqlite", tmp_path, dsn, **env)


def add_amazon(settings: Settings, secrets: dict[str, Any], client_id: str | None = None) -> tuple[str, str]:
    return add_client(settings, "amazon", secrets, client_id=client_id, name=f"Amazon {secrets.get('seller_id', '')}")


def request(data_type: str, state: dict | None = None, stored: dict[str, datetime] | None = None,
            lookback_minutes: int = 10) -> StreamRequest:
    stored = stored or {}
    return StreamRequest(data_type=data_type,
                         cursor=Cursor.of(state, timedelta(minutes=lookback_minutes),
                                          AmazonPlatform.cursor_fields.get(data_type)),
                         started_at=datetime.now(timezone.utc),
                         stored_versions=lambda ids: {i: stored[i] for i in ids if i in stored})


def drain(pages) -> tuple[list, list[Page]]:
    pages = list(pages)
    return [r for p in pages for r in p.records], pages


@lru_cache(maxsize=None)
def model(name: str) -> dict[str, Any]:
    path = REFERENCE / name
    if not path.exists():
        pytest.fail(f"vendored reference model missing at {path}")
    return json.loads(path.read_text())


def validate(model_name: str, definition: str, instance: Any) -> None:
    """Validate against a definition of a Swagger 2.0 model (its definitions are JSON Schema draft 4)."""
    doc = model(model_name)
    schema = {"$ref": f"#/definitions/{definition}", "definitions": doc["definitions"]}
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(instance)
