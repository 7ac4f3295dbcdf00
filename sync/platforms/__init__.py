"""Platform registry: imported lazily, so a run that needs only Shopify never imports the SP-API library."""

from __future__ import annotations

import importlib
from typing import Mapping

from ..errors import ConfigError
from ..models import PLATFORMS
from .base import Connection, Platform

_IMPLEMENTATIONS = {
    "shopify": "sync.platforms.shopify:ShopifyPlatform",
    "amazon": "sync.platforms.amazon:AmazonPlatform",
}


def load_platform(name: str) -> Platform:
    if name not in PLATFORMS:
        raise ConfigError(f"unknown platform {name!r}: use one of {', '.join(PLATFORMS)}")
    module_name, _, attr = _IMPLEMENTATIONS[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)()


class PlatformRegistry:
    """Platforms by name; tests pass their own doubles in `overrides`."""

    def __init__(self, overrides: Mapping[str, Platform] | None = None):
        self._cache: dict[str, Platform] = dict(overrides or {})

    def get(self, name: str) -> Platform:
        if name not in self._cache:
            self._cache[name] = load_platform(name)
        return self._cache[name]


__all__ = ["Connection", "Platform", "PlatformRegistry", "load_platform"]
