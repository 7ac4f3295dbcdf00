"""The admin HTTP API (SPEC section 5) through FastAPI's TestClient, on a real SQLite file and PostgreSQL,
with the test platform registered so that a triggered run really syncs."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
from fastapi.testclient import TestClient

from sync.admin_api import create_app
from sync.engine import SyncEngine
from sync.platforms import PlatformRegistry

from .engine_fixtures import add, data_rows, make_settings, results
from .fakeplatform import FakePlatform, FakeShop
from .sku_fixtures import direct
from .supabase_fixtures import supabase_project  # noqa: F401  (a fixture)

TOKEN = "admin-" + uuid.uuid4().hex
JWT_SECRET = "jwt-secret-" + uuid.uuid4().hex


def _settings(kind, tmp_path, dsn=None, **extra):
    env = {"ADMIN_API_TOKEN": TOKEN, "SUPABASE_JWT_SECRET": JWT_SECRET, **extra}
    return make_settings(kind, tmp_path, dsn, **{k: v for k, v in env.items() if v is not None})


def _client(settings, shops=None):
    shops = shops if shops is not None else {}
    registry = PlatformRegistry({"shopify": FakePlatform(shops)})
    app = create_app(settings, engine_factory=lambda: SyncEngine(settings, platforms=registry))
    return TestClient(app), app


def _auth(token=TOKEN):
    return {"Authorization": f"Bearer {token}"}


def _jwt(role="admin", *, secret=JWT_SECRET, aud="authenticated", exp_in=3600, **claims):
    payload = {"sub": str(uuid.uuid4()), "aud": aud, "exp": int(time.time()) + exp_in, "role": "authenticated",
               "app_metadata": {"provider": "email", **({"role": role} if role else {})}, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


def _wait(app, run_id, timeout=30):
    assert app.state.background_runs.join(run_id, timeout), "the background sync did not finish"


@pytest.fixture(params=["sqlite", "postgres", "supabase"])
def settings(request, tmp_path):
    if request.param == "supabase":  # the REST store, through the PostgREST emulator
        project = request.getfixturevalue("supabase_project")
        return project.settings(tmp_path, ADMIN_API_TOKEN=TOKEN, SUPABASE_JWT_SECRET=JWT_SECRET,
                                _TEST_PG_DSN=project.dsn)
    dsn = request.getfixturevalue("fresh_pg_dsn") if request.param == "postgres" else None
    return _settings(request.param, tmp_path, dsn)


# -- end to end, both stores ----------------------------------------------------------------------------
def test_trigger_runs_a_real_sync_in_the_background(settings):
    shop = FakeShop.generate(orders=60, products=10, page_size=20, page_delay=0.15)
    client_id, cred = add(settings, domain="a.myshopify.com")
    client, app = _client(settings, {"a.myshopify.com": shop})

    response = client.post("/api/admin/trigger-api-sync", headers=_auth())
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued"
    run_id = body["run_id"]
    assert str(uuid.UUID(run_id)) == run_id
    assert body["status_url"].endswith(f"/api/admin/sync-runs/{run_id}")

    # The sync is slow (page delay): the row must already be there, and running.
    early = client.get(f"/api/admin/sync-runs/{run_id}", headers=_auth())
    assert early.status_code == 200, early.text
    assert early.json()["status"] == "running"
    assert early.json()["triggered_by"] == "api"
    assert early.json()["finished_at"] is None

    _wait(app, run_id)
    done = client.get(body["status_url"], headers=_auth()).json()
    assert done["status"] == "succeeded"
    assert done["params"] == {"force": False, "client_id": None, "platform": None}
    assert done["finished_at"] is not None
    assert done["summary"]["due"] == 1 and done["summary"]["synced"] == 1
    assert done["summary"]["results"][0]["data_types_synced"]["orders"]["new"] == 60
    assert [r["credential_id"] for r in done["results"]] == [cred]
    assert done["results"][0]["records_stored"] == 70
    assert len(data_rows(direct(settings), client_id)) == 70
    assert [r["sync_triggered_by"] for r in results(settings, cred)] == ["api"]


def test_filters_and_force_reach_the_engine(settings):
    client_a, cred_a = add(settings)
    _, cred_b = add(settings)
    client, app = _client(settings)

    first = client.post("/api/admin/trigger-api-sync", params={"client_id_filter": client_a.upper(),
                                                              "platform_filter": "shopify"}, headers=_auth())
    assert first.status_code == 202, first.text
    _wait(app, first.json()["run_id"])
    run = client.get(f"/api/admin/sync-runs/{first.json()['run_id']}", headers=_auth()).json()
    assert run["params"] == {"force": False, "client_id": client_a, "platform": "shopify"}
    assert [r["credential_id"] for r in run["results"]] == [cred_a]

    # Client A is no longer due: only force syncs it again.
    not_due = client.post("/api/admin/trigger-api-sync", params={"client_id_filter": client_a}, headers=_auth())
    _wait(app, not_due.json()["run_id"])
    run = client.get(f"/api/admin/sync-runs/{not_due.json()['run_id']}", headers=_auth()).json()
    assert run["status"] == "succeeded" and run["summary"]["due"] == 0 and run["results"] == []

    forced = client.post("/api/admin/trigger-api-sync?force_sync=true&client_id_filter=" + client_a,
                         headers=_auth())
    _wait(app, forced.json()["run_id"])
    run = client.get(f"/api/admin/sync-runs/{forced.json()['run_id']}", headers=_auth()).json()
    assert run["params"]["force"] is True
    assert [r["credential_id"] for r in run["results"]] == [cred_a]
    assert results(settings, cred_b) == []

    # The other platform: nothing of this client's to do.
    amazon = client.post("/api/admin/trigger-api-sync?force_sync=1&platform_filter=amazon", headers=_auth())
    _wait(app, amazon.json()["run_id"])
    run = client.get(f"/api/admin/sync-runs/{amazon.json()['run_id']}", headers=_auth()).json()
    assert run["summary"]["due"] == 0


def test_failed_integration_makes_the_run_partial(settings):
    add(settings, domain="bad.myshopify.com")
    add(settings, domain="good.myshopify.com")
    shops = {"bad.myshopify.com": FakeShop.generate(reject_token=True)}
    client, app = _client(settings, shops)
    run_id = client.post("/api/admin/trigger-api-sync", headers=_auth()).json()["run_id"]
    _wait(app, run_id)
    run = client.get(f"/api/admin/sync-runs/{run_id}", headers=_auth()).json()
    assert run["status"] == "partial"
    assert sorted(r["success"] for r in run["results"]) == [False, True]
    failed = next(r for r in run["results"] if not r["success"])
    assert "rejected the access token" in failed["error_message"]


def test_unknown_and_malformed_run_ids(settings):
    client, _ = _client(settings)
    missing = client.get(f"/api/admin/sync-runs/{uuid.uuid4()}", headers=_auth())
    assert missing.status_code == 404
    assert "no sync run" in missing.json()["detail"]
    assert client.get("/api/admin/sync-runs/not-a-uuid", headers=_auth()).status_code == 422


# -- a run that cannot go on at all -----------------------------------------------------------------------
class _BrokenEngine:
    def run(self, params, *, run_id=None):
        raise RuntimeError("database went away")


def test_engine_crash_marks_the_run_failed(tmp_path):
    settings = _settings("sqlite", tmp_path)
    app = create_app(settings, engine_factory=_BrokenEngine)
    client = TestClient(app)
    run_id = client.post("/api/admin/trigger-api-sync", headers=_auth()).json()["run_id"]
    _wait(app, run_id)
    run = client.get(f"/api/admin/sync-runs/{run_id}", headers=_auth()).json()
    assert run["status"] == "failed"
    assert run["summary"]["error"] == "the run stopped: RuntimeError"


# -- authentication and parameters (SQLite only: no sync needed) ------------------------------------------
@pytest.fixture
def api(tmp_path):
    settings = _settings("sqlite", tmp_path)
    client, app = _client(settings)
    return client


def test_healthz_needs_no_token(api):
    assert api.get("/healthz").status_code == 200
    assert api.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic " + TOKEN},
    {"Authorization": "Bearer wrong-token"},
    {"Authorization": f"Bearer {TOKEN}x"},
    {"Authorization": f"Bearer {TOKEN[:-1]}"},
])
def test_missing_or_wrong_token_is_401(api, headers):
    for response in (api.post("/api/admin/trigger-api-sync", headers=headers),
                     api.get(f"/api/admin/sync-runs/{uuid.uuid4()}", headers=headers)):
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in response.text


def test_bearer_scheme_is_case_insensitive(api):
    response = api.post("/api/admin/trigger-api-sync", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 202


def test_admin_jwt_is_accepted(api):
    response = api.post("/api/admin/trigger-api-sync", headers=_auth(_jwt()))
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    assert api.get(f"/api/admin/sync-runs/{run_id}", headers=_auth(_jwt())).status_code == 200


@pytest.mark.parametrize("token", [
    _jwt(role=None),
    _jwt(role="member"),
    _jwt(role=None, user_metadata={"role": "admin"}),  # user_metadata is editable by the user: never trusted
])
def test_jwt_without_admin_role_is_403(api, token):
    response = api.post("/api/admin/trigger-api-sync", headers=_auth(token))
    assert response.status_code == 403, response.text


@pytest.mark.parametrize("token", [
    _jwt(exp_in=-3600),
    _jwt(aud="anon"),
    _jwt(secret="another-secret-entirely-" + "x" * 16),
    jwt.encode({"aud": "authenticated", "app_metadata": {"role": "admin"}}, JWT_SECRET, algorithm="HS256"),  # no exp
    "a.b.c",
])
def test_invalid_jwt_is_401(api, token):
    response = api.post("/api/admin/trigger-api-sync", headers=_auth(token))
    assert response.status_code == 401, response.text


def test_jwt_refused_when_no_jwt_secret_is_configured(tmp_path):
    settings = _settings("sqlite", tmp_path, SUPABASE_JWT_SECRET=None)
    client, _ = _client(settings)
    assert client.post("/api/admin/trigger-api-sync", headers=_auth(_jwt())).status_code == 401
    assert client.post("/api/admin/trigger-api-sync", headers=_auth()).status_code == 202


def test_no_admin_token_configured_refuses_everything(tmp_path):
    settings = _settings("sqlite", tmp_path, ADMIN_API_TOKEN=None)
    client, _ = _client(settings)
    for headers in ({}, _auth(), _auth(_jwt())):
        response = client.post("/api/admin/trigger-api-sync", headers=headers)
        assert response.status_code == 503
        assert "ADMIN_API_TOKEN" in response.json()["detail"]
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("query", [
    "client_id_filter=not-a-uuid",
    "client_id_filter=1234",
    "platform_filter=ebay",
    "force_sync=maybe",
    "force_sync=2",
])
def test_bad_parameters_are_422(api, query):
    response = api.post(f"/api/admin/trigger-api-sync?{query}", headers=_auth())
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], str)


def test_bad_parameters_checked_after_auth(api):
    assert api.post("/api/admin/trigger-api-sync?platform_filter=ebay").status_code == 401


@pytest.mark.parametrize("query", ["", "force_sync=", "client_id_filter=&platform_filter=", "force_sync=FALSE",
                                   "force_sync=yes&platform_filter=Shopify"])
def test_empty_and_spelled_out_parameters_are_accepted(api, query):
    assert api.post(f"/api/admin/trigger-api-sync?{query}", headers=_auth()).status_code == 202


# -- the server as an operator starts it ------------------------------------------------------------------
def test_python_app_py_serves_on_port(tmp_path):
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SQLITE_PATH", "SUPABASE"))}
    env.update({"ADMIN_API_TOKEN": TOKEN, "SQLITE_PATH": str(tmp_path / "api.db"), "LOG_DIR": str(tmp_path / "logs"),
                "PORT": str(port), "HOST": "127.0.0.1"})
    server = subprocess.Popen([sys.executable, str(root / "app.py")], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        assert httpx.post(f"{base}/api/admin/trigger-api-sync").status_code == 401
        queued = httpx.post(f"{base}/api/admin/trigger-api-sync", headers=_auth(), timeout=10)
        assert queued.status_code == 202
        assert queued.json()["status_url"].startswith(base)
        for _ in range(100):
            run = httpx.get(queued.json()["status_url"], headers=_auth(), timeout=10).json()
            if run["status"] != "running":
                break
            time.sleep(0.1)
        assert run["status"] == "succeeded" and run["triggered_by"] == "api"
    finally:
        server.terminate()
        server.wait(10)
    log = (tmp_path / "logs" / "admin_api.log").read_text()
    assert "Sync run" in log and "triggered by api" in log and TOKEN not in log
