#!/usr/bin/env python3
"""THE MAIN CRON JOB: sync every due Shopify/Amazon integration. Run hourly; see README.md."""

import sys

from sync.runner import cron_main

if __name__ == "__main__":
    sys.exit(cron_main())
