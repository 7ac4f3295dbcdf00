"""The cron setup files: cron_setup.sh (run for real, with a stand-in `crontab` that keeps the table in a
file, since the test must not touch the machine's crontab), docker-cron and cron_setup.bat (read)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON = subprocess.run([sys.executable, "-c", "import sys; print(sys.executable)"], capture_output=True,
                        text=True, check=True).stdout.strip()

FAKE_CRONTAB = """#!/bin/sh
# Stand-in for crontab(1): the table lives in $CRONTAB_FILE.
case "$1" in
  -l) [ -f "$CRONTAB_FILE" ] || { echo "no crontab for $USER" >&2; exit 1; }; cat "$CRONTAB_FILE" ;;
  -r) rm -f "$CRONTAB_FILE" ;;
  -) cat > "$CRONTAB_FILE" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""


def _run(script: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHON": sys.executable, **(env or {})})


def _jobs(lines: list[str]) -> dict[str, str]:
    return {("sku" if "sku_analysis_cron.py" in line else "api"): line for line in lines}


def test_print_shows_both_lines_with_absolute_paths():
    done = _run(REPO / "cron_setup.sh", "--print")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    jobs = _jobs(lines)
    assert jobs["api"].startswith("0 * * * * ")
    assert jobs["sku"].startswith("0 1,9,17 * * * ")
    for name, script in (("api", "api_sync_cron.py"), ("sku", "sku_analysis_cron.py")):
        line = jobs[name]
        assert f"cd '{REPO}' && '{PYTHON}' {script} --json" in line
        assert f"2>>'{REPO}/logs/cron_errors.log'" in line
        assert line.endswith(f"# api-sync:{script[:-3]} {REPO}")


def test_unknown_option_and_missing_python():
    assert _run(REPO / "cron_setup.sh", "--bogus").returncode == 2
    missing = _run(REPO / "cron_setup.sh", "--print", env={"PYTHON": "/nonexistent/python"})
    assert missing.returncode == 2 and "PYTHON=" in missing.stderr


@pytest.fixture
def sandbox(tmp_path):
    """A copy of the script in a folder whose name needs quoting (space, quote, percent), a stand-in
    crontab on PATH, and a stand-in job script that records how it was started."""
    repo = tmp_path / "my api's sync 100%"
    repo.mkdir()
    shutil.copy(REPO / "cron_setup.sh", repo / "cron_setup.sh")
    for script in ("api_sync_cron.py", "sku_analysis_cron.py"):
        (repo / script).write_text("import os, sys\n"
                                   "open('started.txt', 'a').write(os.getcwd() + ' ' + ' '.join(sys.argv) + '\\n')\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "crontab").write_text(FAKE_CRONTAB)
    (bin_dir / "crontab").chmod(0o755)
    table = tmp_path / "crontab.txt"
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "CRONTAB_FILE": str(table)}
    return repo, table, env


def _cron_command(line: str) -> str:
    """What cron hands to sh: the line after its five time fields, with \\% back to %."""
    return line.split(None, 5)[5].replace("\\%", "%")


def test_install_is_idempotent_and_keeps_other_lines(sandbox):
    repo, table, env = sandbox
    table.write_text("MAILTO=ops@example.com\n15 3 * * * /usr/bin/backup.sh\n")
    for _ in range(2):
        done = _run(repo / "cron_setup.sh", env=env)
        assert done.returncode == 0, done.stderr
    lines = table.read_text().splitlines()
    assert lines[:2] == ["MAILTO=ops@example.com", "15 3 * * * /usr/bin/backup.sh"]
    assert len(lines) == 4
    jobs = _jobs(lines[2:])
    assert "100\\%" in jobs["api"] and "100%" not in jobs["api"].replace("100\\%", "")
    assert (repo / "logs").is_dir()

    # Each line, run as cron would run it, starts its script in the folder with the right python.
    for line in jobs.values():
        subprocess.run(["sh", "-c", _cron_command(line)], check=True, timeout=60)
    started = (repo / "started.txt").read_text().splitlines()
    assert started == [f"{repo} api_sync_cron.py --json", f"{repo} sku_analysis_cron.py --json"]

    # Another checkout's lines are not ours to replace.
    other = repo.parent / "other checkout"
    other.mkdir()
    shutil.copy(repo / "cron_setup.sh", other / "cron_setup.sh")
    assert _run(other / "cron_setup.sh", env=env).returncode == 0
    assert len(table.read_text().splitlines()) == 6

    removed = _run(repo / "cron_setup.sh", "--remove", env=env)
    assert removed.returncode == 0, removed.stderr
    lines = table.read_text().splitlines()
    assert lines[:2] == ["MAILTO=ops@example.com", "15 3 * * * /usr/bin/backup.sh"]
    assert len(lines) == 4 and all("other checkout" in line for line in lines[2:])


def test_install_into_an_empty_crontab_and_remove_it(sandbox):
    repo, table, env = sandbox
    assert _run(repo / "cron_setup.sh", env=env).returncode == 0
    assert len(table.read_text().splitlines()) == 2
    assert _run(repo / "cron_setup.sh", "--remove", env=env).returncode == 0
    assert not table.exists()


def _crontab_entries(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_docker_cron_runs_the_sync_hourly_and_the_analysis_every_8_hours():
    entries = _crontab_entries(REPO / "docker-cron")
    assert len(entries) == 2
    jobs = _jobs(entries)
    assert jobs["api"].split()[:5] == ["0", "*", "*", "*", "*"]
    assert jobs["sku"].split()[:5] == ["0", "1,9,17", "*", "*", "*"]
    for line in entries:
        assert "cd /app && python " in line
    assert (REPO / "docker-cron").read_text().endswith("\n")  # cron ignores an unterminated last line


def test_windows_tasks():
    raw = (REPO / "cron_setup.bat").read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # cmd.exe wants CRLF
    text = raw.decode()
    create = [line for line in text.splitlines() if line.startswith("schtasks /Create")]
    assert len(create) == 2
    api = next(line for line in create if "api_sync_cron.py" in line)
    sku = next(line for line in create if "sku_analysis_cron.py" in line)
    assert "/SC HOURLY /MO 1 " in api
    assert "/SC HOURLY /MO 8 /ST 01:00" in sku
    for line in create:
        assert '/TR "cmd /c cd /d \\"%REPO%\\" && \\"%PY%\\" ' in line
