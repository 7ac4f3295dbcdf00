#!/usr/bin/env python3
"""Rebuild the SKU cache tables (every 8 hours by cron): `python sku_analysis_cron.py [--client-id ID]
[--as-of ISO_TIME] [--json]`. See README.md."""

import sys

from sync.sku.cli import main

if __name__ == "__main__":
    sys.exit(main())
