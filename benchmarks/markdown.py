"""Print a results JSON as the markdown table kept in benchmarks/README.md.

    python -m benchmarks.markdown [benchmarks/results/latest.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .__main__ import HERE, _num, verdict


def table(report: dict[str, Any]) -> str:
    lines = [f"`{report['command']}` — {report['started_at']}, {report['machine']['cpus']} CPUs, "
             f"Python {report['machine']['python']}", "",
             "| group | figure | value | baseline | ratio | target | result |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, group in report["groups"].items():
        if not group.get("present"):
            lines.append(f"| {name} | not present | | | | | |")
            continue
        if group.get("error"):
            lines.append(f"| {name} | ERROR: {group['error'].strip().splitlines()[-1]} | | | | | |")
        for fig in group.get("figures", []):
            baseline = f"{_num(fig['baseline'])} ({fig['baseline_name']})" if fig["baseline_name"] else "-"
            lines.append(f"| {name} | {fig['name']} | {_num(fig['value'])} {fig['unit']} | {baseline} | "
                         f"{_num(fig['ratio'])} | {fig['target']} | {verdict(fig)} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else HERE / "results" / "latest.json"
    print(table(json.loads(path.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
