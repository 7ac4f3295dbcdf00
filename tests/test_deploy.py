"""The deployment files, checked as far as they can be without a Docker engine or a Render account.

- `Dockerfile`: parsed with dockerfile-parse; every file it copies or runs is in the build context that
  `.dockerignore` leaves (computed with the Docker SDK's own matcher); its supercronic download step is run
  with a stand-in downloader, so a checksum mismatch is seen to fail; its commands are the README's.
- `render.yaml`: exactly the three services, their schedules and commands, secrets only as `sync: false`.
- Every cron schedule (`docker-cron`, `render.yaml`, `cron_setup.sh`, `cron_setup.bat`) parsed with croniter
  and compared with the documented times: the sync hourly at minute 0, the SKU analysis at 01:00, 09:00, 17:00.
- `.env.example`: every SPEC section 1 setting and every row of the README's Configuration table, in the order
  a new user fills them, and usable as it is by python-dotenv and `docker run --env-file`.
- The commands the image and the Blueprint run (the tables, both jobs, the admin API and the image's health
  check) run for real on a copy of exactly the build context, as in the image's /app.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from croniter import croniter
from cryptography.fernet import Fernet
from docker.utils.build import exclude_paths
from dockerfile_parse import DockerfileParser

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")

# SPEC section 1, every variable (SUPABASE_KEY is the accepted alias of SUPABASE_SERVICE_ROLE_KEY).
SPEC_SETTINGS = [
    "DATABASE_URL", "SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_KEY", "SQLITE_PATH",
    "CREDENTIALS_ENCRYPTION_KEY", "SYNC_MAX_WORKERS", "SYNC_LEASE_SECONDS", "SYNC_LOOKBACK_MINUTES",
    "LOG_DIR", "LOG_LEVEL", "SHOPIFY_API_VERSION", "SHOPIFY_BASE_URL", "AMAZON_SP_API_BASE_URL",
    "AMAZON_LWA_TOKEN_URL", "ADMIN_API_TOKEN", "SUPABASE_JWT_SECRET", "SYNC_STORE_PII",
]
# The settings no deployment file may hold a value for: secrets, and the addresses that come with them.
SECRETS = {"DATABASE_URL", "SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_KEY",
           "CREDENTIALS_ENCRYPTION_KEY", "ADMIN_API_TOKEN", "SUPABASE_JWT_SECRET"}
STORE_SECRETS = {"DATABASE_URL", "SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY"}

# The documented times (SPEC section 6, README "Commands" and "Deploy"): hourly at minute 0; 01:00, 09:00, 17:00.
SYNC_TIMES = [(hour, 0) for hour in range(24)]
SKU_TIMES = [(1, 0), (9, 0), (17, 0)]

WEB_COMMAND = "uvicorn app:app --host 0.0.0.0 --port $PORT"
SERVICES = {
    "api-sync-hourly": ("cron", "0 * * * *", "python api_sync_cron.py"),
    "api-sync-sku-analysis": ("cron", "0 1,9,17 * * *", "python sku_analysis_cron.py"),
    "api-sync-admin": ("web", None, WEB_COMMAND),
}


# -- helpers ---------------------------------------------------------------------------------------------
def _dockerfile() -> DockerfileParser:
    return DockerfileParser(path=str(REPO / "Dockerfile"))


def _instructions(name: str) -> list[str]:
    return [i["value"] for i in _dockerfile().structure if i["instruction"] == name]


def _index(name: str, predicate=lambda value: True) -> int:
    for position, item in enumerate(_dockerfile().structure):
        if item["instruction"] == name and predicate(item["value"]):
            return position
    raise AssertionError(f"no {name} instruction matching in the Dockerfile")


def _ignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _build_context(root: Path = REPO) -> set[str]:
    """The files `COPY . .` puts in /app: the Docker SDK's .dockerignore matcher, less the Dockerfile and
    .dockerignore themselves when listed (Docker sends them to the builder but never copies them)."""
    patterns = _ignore_patterns()
    kept = {path for path in exclude_paths(str(root), patterns, dockerfile="Dockerfile") if (root / path).is_file()}
    for own in ("Dockerfile", ".dockerignore"):
        if own in patterns:
            kept.discard(own)
    return kept


def _render() -> dict:
    return yaml.safe_load((REPO / "render.yaml").read_text(encoding="utf-8"))


def _services() -> dict[str, dict]:
    return {service["name"]: service for service in _render()["services"]}


def _crontab_entries(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _job(command: str) -> str:
    return "sku" if "sku_analysis_cron.py" in command else "sync"


def _readme_configuration_settings() -> list[str]:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = []
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names += re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell)
    return names


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- Dockerfile ------------------------------------------------------------------------------------------
def test_dockerfile_is_a_slim_official_python_image_run_by_an_unprivileged_user():
    parser = _dockerfile()
    assert len(_instructions("FROM")) == 1
    image, _, tag = parser.baseimage.partition(":")
    assert image == "python" and tag.endswith("-slim"), parser.baseimage  # Docker Hub's official image
    assert _instructions("WORKDIR") == ["/app"]  # docker-cron's jobs `cd /app`

    # requirements.txt alone first (a cached layer), installed without pip's cache.
    copy_requirements = _index("COPY", lambda v: v.split()[0] == "requirements.txt")
    install = _index("RUN", lambda v: "pip install" in v)
    assert copy_requirements < install < _index("COPY", lambda v: v.split()[0] == ".")
    assert "pip install --no-cache-dir -r requirements.txt" in _instructions("RUN")
    assert parser.envs["PIP_NO_CACHE_DIR"] == "1"
    for run in _instructions("RUN"):  # no package index left behind in a layer
        if "apt-get install" in run:
            assert "--no-install-recommends" in run and run.rstrip().endswith("rm -rf /var/lib/apt/lists/*"), run

    # A system user that owns logs/ and data/ only, and is the one running everything after.
    users = _instructions("USER")
    assert users == ["apisync"]
    useradd = next(v for v in _instructions("RUN") if "useradd" in v)
    assert "--system" in useradd and useradd.split()[-1] == "apisync"
    writable = _index("RUN", lambda v: "chown" in v)
    assert _index("COPY", lambda v: v.split()[0] == ".") < writable < _index("USER")
    chown = next(v for v in _instructions("RUN") if "chown" in v)
    assert "mkdir -p logs data" in chown and "chown apisync:apisync logs data" in chown
    assert _index("USER") < _index("CMD") and _index("USER") < _index("HEALTHCHECK")

    # The app's code compiled to bytecode at build (the app user cannot write /app): an hourly start loads
    # it instead of compiling every module from source.
    compile_step = _index("RUN", lambda v: "compileall" in v)
    assert _index("COPY", lambda v: v.split()[0] == ".") < compile_step < _index("USER")
    compiled = next(v for v in _instructions("RUN") if "compileall" in v).split()
    for needed in ("sync", "emulators", "api_sync_cron.py", "test_api_sync_now.py", "sku_analysis_cron.py", "app.py"):
        assert needed in compiled, needed


def test_supercronic_is_fetched_by_version_and_checksum():
    args = _dockerfile().args
    assert re.fullmatch(r"v\d+\.\d+\.\d+", args["SUPERCRONIC_VERSION"])
    for arch in ("AMD64", "ARM64"):
        assert re.fullmatch(r"[0-9a-f]{40}", args[f"SUPERCRONIC_SHA1SUM_{arch}"])
    fetch = next(v for v in _instructions("RUN") if "supercronic/releases" in v)
    assert ("https://github.com/aptible/supercronic/releases/download/${SUPERCRONIC_VERSION}/"
            "supercronic-linux-${arch}") in fetch
    assert fetch.index("urlretrieve") < fetch.index("sha1sum -c -") < fetch.index("chmod")
    # The crontab is checked by supercronic itself when the image is built.
    assert "supercronic -test /app/docker-cron" in _instructions("RUN")


@pytest.fixture
def fetch_step(tmp_path):
    """The Dockerfile's supercronic RUN step, runnable here: `python` is a stand-in that records the URL and
    writes known bytes, and the binary lands in tmp_path instead of /usr/local/bin."""
    fetch = next(v for v in _instructions("RUN") if "supercronic/releases" in v)
    target = tmp_path / "supercronic"
    script = fetch.replace("/usr/local/bin/supercronic", str(target))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text('#!/bin/sh\necho "$3" > "$URL_LOG"\nprintf "supercronic build" > "$4"\n')
    (bin_dir / "python").chmod(0o755)
    args = _dockerfile().args

    def run(arch: str, **overrides: str) -> subprocess.CompletedProcess:
        env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "URL_LOG": str(tmp_path / "url.txt"),
               "TARGETARCH": arch, **{k: v for k, v in args.items() if k.startswith("SUPERCRONIC")}, **overrides}
        return subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=30)

    return run, target, tmp_path / "url.txt"


def test_the_fetch_step_installs_only_a_binary_whose_checksum_matches(fetch_step):
    run, target, url_log = fetch_step
    good = hashlib.sha1(b"supercronic build").hexdigest()
    done = run("amd64", SUPERCRONIC_SHA1SUM_AMD64=good)
    assert done.returncode == 0, done.stderr
    version = _dockerfile().args["SUPERCRONIC_VERSION"]
    assert url_log.read_text().strip() == (
        f"https://github.com/aptible/supercronic/releases/download/{version}/supercronic-linux-amd64")
    assert os.access(target, os.X_OK)

    assert run("arm64", SUPERCRONIC_SHA1SUM_ARM64=good).returncode == 0
    assert url_log.read_text().strip().endswith("/supercronic-linux-arm64")

    target.unlink()
    mismatch = run("amd64")  # the real release checksum against the stand-in's bytes
    assert mismatch.returncode != 0 and "FAILED" in mismatch.stdout + mismatch.stderr
    assert not os.access(target, os.X_OK)
    unknown = run("s390x")
    assert unknown.returncode != 0 and "no supercronic checksum" in unknown.stderr


def test_every_file_the_dockerfile_copies_or_runs_is_in_the_build_context():
    context = _build_context()
    for value in _instructions("COPY"):
        *sources, _destination = [word for word in value.split() if not word.startswith("--")]
        for source in sources:
            assert (REPO / source).exists(), source
            assert source == "." or source in context, source
    # Every /app/... path the image runs, and every script its cron lines and Render commands start.
    commands = [*_instructions("RUN"), *_instructions("CMD"), *_instructions("HEALTHCHECK")]
    app_paths = {path for command in commands for path in re.findall(r"/app/([\w./-]+)", command)}
    assert {"docker-cron", "docker/healthcheck.py"} <= app_paths
    scripts = {word for line in _crontab_entries(REPO / "docker-cron") for word in line.split() if word.endswith(".py")}
    for service in _services().values():
        for command in (service["dockerCommand"], service.get("preDeployCommand", "")):
            scripts |= {word for word in command.split() if word.endswith(".py")}
            scripts |= {word.split(":")[0] + ".py" for word in command.split() if re.fullmatch(r"\w+:\w+", word)}
    assert {"api_sync_cron.py", "sku_analysis_cron.py", "app.py"} <= scripts
    for path in app_paths | scripts | {"requirements.txt", "sync/__main__.py", "emulators/shopify/schema.graphql"}:
        assert path in context, f"{path} is not in the image"


def test_dockerignore_keeps_secrets_and_clutter_out(tmp_path):
    for path in (".env", ".env.production", ".env.example", ".git/config", ".venv/bin/python", "logs/.gitkeep",
                 "logs/api_sync_cron.log", "data/api_sync.db", "tests/test_x.py", "benchmarks/run.py",
                 "sync/__pycache__/engine.cpython-311.pyc", "sync/engine.py", "emulators/shopify/data.py",
                 "Dockerfile", ".dockerignore"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    shutil.copy(REPO / ".dockerignore", tmp_path / ".dockerignore")
    assert _build_context(tmp_path) == {".env.example", "logs/.gitkeep", "sync/engine.py",
                                        "emulators/shopify/data.py"}


def test_the_commands_are_the_ones_the_readme_documents():
    cmd = json.loads(_dockerfile().cmd)  # exec form: supercronic is PID 1 and gets the signals
    assert cmd == ["supercronic", "/app/docker-cron"]
    assert f"`{' '.join(cmd)}`" in README
    assert "supercronic /app/docker-cron" in (REPO / "docker-cron").read_text()

    healthcheck = _instructions("HEALTHCHECK")[0]
    assert healthcheck.split("CMD", 1)[1].strip() == '["python", "/app/docker/healthcheck.py"]'
    assert "`docker/healthcheck.py`" in README and "`GET /healthz`" in README
    assert _instructions("EXPOSE") == ["8000"] and _dockerfile().envs["PORT"] == "8000"

    for line in ("docker build -t api-sync .",
                 "docker run --rm --env-file .env api-sync python -m sync init-db",
                 "docker run -d --name api-sync-cron --env-file .env api-sync ",
                 "api-sync uvicorn app:app --host 0.0.0.0 --port 8000"):
        assert line in README, line
    dockerfile_text = (REPO / "Dockerfile").read_text()
    assert "docker run --env-file .env -p 8000:8000 api-sync uvicorn app:app --host 0.0.0.0 --port 8000" in dockerfile_text
    assert f"`{WEB_COMMAND}`" in README and WEB_COMMAND in dockerfile_text
    for name, (_type, schedule, command) in SERVICES.items():
        row = next(line for line in README.splitlines() if line.startswith(f"| `{name}` |"))
        assert f"`{command}`" in row and (schedule is None or f"`{schedule}`" in row), row
    assert "`python -m sync init-db`" in README


# -- render.yaml -----------------------------------------------------------------------------------------
def test_render_blueprint_has_exactly_the_three_services():
    blueprint = _render()
    assert set(blueprint) == {"services", "envVarGroups"}
    services = _services()
    assert len(blueprint["services"]) == len(services) == 3
    assert set(services) == set(SERVICES)
    for name, (kind, schedule, command) in SERVICES.items():
        service = services[name]
        assert service["type"] == kind
        assert service["runtime"] == "docker" and service["dockerfilePath"] == "./Dockerfile"
        assert (REPO / service["dockerfilePath"]).is_file() and service.get("dockerContext", ".") == "."
        assert service["dockerCommand"] == command
        assert service.get("plan", "starter") != "free"  # cron jobs have no free plan; a free web service sleeps
        if kind == "cron":
            assert service["schedule"] == schedule and "healthCheckPath" not in service
        else:
            assert "schedule" not in service
            assert service["healthCheckPath"] == "/healthz"
            assert service["preDeployCommand"] == "python -m sync init-db"


def test_render_secrets_are_never_given_a_value():
    blueprint = _render()
    groups = {group["name"]: group for group in blueprint["envVarGroups"]}
    assert len(groups) == 1
    (group_name, group), = groups.items()
    # Render ignores `sync: false` inside a group: secrets belong to the services, settings to the group.
    for entry in group["envVars"]:
        assert set(entry) == {"key", "value"} and entry["key"] in SPEC_SETTINGS, entry
        assert entry["key"] not in SECRETS and isinstance(entry["value"], str)

    asked_for: dict[str, set[str]] = {}
    for name, service in _services().items():
        entries = service["envVars"]
        assert {"fromGroup": group_name} in entries, name
        for entry in entries:
            if "fromGroup" in entry:
                assert entry == {"fromGroup": group_name}
                continue
            assert entry["key"] in SPEC_SETTINGS, entry
            assert entry["key"] in SECRETS and entry == {"key": entry["key"], "sync": False}, entry
            asked_for.setdefault(entry["key"], set()).add(name)
    assert set(asked_for) == SECRETS - {"SUPABASE_KEY"}  # every secret of SPEC section 1, the alias aside
    for name in SERVICES:
        assert all(name in asked_for[key] for key in STORE_SECRETS), name
    assert asked_for["CREDENTIALS_ENCRYPTION_KEY"] == {"api-sync-hourly", "api-sync-admin"}
    assert asked_for["ADMIN_API_TOKEN"] == asked_for["SUPABASE_JWT_SECRET"] == {"api-sync-admin"}

    text = (REPO / "render.yaml").read_text()
    for looks_like_a_secret in ("postgresql://", "postgres://", "sb_secret_", "eyJ", "supabase.co", "value: ''"):
        assert looks_like_a_secret not in text


# -- schedules -------------------------------------------------------------------------------------------
def _bat_schedules() -> dict[str, str]:
    """cron_setup.bat's `schtasks /SC HOURLY /MO n /ST hh:mm` as the cron expression firing at the same times."""
    text = (REPO / "cron_setup.bat").read_text()
    found = {}
    for line in text.splitlines():
        if line.startswith("schtasks /Create"):
            every, start = re.search(r"/SC HOURLY /MO (\d+) /ST (\d\d):(\d\d)", line).group(1), \
                re.search(r"/ST (\d\d:\d\d)", line).group(1)
            every, (hour, minute) = int(every), map(int, start.split(":"))
            assert 24 % every == 0  # otherwise the task drifts across days
            found[_job(line)] = f"{minute} {','.join(str(h) for h in range(hour % every, 24, every))} * * *"
    return found


