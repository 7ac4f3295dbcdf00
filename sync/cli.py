"""`python -m sync ...`: init-db, credentials add|list|remove|test|rotate-key, status, audit (SPEC section 4;
the audit is `audit.py`), reset-cursor (re-read data types from scratch, `cursors.py`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from .config import Settings
from .errors import ConfigError, SyncError
from .platforms import PLATFORMS


def _read_secrets(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise ConfigError(f"cannot read the secrets file {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError:
        raise ConfigError(f"the secrets file {path} is not valid JSON") from None


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return str(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    """A rich table on a terminal; tab-separated lines when piped (scripts, logs, tests)."""
    if not sys.stdout.isatty():
        print("\t".join(headers))
        for row in rows:
            print("\t".join(_fmt(v) for v in row))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(*headers, title=title)
    for row in rows:
        # Text, not markup: a name or an error with "[/...]" in it is shown as it is.
        table.add_row(*(Text(_fmt(v)) for v in row))
    Console(soft_wrap=True).print(table)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sync", description="API Sync administration")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init-db", help="create or upgrade the tables (idempotent, keeps data)")

    creds = sub.add_parser("credentials", help="manage integrations and their encrypted secrets")
    csub = creds.add_subparsers(dest="action", required=True)
    add = csub.add_parser("add", help="store an integration; prints its credential_id last")
    add.add_argument("--client-id", required=True)
    add.add_argument("--platform", required=True, choices=PLATFORMS)
    add.add_argument("--name", required=True)
    add.add_argument("--secrets-file", required=True, help="JSON file with the secrets, or - for stdin")
    add.add_argument("--frequency-hours", type=int, default=24)
    lst = csub.add_parser("list", help="list integrations (never secrets)")
    lst.add_argument("--client-id")
    lst.add_argument("--platform", choices=PLATFORMS)
    rm = csub.add_parser("remove", help="remove an integration (its stored data stays)")
    rm.add_argument("credential_id")
    test = csub.add_parser("test", help="connection test only")
    test.add_argument("credential_id")
    csub.add_parser("rotate-key", help="re-encrypt every credential under the first key")

    status = sub.add_parser("status", help="integrations with their status, last and next sync, last error")
    status.add_argument("--json", action="store_true")

    audit = sub.add_parser("audit", help="compare each data type's stored rows with the platform by id; --repair "
                                         "fetches what is missing and marks what was deleted")
    audit.add_argument("--client-id", help="only this client's integrations")
    audit.add_argument("--platform", choices=PLATFORMS, help="only integrations of this platform")
    audit.add_argument("--repair", action="store_true",
                       help="fetch missing and stale records by id, mark rows the platform confirms gone")
    audit.add_argument("--json", action="store_true", help="the report as one JSON object")

    reset = sub.add_parser("reset-cursor", help="forget data types' cursors: their next sync reads the whole history")
    reset.add_argument("--credential-id", action="append", default=[], help="an integration (repeatable)")
    reset.add_argument("--client-id", help="every integration of this client")
    reset.add_argument("--platform", choices=PLATFORMS, help="only integrations of this platform")
    reset.add_argument("--data-type", action="append", default=[], dest="data_types",
                       help="only this data type (repeatable; default: all of the platform's)")
    reset.add_argument("--due-now", action="store_true", help="also make the integrations due at once")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return _dispatch(args, settings)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from . import credentials as creds
    from .ids import normalize_uuid
    from .store import open_store

    if args.command == "credentials" and args.action == "add":
        # Validate before touching the database: bad input writes nothing.
        secrets = _read_secrets(args.secrets_file)
        creds.validate_new_integration(args.client_id, args.platform, args.frequency_hours, secrets)
    if args.command in ("credentials", "audit") and getattr(args, "client_id", None) \
            and (args.command == "audit" or args.action == "list"):
        args.client_id = normalize_uuid(args.client_id)

    store = open_store(settings)
    try:
        if args.command == "init-db":
            store.init_db()
            print(f"Tables are ready ({store.kind}).")
            encrypted = creds.encrypt_plaintext(store, settings)
            if encrypted:
                print(f"Encrypted {encrypted} credential(s) that were stored in plaintext.")
            return 0
        store.ensure_schema()
        if args.command == "status":
            return _status(store, args.json)
        if args.command == "reset-cursor":
            return _reset_cursor(store, args)
        if args.command == "audit":
            return _audit(store, settings, args)
        if args.action == "add":
            credential_id = creds.add_integration(
                store, settings, client_id=args.client_id, platform=args.platform, name=args.name,
                secrets=secrets, frequency_hours=args.frequency_hours)
            print(f"Stored {args.platform} integration {args.name!r} for client {normalize_uuid(args.client_id)}; "
                  "it is due now.")
            print(credential_id)
            return 0
        if args.action == "list":
            rows = store.list_integrations(args.client_id, args.platform)
            _table(["credential_id", "client_id", "platform", "name", "active", "status", "every (h)"],
                   [[i.credential_id, i.client_id, i.platform_type, i.display_name, i.is_active, i.status,
                     i.sync_frequency_hours] for i in rows])
            return 0
        if args.action == "remove":
            integration = creds.get_integration(store, args.credential_id)
            store.delete_integration(integration.credential_id)
            print(f"Removed integration {integration.credential_id} (its stored data stays in its table).")
            return 0
        if args.action == "test":
            try:
                said = creds.test_connection(store, settings, args.credential_id)
            except ConfigError:
                raise
            except SyncError as exc:
                print(f"❌ Connection test failed: {exc}")
                return 1
            print(f"✅ Connection test passed: {said}")
            return 0
        if args.action == "rotate-key":
            report = creds.rotate_key(store, settings)
            print(f"Re-encrypted {report.rotated} credential(s) under the first key.")
            for credential_id, reason in report.failed.items():
                print(f"❌ {credential_id}: {reason}")
            return 1 if report.failed else 0
    finally:
        store.close()
    return 2


def _reset_cursor(store, args: argparse.Namespace) -> int:
    from . import cursors

    chosen = cursors.plan(cursors.choose(store, credential_ids=args.credential_id, client_id=args.client_id,
                                         platform=args.platform), args.data_types)
    report = cursors.reset_cursors(store, chosen, due_now=args.due_now)
    for integration, types in report.reset:
        when = "due now" if args.due_now else "at its next scheduled sync"
        print(f"Reset {', '.join(types)} of {integration.credential_id} ({integration.platform_type}, "
              f"{integration.display_name or '-'}): the whole history is read again, {when}.")
    for integration in report.busy:
        print(f"❌ {integration.credential_id} ({integration.platform_type}): a sync is running on it; nothing was "
              f"changed. Run the command again once it has finished.")
    return report.exit_code


def _audit(store, settings: Settings, args: argparse.Namespace) -> int:
    from .audit import TABLE_HEADERS, audit_integrations, table_rows

    report = audit_integrations(store, settings, client_id=args.client_id, platform=args.platform,
                                repair=args.repair)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    elif not report.integrations:
        print("No active integration matched.")
    else:
        _table(TABLE_HEADERS, table_rows(report), title="Audit (ids compared with the platform)")
    return report.exit_code


def _status(store, as_json: bool) -> int:
    from .completeness import describe

    rows = store.list_integrations()
    # The audit of each integration's latest attempt (SPEC section 3): platform count next to stored rows.
    latest = store.latest_results()
    audits = {i.credential_id: {t: e["audit"] for t, e in
                                ((latest.get(i.credential_id) or {}).get("data_types_synced") or {}).items()
                                if isinstance(e, dict) and "audit" in e} for i in rows}
    if as_json:
        print(json.dumps([{
            "credential_id": i.credential_id, "client_id": i.client_id, "platform_type": i.platform_type,
            "display_name": i.display_name, "is_active": i.is_active, "status": i.status,
            "last_sync_at": i.last_sync_at.isoformat() if i.last_sync_at else None,
            "next_sync_at": i.next_sync_at.isoformat() if i.next_sync_at else None,
            "consecutive_failures": i.consecutive_failures, "error_message": i.error_message,
            "audit": audits[i.credential_id] or None,
        } for i in rows], indent=2))
        return 0
    _table(["credential_id", "client", "platform", "name", "status", "last sync", "next sync", "fails",
            "audit (stored of platform)", "last error"],
           [[i.credential_id, i.client_id, i.platform_type, i.display_name,
             i.status if i.is_active else f"{i.status} (inactive)", i.last_sync_at, i.next_sync_at or "due now",
             i.consecutive_failures,
             describe({t: {"audit": a} for t, a in audits[i.credential_id].items()}) or None,
             i.error_message] for i in rows],
           title="API integrations")
    return 0
