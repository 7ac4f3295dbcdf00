"""The benchmark runner and its data (not the figures: benchmarks report, the issue's targets judge)."""

from __future__ import annotations

import json

import benchmarks.__main__ as runner
from benchmarks import records
from benchmarks.markdown import table
from sync.hashing import canonical_json

KEYS = {"name", "value", "unit", "baseline_name", "baseline", "ratio", "target", "ok"}


def test_records_are_deterministic_and_about_2kb():
    sizes = [len(canonical_json(records.order(i)).encode()) for i in range(1, 200)]
    assert 1800 <= sum(sizes) / len(sizes) <= 2300
    assert records.order(7) == records.order(7) and records.order(7) != records.order(8)
    assert records.order(100, 1) != records.order(100) and records.updated_at(100, 1) > records.updated_at(10**6)
    assert sum(records.changed(i, 0.01) for i in range(1, 50_001)) == 500


def test_runner_reports_missing_groups_and_writes_json(tmp_path, monkeypatch, capsys, pg_dsn):
    monkeypatch.setattr(runner, "available", lambda: ["startup"])
    out = tmp_path / "figures.json"
    assert runner.main(["--quick", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "shopify_pacing: not present" in printed and "amazon_pacing: not present" in printed
    report = json.loads(out.read_text())
    assert report["quick"] is True and report["groups"]["store"] == {"present": False}
    figures = report["groups"]["startup"]["figures"]
    assert figures and all(KEYS <= set(f) for f in figures)
    assert "| startup | cron --dry-run" in table(report)


def test_a_failing_group_is_an_error_not_a_crash():
    figures, _, error = runner.run_module("no_such_group", quick=True)
    assert figures == [] and "ModuleNotFoundError" in error