def _all_schedules() -> list[tuple[str, str, str]]:
    """(source, job, cron expression) for every schedule the project ships."""
    schedules = []
    for line in _crontab_entries(REPO / "docker-cron"):
        schedules.append(("docker-cron", _job(line), " ".join(line.split()[:5])))
    for service in _services().values():
        if service["type"] == "cron":
            schedules.append(("render.yaml", _job(service["dockerCommand"]), service["schedule"]))
    printed = subprocess.run(["bash", str(REPO / "cron_setup.sh"), "--print"], capture_output=True, text=True,
                             timeout=60, env={**os.environ, "PYTHON": sys.executable}, check=True).stdout
    for line in printed.splitlines():
        schedules.append(("cron_setup.sh", _job(line), " ".join(line.split()[:5])))
    for job, expression in _bat_schedules().items():
        schedules.append(("cron_setup.bat", job, expression))
    return schedules


def _fire_times(expression: str, days: int) -> list[datetime]:
    start = datetime(2027, 3, 26, 0, 0) - timedelta(seconds=1)  # a weekend across Europe's clock change
    it = croniter(expression, start)
    end = start + timedelta(days=days)
    times = []
    while (moment := it.get_next(datetime)) < end:
        times.append(moment)
    return times


def test_every_schedule_fires_at_the_documented_times():
    schedules = _all_schedules()
    assert sorted((source, job) for source, job, _ in schedules) == sorted(
        (source, job) for source in ("docker-cron", "render.yaml", "cron_setup.sh", "cron_setup.bat")
        for job in ("sync", "sku"))
    days = 3
    first = datetime(2027, 3, 26)
    expected = {
        job: [first + timedelta(days=d, hours=h, minutes=m) for d in range(days) for h, m in times]
        for job, times in (("sync", SYNC_TIMES), ("sku", SKU_TIMES))
    }
    for source, job, expression in schedules:
        assert croniter.is_valid(expression), (source, expression)
        assert _fire_times(expression, days) == expected[job], (source, job, expression)
    assert "at 01:00, 09:00 and 17:00" in README


