"""The platforms, by name. Each package (`shopify/`, `amazon/`) has the same shape: `__init__.py` holds
the light `Platform` (its data types, the cursor field of each, the check of its secrets and the parse
of its knobs), `options.py` its knobs, `connection.py` the live connection (imported only by
`connect`, so a run that needs only Shopify never imports the SP-API library), and the modules that read
its data types.
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from ..errors import ConfigError
from .base import Connection, Platform

PLATFORMS = ("shopify", "amazon")
_IMPLEMENTATIONS = {
    "shopify": "sync.platforms.shopify:ShopifyPlatform",
    "amazon": "sync.platforms.amazon:AmazonPlatform",
}


def load_platform(name: str) -> Platform:
    if name not in _IMPLEMENTATIONS:
        raise ConfigError(f"unknown platform {name!r}: use one of {', '.join(PLATFORMS)}")
    module_name, _, attr = _IMPLEMENTATIONS[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)()


def parse_options(env: Mapping[str, str]) -> dict[str, Any]:
    """Every platform's knobs, parsed from the environment when the process starts (each platform's
    `parse_options` hook): a bad value is a ConfigError naming the variable, before anything runs."""
    return {name: load_platform(name).parse_options(env) for name in PLATFORMS}


def data_types(name: str) -> tuple[str, ...]:
    return load_platform(name).data_types


class PlatformRegistry:
    """Platforms by name; tests pass their own doubles in `overrides`."""

    def __init__(self, overrides: Mapping[str, Platform] | None = None):
        self._cache: dict[str, Platform] = dict(overrides or {})

    def get(self, name: str) -> Platform:
        if name not in self._cache:
            self._cache[name] = load_platform(name)
        return self._cache[name]


__all__ = ["PLATFORMS", "Connection", "Platform", "PlatformRegistry", "data_types", "load_platform",
           "parse_options"]
