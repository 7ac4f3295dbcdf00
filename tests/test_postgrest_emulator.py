"""The PostgREST emulator answers as PostgREST documents (functions as RPC, errors and their HTTP statuses,
table reads), so that the Supabase REST store's tests mean something."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from postgrest.exceptions import APIError

from emulators.postgrest import PostgrestEmulator

FIXTURE_SQL = """
CREATE TABLE items (id integer PRIMARY KEY, name text, tag text, price numeric);
INSERT INTO items VALUES (1, 'mug', 'a', 5), (2, 'cup', NULL, 3), (3, 'bowl', 'b', 9);
CREATE FUNCTION add_them(a integer, b integer DEFAULT 10) RETURNS integer LANGUAGE sql AS 'SELECT a + b';
CREATE FUNCTION echo_json(p jsonb, ids uuid[], at timestamptz) RETURNS jsonb LANGUAGE sql
    AS $$ SELECT jsonb_build_object('p', p, 'n', cardinality(ids), 'at', at) $$;
CREATE FUNCTION cheap_items(max_price numeric) RETURNS SETOF items LANGUAGE sql
    AS 'SELECT * FROM items WHERE price <= max_price ORDER BY id';
CREATE FUNCTION one_item(item_id integer) RETURNS items LANGUAGE sql AS 'SELECT * FROM items WHERE id = item_id';
CREATE FUNCTION nothing() RETURNS void LANGUAGE sql AS '';
CREATE FUNCTION fail_after_insert() RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO items VALUES (99, 'ghost', NULL, 0);
    RAISE EXCEPTION 'nope' USING DETAIL = 'some detail', HINT = 'some hint';
END $$;
CREATE FUNCTION pay_up() RETURNS integer LANGUAGE plpgsql AS $$
BEGIN RAISE SQLSTATE 'PT402' USING MESSAGE = 'Payment Required'; END $$;
CREATE FUNCTION dup() RETURNS integer LANGUAGE sql AS 'INSERT INTO items VALUES (1, ''again'', NULL, 1) RETURNING id';
"""


@pytest.fixture
def emu(fresh_pg_dsn):
    with psycopg.connect(fresh_pg_dsn, autocommit=True) as conn:
        conn.execute(FIXTURE_SQL)
    with PostgrestEmulator(fresh_pg_dsn, keys={SERVICE: None}) as server:
        yield server


SERVICE = "eyJhbGciOiJIUzI1NiJ9.e30.service"  # JWT-shaped, like a legacy service_role key


def _post(emu, fn, body, key=SERVICE):
    return httpx.post(f"{emu.url}/rest/v1/rpc/{fn}", json=body, headers={"apikey": key, "Authorization": f"Bearer {key}"})


def _get(emu, path, key=SERVICE):
    return httpx.get(f"{emu.url}/rest/v1/{path}", headers={"apikey": key})


def test_rpc_named_arguments_defaults_and_return_shapes(emu):
    assert _post(emu, "add_them", {"a": 1, "b": 2}).json() == 3
    assert _post(emu, "add_them", {"a": 1}).json() == 11
    answer = _post(emu, "echo_json", {"p": {"x": [1]}, "ids": ["5f0e7e0a-8c2e-4b8e-9d3a-0c0f6d0c1a11"],
                                      "at": "2026-01-01T00:00:00Z"})
    assert answer.json() == {"p": {"x": [1]}, "n": 1, "at": "2026-01-01T00:00:00+00:00"}
    assert [r["name"] for r in _post(emu, "cheap_items", {"max_price": 5}).json()] == ["mug", "cup"]
    assert _post(emu, "cheap_items", {"max_price": 0}).json() == []
    assert _post(emu, "one_item", {"item_id": 3}).json() == {"id": 3, "name": "bowl", "tag": "b", "price": 9}
    assert _post(emu, "nothing", {}).status_code == 204


def test_errors_have_postgrest_statuses_and_bodies(emu):
    answer = _post(emu, "no_such_function", {"a": 1})
    assert answer.status_code == 404 and answer.json()["code"] == "PGRST202"
    answer = _post(emu, "add_them", {"x": 1})
    assert answer.status_code == 404 and answer.json()["code"] == "PGRST202"
    assert "add_them(a, b)" in answer.json()["hint"]
    answer = _post(emu, "fail_after_insert", {})
    assert answer.status_code == 400
    assert answer.json() == {"code": "P0001", "message": "nope", "details": "some detail", "hint": "some hint"}
    assert _get(emu, "items?id=eq.99").json() == []  # the request's transaction was rolled back
    answer = _post(emu, "pay_up", {})
    assert answer.status_code == 402 and answer.json()["message"] == "Payment Required"
    answer = _post(emu, "dup", {})
    assert answer.status_code == 409 and answer.json()["code"] == "23505"
    answer = _post(emu, "add_them", {"a": "not a number"})
    assert answer.status_code == 400 and answer.json()["code"] == "22P02"


def test_keys_are_checked_like_the_gateway_and_postgrest(emu):
    assert httpx.post(f"{emu.url}/rest/v1/rpc/add_them", json={"a": 1}).status_code == 401
    answer = _post(emu, "add_them", {"a": 1}, key="wrong")
    assert answer.status_code == 401 and answer.json()["message"] == "Invalid API key"
    answer = httpx.post(f"{emu.url}/rest/v1/rpc/add_them", json={"a": 1},
                        headers={"apikey": SERVICE, "Authorization": "Bearer a.forged.jwt"})
    assert answer.status_code == 401 and answer.json()["code"] == "PGRST301"
    answer = httpx.post(f"{emu.url}/rest/v1/rpc/add_them", json={"a": 1},
                        headers={"apikey": SERVICE, "Authorization": "Bearer sb_secret_abc"})
    assert answer.status_code == 401 and answer.json()["message"] == "Expected 3 parts in JWT; got 1"
    answer = httpx.post(f"{emu.url}/rest/v1/rpc/add_them", json={"a": 1}, headers={"apikey": SERVICE})
    assert answer.status_code == 200


def test_table_reads_filter_order_and_select(emu):
    assert _get(emu, "items?select=name&order=id.desc").json() == [{"name": "bowl"}, {"name": "cup"}, {"name": "mug"}]
    assert _get(emu, "items?select=id&tag=is.null").json() == [{"id": 2}]
    assert _get(emu, "items?select=id&id=in.(1,3)&order=id").json() == [{"id": 1}, {"id": 3}]
    assert _get(emu, "items?select=id&price=gte.5&order=price.desc").json() == [{"id": 3}, {"id": 1}]
    assert _get(emu, "items?select=id&name=eq.cup").json() == [{"id": 2}]
    answer = _get(emu, "items?select=nope")
    assert answer.status_code == 400 and answer.json()["code"] == "42703"
    answer = _get(emu, "no_table")
    assert answer.status_code == 404 and answer.json()["code"] == "PGRST205"


def test_supabase_py_talks_to_it(emu):
    from supabase import create_client

    client = create_client(emu.url, SERVICE)
    assert client.rpc("add_them", {"a": 2, "b": 3}).execute().data == 5
    rows = client.table("items").select("id,name").eq("tag", "a").execute().data
    assert rows == [{"id": 1, "name": "mug"}]
    with pytest.raises(APIError) as err:
        client.rpc("fail_after_insert", {}).execute()
    assert err.value.code == "P0001" and err.value.hint == "some hint"
