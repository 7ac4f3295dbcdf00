"""`python sku_analysis_cron.py [--client-id ID] [--as-of ISO_TIME] [--json]` (SPEC section 4).

Exit codes: 0 every cache rebuilt (or no client); 1 at least one client failed; 2 bad configuration or usage.
Logs to `logs/sku_analysis_cron.log` (and the console, unless --json).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Sequence

from .. import timeutil
from ..config import Settings
from ..errors import ConfigError


def parse_as_of(value: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC."""
    try:
        return timeutil.parse(value)
    except ValueError:
        raise ConfigError(f"--as-of must be an ISO 8601 time such as 2026-01-31T00:00:00Z, got {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sku_analysis_cron.py",
                                     description="Rebuild the SKU cache tables from the stored Shopify/Amazon data.")
    parser.add_argument("--client-id", help="only this client (default: every client with an integration)")
    parser.add_argument("--as-of", help="compute the figures as of this ISO time (default: now)")
    parser.add_argument("--json", action="store_true", help="print a summary object on stdout, no console log")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        as_of = parse_as_of(args.as_of) if args.as_of else None
        if args.client_id:
            from ..ids import normalize_uuid

            normalize_uuid(args.client_id)
        from ..logs import Redactor, setup_logging
        from .job import run_analysis

        setup_logging("sku_analysis_cron", settings.log_dir, settings.log_level,
                      Redactor(settings.secret_values()), console=not args.json)
        summary = run_analysis(settings, client_id=args.client_id, as_of=as_of)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary.as_json()))
    return summary.exit_code