# -- .env.example ----------------------------------------------------------------------------------------
def _env_example() -> list[str]:
    return (REPO / ".env.example").read_text(encoding="utf-8").splitlines()


def _setting_lines() -> dict[str, int]:
    """Setting name -> line number, for `NAME=...` and `# NAME=...` lines."""
    found: dict[str, int] = {}
    for number, line in enumerate(_env_example()):
        match = re.fullmatch(r"(?:# )?([A-Z][A-Z0-9_]*)=(.*)", line)
        if match:
            assert match.group(1) not in found, f"{match.group(1)} appears twice"
            found[match.group(1)] = number
    return found


def test_env_example_has_every_setting_in_the_order_a_new_user_fills_them():
    lines = _setting_lines()
    readme_settings = _readme_configuration_settings()
    assert {"DATABASE_URL", "PORT", "HOST", "ADMIN_API_TOKEN"} <= set(readme_settings)
    for name in SPEC_SETTINGS + readme_settings:
        assert name in lines or (name == "SUPABASE_KEY" and "SUPABASE_KEY" in (REPO / ".env.example").read_text()), name
    # The store first, then the key that encrypts credentials, then the admin API, then what has a default.
    order = ["DATABASE_URL", "SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "SQLITE_PATH",
             "CREDENTIALS_ENCRYPTION_KEY", "ADMIN_API_TOKEN", "SUPABASE_JWT_SECRET"]
    assert [lines[name] for name in order] == sorted(lines[name] for name in order)
    assert max(lines[name] for name in order) < min(lines[name] for name in set(lines) - set(order))
    # Commented: each setting sits in a paragraph that opens with an explanation.
    text = _env_example()
    for name, number in lines.items():
        above = number
        while above > 0 and re.fullmatch(r"(?:# )?[A-Z][A-Z0-9_]*=.*", text[above]):
            above -= 1
        assert text[above].startswith("# ") and len(text[above]) > 10, name


