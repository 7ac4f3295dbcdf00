"""The two entry scripts: `api_sync_cron.py` (hourly cron) and `test_api_sync_now.py` (manual, forced).

Exit codes (SPEC section 4): 0 all succeeded or nothing due; 1 at least one integration failed;
2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from typing import Sequence

from .config import Settings
from .errors import ConfigError
from .models import RunParams
from .platforms import PLATFORMS


def _cron_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="api_sync_cron.py",
                                     description="Sync every due Shopify/Amazon integration (run hourly by cron).")
    parser.add_argument("--force", action="store_true", help="ignore the schedule (never the lease)")
    parser.add_argument("--client-id", help="only this client's integrations")
    parser.add_argument("--platform", choices=PLATFORMS, help="only this platform")
    parser.add_argument("--workers", type=int, help="integrations synced at once (default SYNC_MAX_WORKERS)")
    parser.add_argument("--dry-run", action="store_true", help="list what is due, sync nothing")
    parser.add_argument("--json", action="store_true", help="print the run's summary object on stdout")
    parser.add_argument("--sandbox", action="store_true",
                        help="demo: sync against the bundled local Shopify and Amazon emulators")
    return parser


def _params(args: argparse.Namespace, triggered_by: str, force: bool) -> RunParams:
    from .ids import normalize_uuid

    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    return RunParams(triggered_by=triggered_by, force=force,
                     client_id=normalize_uuid(args.client_id) if args.client_id else None,
                     platform=args.platform)


def cron_main(argv: Sequence[str] | None = None) -> int:
    args = _cron_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        params = _params(args, "cron", args.force)
        with ExitStack() as stack:
            if args.sandbox:
                from .sandbox import sandbox_settings

                settings = stack.enter_context(sandbox_settings(settings))
                params = RunParams(triggered_by="manual", force=True, client_id=params.client_id,
                                   platform=params.platform)
            if args.dry_run:
                return _dry_run(settings, params, args.json)
            return _run(settings, params, args.workers, args.json)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _dry_run(settings: Settings, params: RunParams, as_json: bool) -> int:
    # Deliberately light: this path runs every hour and must start fast (no platform or crypto imports).
    from .store import open_store

    store = open_store(settings)
    try:
        store.ensure_schema()
        from .timeutil import utcnow

        due = store.list_due(utcnow(), params)
    finally:
        store.close()
    if as_json:
        print(json.dumps({"due": len(due), "integrations": [
            {"credential_id": i.credential_id, "client_id": i.client_id, "platform_type": i.platform_type,
             "display_name": i.display_name, "next_sync_at": i.next_sync_at.isoformat() if i.next_sync_at else None}
            for i in due]}))
    else:
        print(f"{len(due)} integration(s) due for sync")
        for i in due:
            print(f"  {i.credential_id}  client {i.client_id}  {i.platform_type:<8} {i.display_name or '-'}  "
                  f"next_sync_at={i.next_sync_at.isoformat() if i.next_sync_at else 'now'}")
    return 0


def _run(settings: Settings, params: RunParams, workers: int | None, as_json: bool, progress=None) -> int:
    from .engine import SyncEngine
    from .logs import Redactor, setup_logging

    redactor = Redactor(settings.secret_values())
    setup_logging("api_sync_cron", settings.log_dir, settings.log_level, redactor, console=not as_json)
    engine = SyncEngine(settings, redactor=redactor, progress=progress)
    summary = engine.run(params, workers=workers)
    if as_json:
        print(json.dumps(summary.as_json()))
    return summary.exit_code


def _manual_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="test_api_sync_now.py",
                                     description="Force a sync now: all integrations, one client, or one platform.")
    parser.add_argument("client_id", nargs="?", help="only this client")
    parser.add_argument("platform", nargs="?", choices=PLATFORMS, help="only this platform")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--json", action="store_true")
    return parser


def manual_main(argv: Sequence[str] | None = None) -> int:
    args = _manual_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        params = _params(args, "manual", True)
        if args.json:
            return _run(settings, params, args.workers, True)
        from .progress import RichProgress

        with RichProgress() as progress:
            code = _run(settings, params, args.workers, False, progress=progress)
        progress.print_summary()
        return code
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
