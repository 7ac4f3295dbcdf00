"""Run the benchmarks: `python -m benchmarks [--quick] [--only NAME ...] [--json PATH]`.

Each `benchmarks/bench_<name>.py` exposes `run(quick) -> list[dict]`; every figure is printed next to
its baseline (measured in the same run) with the ratio and the issue's target, and all figures are
written as JSON (default benchmarks/results/latest.json, git-ignored). A missed target is reported
as MISSED; the exit code stays 0 (benchmarks report, the targets judge).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import platform
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# The figure groups, in the order they are run and printed; other bench_*.py files follow.
KNOWN = ("store", "memory", "parallel", "startup", "shopify_pacing", "shopify_bulk", "amazon_pacing")


def available() -> list[str]:
    found = sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))
    return [n for n in KNOWN if n in found] + [n for n in found if n not in KNOWN]


def run_module(name: str, quick: bool) -> tuple[list[dict[str, Any]], float, str | None]:
    """Figures of one module, its seconds, and an error text when it failed."""
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        figures = list(module.run(quick))
        return figures, time.perf_counter() - start, None
    except Exception:
        return [], time.perf_counter() - start, traceback.format_exc(limit=6)


def _json_safe(value: Any) -> Any:
    """NaN (a figure that could not be measured) as null: the file stays strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def verdict(fig: dict[str, Any]) -> str:
    if fig.get("skipped"):
        return "SKIPPED"
    return "ok" if fig.get("ok") else "MISSED"


def _num(value: Any) -> str:
    if not isinstance(value, (int, float)) or math.isnan(value):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def print_table(rows: list[tuple[str, dict[str, Any]]], notes: list[str]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain text when rich is missing
        for module, fig in rows:
            print(f"[{module}] {fig['name']}: {_num(fig['value'])} {fig['unit']} | {fig['baseline_name']}: "
                  f"{_num(fig['baseline'])} | ratio {_num(fig['ratio'])} | target {fig['target']} | {verdict(fig)}")
        for note in notes:
            print(note)
        return
    table = Table(title="API Sync benchmarks", show_lines=False)
    for column in ("group", "figure", "value", "baseline", "ratio", "target", "result"):
        table.add_column(column, overflow="fold")
    styles = {"ok": "green", "MISSED": "bold red", "SKIPPED": "yellow"}
    for module, fig in rows:
        result = verdict(fig)
        table.add_row(module, fig["name"], f"{_num(fig['value'])} {fig['unit']}",
                      f"{_num(fig['baseline'])} ({fig['baseline_name']})" if fig["baseline_name"] else "-",
                      _num(fig["ratio"]), fig["target"], f"[{styles[result]}]{result}[/]")
    console = Console(width=max(160, Console().width))
    console.print(table)
    for note in notes:
        console.print(note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short pass (about 2 minutes)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help=f"only these groups ({', '.join(KNOWN)})")
    parser.add_argument("--json", default=str(HERE / "results" / "latest.json"), metavar="PATH",
                        help="where to write the figures (default benchmarks/results/latest.json)")
    args = parser.parse_args(argv)

    present = available()
    wanted = args.only or list(dict.fromkeys([*KNOWN, *present]))
    unknown = [n for n in wanted if n not in present and n not in KNOWN]
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}; present: {', '.join(present)}")
    rows: list[tuple[str, dict[str, Any]]] = []
    notes: list[str] = []
    report: dict[str, Any] = {
        "command": "python -m benchmarks" + (" --quick" if args.quick else "")
                   + (f" --only {' '.join(args.only)}" if args.only else ""),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "groups": {},
    }
    for name in wanted:
        if name not in present:
            notes.append(f"{name}: not present (benchmarks/bench_{name}.py)")
            report["groups"][name] = {"present": False}
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        figures, seconds, error = run_module(name, args.quick)
        report["groups"][name] = {"present": True, "seconds": round(seconds, 1), "error": error,
                                  "figures": figures}
        rows += [(name, f) for f in figures]
        if error:
            notes.append(f"{name}: ERROR after {seconds:.0f} s\n{error}")
    report["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    print_table(rows, notes)
    missed = [f"{m}: {f['name']}" for m, f in rows if verdict(f) == "MISSED"]
    print(f"{len(rows)} figures, {len(missed)} MISSED" + (": " + "; ".join(missed) if missed else ""))
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(report), indent=2, default=str, allow_nan=False) + "\n")
    print(f"figures written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