def test_env_example_works_as_it_is_for_dotenv_and_docker(tmp_path):
    from sync.config import Settings

    # `docker run --env-file` takes each line literally: no quotes, no trailing comment.
    filled = [line for line in _env_example() if line and not line.startswith("#")]
    assert filled and all(re.fullmatch(r"[A-Z][A-Z0-9_]*=[^\s\"'#]*", line) for line in filled), filled
    assert all(line.split("=", 1)[1] == "" for line in filled)  # nothing to fill is pre-filled

    # The commented defaults are the code's defaults: uncommenting them changes nothing.
    defaults = {}
    for line in _env_example():
        match = re.fullmatch(r"# ([A-Z][A-Z0-9_]*)=(\S+)", line)
        if match:
            defaults[match.group(1)] = match.group(2)
    assert {"SQLITE_PATH", "SYNC_MAX_WORKERS", "LOG_LEVEL", "PORT", "SHOPIFY_API_VERSION"} <= set(defaults)
    assert Settings.from_env(defaults, load_dotenv=False) == Settings.from_env({}, load_dotenv=False)

    # Copied to .env untouched, it sets up the embedded store and `init-db` works.
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "SQLITE_PATH", "SUPABASE", "CREDENTIALS_ENCRYPTION_KEY", "LOG_DIR"))}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-m", "sync", "init-db"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "api_sync.db").is_file()


