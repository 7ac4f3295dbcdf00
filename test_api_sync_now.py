#!/usr/bin/env python3
"""Force a sync now, with progress: `python test_api_sync_now.py [CLIENT_ID [shopify|amazon]]`."""

import sys

from sync.runner import manual_main

if __name__ == "__main__":
    sys.exit(manual_main())
