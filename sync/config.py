"""Settings from the environment (and `.env`), SPEC section 1. Read once, passed down explicitly."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import ConfigError

# A supported Admin API version, pinned so that a Shopify release never changes what we send.
DEFAULT_SHOPIFY_API_VERSION = "2026-10"


def env_number(env: Mapping[str, str], name: str, default: float, minimum: float = 0, *,
               integer: bool = False) -> float:
    """A numeric setting: `default` when unset, ConfigError naming the variable when malformed.

    Shared by the core settings and the platforms' and stores' tuning knobs.
    """
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a {'whole ' if integer else ''}number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum:g}, got {raw}")
    return value


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A true/false setting: `default` when unset, ConfigError naming the variable when it is neither."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    return int(env_number(env, name, default, minimum, integer=True))


def _opt(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _platform_options(env: Mapping[str, str]) -> dict[str, Any]:
    from .platforms import parse_options  # the platforms' light entry points; imported here, not at load

    return parse_options(env)


@dataclass(frozen=True)
class SupabaseOptions:
    """The Supabase REST store's knobs (README, Supabase section)."""

    timeout_seconds: float = 60.0  # SUPABASE_HTTP_TIMEOUT_SECONDS: one request, e.g. a page write
    attempts: int = 4  # SUPABASE_RETRY_ATTEMPTS: tries per call on a transient failure
    retry_base_seconds: float = 0.5  # SUPABASE_RETRY_BASE_SECONDS: first backoff, doubled each time
    max_request_bytes: int = 4_000_000  # SUPABASE_MAX_REQUEST_BYTES: a larger page is sent in parts

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "SupabaseOptions":
        return cls(
            timeout_seconds=env_number(env, "SUPABASE_HTTP_TIMEOUT_SECONDS", cls.timeout_seconds, 0.1),
            attempts=_int(env, "SUPABASE_RETRY_ATTEMPTS", cls.attempts, 1),
            retry_base_seconds=env_number(env, "SUPABASE_RETRY_BASE_SECONDS", cls.retry_base_seconds, 0.0),
            max_request_bytes=_int(env, "SUPABASE_MAX_REQUEST_BYTES", cls.max_request_bytes, 1024),
        )


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    supabase_url: str | None = None
    supabase_key: str | None = field(default=None, repr=False)
    sqlite_path: str = "data/api_sync.db"
    encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    max_workers: int = 4
    lease_seconds: int = 900
    lookback_minutes: int = 10
    log_dir: str = "logs"
    log_level: str = "INFO"
    shopify_api_version: str = DEFAULT_SHOPIFY_API_VERSION
    shopify_base_url: str | None = None
    amazon_sp_api_base_url: str | None = None
    amazon_lwa_token_url: str | None = None
    admin_api_token: str | None = field(default=None, repr=False)
    supabase_jwt_secret: str | None = field(default=None, repr=False)
    port: int = 8000
    host: str = "0.0.0.0"
    supabase_options: SupabaseOptions = field(default_factory=SupabaseOptions)
    # Each platform's knobs, parsed by its `parse_options` hook (sync/platforms): name -> options.
    platform_options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    # SYNC_STORE_PII: false stores customers and orders without personal data (sync/personal.py).
    store_pii: bool = True
    # SYNC_DB_RETRY_SECONDS: how long a worker retries a failing database on fresh connections (reconnect.py).
    db_retry_seconds: float = 60.0
    # The whole environment, for platform-specific tuning knobs (documented in the README).
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def store_kind(self) -> str:
        if self.database_url:
            return "postgres"
        if self.supabase_url and self.supabase_key:
            return "supabase"
        return "sqlite"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, load_dotenv: bool = True) -> "Settings":
        if env is None:
            dotenv = Path.cwd() / ".env"
            if load_dotenv and dotenv.is_file():  # (python-dotenv costs a start-up 15 ms: only when needed)
                from dotenv import load_dotenv as _load

                _load(dotenv, override=False)
            env = os.environ
        env = dict(env)
        keys = tuple(k.strip() for k in env.get("CREDENTIALS_ENCRYPTION_KEY", "").split(",") if k.strip())
        level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ConfigError(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {level!r}")
        database_url = _opt(env, "DATABASE_URL")
        if database_url and not database_url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("DATABASE_URL must start with postgresql:// (for Supabase: the pooler connection string)")
        return cls(
            database_url=database_url,
            supabase_url=_opt(env, "SUPABASE_URL"),
            supabase_key=_opt(env, "SUPABASE_SERVICE_ROLE_KEY") or _opt(env, "SUPABASE_KEY"),
            sqlite_path=_opt(env, "SQLITE_PATH") or "data/api_sync.db",
            encryption_keys=keys,
            max_workers=_int(env, "SYNC_MAX_WORKERS", 4),
            lease_seconds=_int(env, "SYNC_LEASE_SECONDS", 900),
            lookback_minutes=_int(env, "SYNC_LOOKBACK_MINUTES", 10, minimum=0),
            log_dir=_opt(env, "LOG_DIR") or "logs",
            log_level=level,
            shopify_api_version=_opt(env, "SHOPIFY_API_VERSION") or DEFAULT_SHOPIFY_API_VERSION,
            shopify_base_url=_opt(env, "SHOPIFY_BASE_URL"),
            amazon_sp_api_base_url=_opt(env, "AMAZON_SP_API_BASE_URL"),
            amazon_lwa_token_url=_opt(env, "AMAZON_LWA_TOKEN_URL"),
            admin_api_token=_opt(env, "ADMIN_API_TOKEN"),
            supabase_jwt_secret=_opt(env, "SUPABASE_JWT_SECRET"),
            port=_int(env, "PORT", 8000),
            store_pii=env_flag(env, "SYNC_STORE_PII", True),
            db_retry_seconds=env_number(env, "SYNC_DB_RETRY_SECONDS", 60.0, 0),
            host=_opt(env, "HOST") or "0.0.0.0",
            supabase_options=SupabaseOptions.from_env(env),
            platform_options=_platform_options(env),
            env=env,
        )

    def options_for(self, platform: str, parse: Callable[[Mapping[str, str]], Any]) -> Any:
        """The platform's knobs as parsed at start-up (`parse` them from `env` for settings built by hand)."""
        found = self.platform_options.get(platform)
        return found if found is not None else parse(self.env)

    def secret_values(self) -> list[str]:
        """Values the log redaction filter must never let through."""
        values = [*self.encryption_keys, self.supabase_key, self.admin_api_token, self.supabase_jwt_secret]
        return [v for v in values if v]