# -- the image's commands, run on a copy of its build context ---------------------------------------------
@pytest.fixture
def image_app(tmp_path):
    """/app as `COPY . .` and the Dockerfile's RUN steps leave it, and the environment the platform gives."""
    app = tmp_path / "app"
    for path in _build_context():
        (app / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, app / path)
    (app / "logs").mkdir(exist_ok=True)
    (app / "data").mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "SQLITE_PATH", "SUPABASE", "CREDENTIALS_ENCRYPTION_KEY", "LOG_DIR",
                                "ADMIN_API_TOKEN", "PYTHONPATH"))}
    env.update({"PATH": f"{Path(sys.executable).parent}:{env['PATH']}",  # `python` and `uvicorn` of this venv
                "CREDENTIALS_ENCRYPTION_KEY": Fernet.generate_key().decode(), "ADMIN_API_TOKEN": "t" * 40,
                "PORT": str(_free_port()), "PYTHONDONTWRITEBYTECODE": "1"})
    compiled = subprocess.run(["sh", "-c", next(v for v in _instructions("RUN") if "compileall" in v)], cwd=app,
                              env=env, capture_output=True, text=True, timeout=300)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    return app, env


def _sh(command: str, app: Path, env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", command], cwd=app, env=env, capture_output=True, text=True, timeout=timeout)


def _healthcheck(app: Path, env: dict, tmp_path: Path, cmdline: list[str]) -> subprocess.CompletedProcess:
    path = tmp_path / "cmdline"
    path.write_bytes(b"\0".join(arg.encode() for arg in cmdline) + b"\0")
    return subprocess.run([sys.executable, str(app / "docker" / "healthcheck.py"), str(path)], env=env,
                          capture_output=True, text=True, timeout=30)


def test_the_image_runs_its_jobs_and_serves_the_admin_api(image_app, tmp_path):
    app, env = image_app
    services = _services()

    # Render's pre-deploy step, then each cron job's command: nothing is due on new tables.
    done = _sh(services["api-sync-admin"]["preDeployCommand"], app, env)
    assert done.returncode == 0, done.stderr
    assert (app / "data" / "api_sync.db").is_file()
    for name in ("api-sync-hourly", "api-sync-sku-analysis"):
        done = _sh(services[name]["dockerCommand"], app, env)
        assert done.returncode == 0, (name, done.stderr)
    assert (app / "logs" / "api_sync_cron.log").is_file() and (app / "logs" / "sku_analysis_cron.log").is_file()
    assert {"engine", "runner", "config"} <= {p.name.split(".")[0] for p in (app / "sync" / "__pycache__").glob("*.pyc")}

    # docker-cron's lines as supercronic hands them to sh, with /app here and PID 1's output in files.
    for line in _crontab_entries(REPO / "docker-cron"):
        command = line.split(None, 5)[5].replace("/app", str(app))
        command = command.replace("/proc/1/fd/1", str(tmp_path / "out")).replace("/proc/1/fd/2", str(tmp_path / "err"))
        done = _sh(command, app, env)
        assert done.returncode == 0, (line, (tmp_path / "err").read_text())

    # The image holds everything the sandbox demo needs (the emulators), though not the tests.
    demo = _sh("python api_sync_cron.py --sandbox --json", app, env)
    assert demo.returncode == 0, demo.stderr
    summary = json.loads(demo.stdout.splitlines()[-1])
    assert summary["synced"] == 2 and summary["failed"] == 0
    assert _sh("SQLITE_PATH=data/sandbox.db python sku_analysis_cron.py --json", app, env).returncode == 0
    assert not (app / "tests").exists()

    # The default command's variant has no server: healthy while it runs.
    assert _healthcheck(app, env, tmp_path, ["supercronic", "/app/docker-cron"]).returncode == 0

    # The web service's command, as Render runs it (through sh, PORT set by the platform).
    server = subprocess.Popen(["sh", "-c", services["api-sync-admin"]["dockerCommand"]], cwd=app, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "the admin API did not start"
            time.sleep(0.2)
        real_cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
        for cmdline in ([arg.decode() for arg in real_cmdline if arg],
                        ["sh", "-c", WEB_COMMAND],
                        ["uvicorn", "app:app", "--host", "0.0.0.0", "--port", env["PORT"]],
                        ["python", "app.py"]):
            check = _healthcheck(app, env, tmp_path, cmdline)
            assert check.returncode == 0, (cmdline, check.stdout)
            assert f"127.0.0.1:{env['PORT']}/healthz: HTTP 200" in check.stdout
        queued = httpx.post(f"{base}/api/admin/trigger-api-sync", timeout=10,
                            headers={"Authorization": f"Bearer {env['ADMIN_API_TOKEN']}"})
        assert queued.status_code == 202
    finally:
        os.killpg(server.pid, 15)  # sh and uvicorn: the group start_new_session gave them
        server.wait(15)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # sh may exit before uvicorn has closed its socket
        try:
            httpx.get(f"{base}/healthz", timeout=1)
        except httpx.TransportError:
            break
        time.sleep(0.1)
    stopped = _healthcheck(app, env, tmp_path, ["uvicorn", "app:app", "--host", "0.0.0.0", "--port", env["PORT"]])
    assert stopped.returncode == 1 and "/healthz" in stopped.stdout
