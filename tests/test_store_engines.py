"""The store's contract on both engines: SQLite (the embedded default) and a real
PostgreSQL 15 (tests/postgres.py). Same rows in, same rows out; the schemas match column
for column; migrations are versioned and idempotent; the outbox claim keeps two instances
off the same row; the password never shows in an error."""

from __future__ import annotations

import datetime as dt
import sqlite3
from functools import partial

import psycopg
import pytest

from monitor.checking.heartbeats import Pings, load_pings, save_pings
from monitor.checking.state import State, Transition
from monitor.errors import StoreError
from monitor.incidents import silences
from monitor.incidents.model import Incident, Kind, Status
from monitor.reporting import latency
from monitor.reporting.rollup import check_uptime, prune, roll_up
from monitor.store import postgresql
from monitor.store import sqlite as sqlite_engine
from monitor.store.copy import TABLES, columns, tables
from monitor.store.engine import Store, migrate, open_connection, schema_version
from monitor.store.records import (
    CLAIM,
    add_transitions,
    add_update,
    due_messages,
    enqueue,
    get_incident,
    incident_events,
    incident_updates,
    insert_incident,
    mark_retry,
    mark_sent,
    mark_step,
    next_due,
    open_incidents,
    outbox_rows,
    paged_recipients,
    release,
    save_incident,
    steps_done,
    use_token,
)

NOW = 1_800_000_000.0
UTC = dt.UTC


def row(key: str, due: float = NOW, incident_id: int | None = 1) -> dict[str, object]:
    return {"key": key, "incident_id": incident_id, "kind": "page", "recipient": "budi",
            "title": "GANGGUAN: portal", "body": "portal down", "sms_title": None,
            "sms_body": None, "created_at": NOW, "due_at": due}


@pytest.fixture
def store(tmp_path, store_url):
    s = Store(tmp_path, url=store_url)
    yield s
    s.close()


def test_an_incident_round_trips_with_its_events_steps_and_updates(store):
    inc = Incident(0, "portal", "Layanan", "Portal", Status.OPEN, "status 503", NOW,
                   Kind.DOWN, {"api": "down"}, suppressed="maintenance")
    first = store.call(insert_incident, inc)
    second = store.call(insert_incident, Incident(0, "api", "Layanan", "API", Status.OPEN,
                                                  "timeout", NOW + 1, Kind.DOWN, {}))
    assert (first, second) == (1, 2)
    inc.status, inc.acked_at, inc.acked_by, inc.announced = Status.ACKNOWLEDGED, NOW + 60, "budi", (
        "api",)
    store.call(save_incident, inc)
    got = store.call(get_incident, first)
    assert got is not None
    assert (got.status, got.acked_by, got.affected, got.announced, got.suppressed) == (
        Status.ACKNOWLEDGED, "budi", {"api": "down"}, ("api",), "maintenance")
    assert [i.id for i in store.call(open_incidents)] == [1, 2]
    assert [e["kind"] for e in store.call(incident_events, first)] == ["opened", "suppressed"]
    store.call(mark_step, first, "0", NOW)
    store.call(mark_step, first, "0", NOW + 5)  # a step is marked once
    assert store.call(steps_done, first) == {"0": NOW}
    update = store.call(add_update, first, NOW + 90, "identified", {"id": "Kabel putus"},
                        "sari")
    assert update["id"] == 1
    assert store.call(incident_updates, [first, second]) == {
        first: [{"at": NOW + 90, "status": "identified", "messages": {"id": "Kabel putus"}}],
        second: []}


def test_the_outbox_skips_a_key_it_has_and_sends_each_row_once(store):
    assert store.call(enqueue, [row("inc-1/0/budi"), row("inc-1/0/sari")]) == 2
    assert store.call(enqueue, [row("inc-1/0/budi"), row("inc-1/1/kasi", due=NOW + 30)]) == 1
    due = store.call(due_messages, NOW)
    assert [r.key for r in due] == ["inc-1/0/budi", "inc-1/0/sari"]
    store.call(mark_sent, due[0].id, NOW + 1, "chan")
    store.call(mark_retry, due[1].id, NOW + 2, "connection refused", 0, 1)
    assert store.call(next_due) == NOW + 2
    assert [r.key for r in store.call(due_messages, NOW + 2)] == ["inc-1/0/sari"]
    statuses = {r["key"]: r["status"] for r in store.call(outbox_rows)}
    assert statuses == {"inc-1/0/budi": "sent", "inc-1/0/sari": "pending",
                        "inc-1/1/kasi": "pending"}
    assert store.call(paged_recipients, 1) == {"budi"}


def test_an_ack_token_is_used_once(store):
    assert store.call(use_token, "tok-1", NOW) is True
    assert store.call(use_token, "tok-1", NOW + 1) is False


def test_silences_are_added_listed_and_removed(store):
    one = store.call(silences.add, "portal", "budi", "upgrade", NOW, NOW + 3600)
    two = store.call(silences.add, "group:Keuangan", "sari", "audit", NOW, NOW + 60)
    assert (one.id, two.id) == (1, 2)
    assert store.call(silences.remove, one.id, NOW + 1) is True
    assert store.call(silences.remove, one.id, NOW + 2) is False
    assert [s.target for s in store.call(silences.current, NOW + 3)] == ["group:Keuangan"]


def test_heartbeat_pings_are_replaced_whole(store):
    store.call(save_pings, "backup", Pings(last_ping=NOW, last_exit_code=0))
    store.call(save_pings, "backup", Pings(last_fail=NOW + 5, last_fail_message="disk full"))
    assert store.call(load_pings) == {
        "backup": Pings(last_fail=NOW + 5, last_fail_message="disk full")}


def test_latency_hours_add_up_and_keep_the_worst(store):
    store.call(latency.write, {("portal", NOW): [2, 0.4, 0.3]}, NOW)
    store.call(latency.write, {("portal", NOW): [1, 0.1, 0.1]}, NOW)
    store.call(latency.write, {("portal", NOW): [1, 0.9, 0.9]}, NOW)
    [(hour, mean, worst)] = store.call(latency.hourly, ["portal"], NOW - 1)["portal"]
    assert (hour, round(mean, 6), worst) == (NOW, round(1.4 / 4, 6), 0.9)


def test_rollups_survive_pruning_with_the_same_uptime(store):
    start = dt.datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    store.call(add_transitions, [
        Transition("portal", State.UNKNOWN, State.UP, "", start),
        Transition("portal", State.UP, State.DOWN, "status 503", start + 86400 + 3600),
        Transition("portal", State.DOWN, State.UP, "ok", start + 86400 + 7200)])
    now = start + 60 * 86400
    before = store.call(check_uptime, "portal", start, start + 3 * 86400, now)
    assert store.call(roll_up, now, UTC) > 0
    assert store.call(roll_up, now, UTC) == 0  # rolled up once
    assert store.call(partial(prune, raw_days=10), now, UTC) == 2
    after = store.call(check_uptime, "portal", start, start + 3 * 86400, now)
    assert (after.up, after.down) == (before.up, before.down) == (3 * 86400 - 3600, 3600)


def test_both_engines_have_the_same_tables_and_columns(tmp_path, postgres):
    lite = open_connection("sqlite", tmp_path)
    pg = open_connection(postgres.url(postgres.database()), tmp_path)
    try:
        assert tables(lite) == tables(pg) == set(TABLES)
        for table in TABLES:
            assert columns(lite, table) == columns(pg, table), table
        assert schema_version(lite) == schema_version(pg) == len(sqlite_engine.MIGRATIONS)
        assert len(sqlite_engine.MIGRATIONS) == len(postgresql.MIGRATIONS)
    finally:
        lite.close()
        pg.close()


def test_migrating_postgresql_twice_changes_nothing(tmp_path, postgres):
    name = postgres.database()
    conn = open_connection(postgres.url(name), tmp_path, migrate=False)
    try:
        assert schema_version(conn) == 0
        assert migrate(conn) == migrate(conn) == len(postgresql.MIGRATIONS)
        assert postgres.query(name, "SELECT version FROM schema_version") == [
            (len(postgresql.MIGRATIONS),)]
    finally:
        conn.close()
    Store(tmp_path, url=postgres.url(name)).close()  # a daemon starting on it: no change
    assert postgres.query(name, "SELECT COUNT(*) FROM schema_version") == [(1,)]


def test_a_store_newer_than_this_siaga_is_refused(tmp_path, postgres):
    name = postgres.database()
    Store(tmp_path, url=postgres.url(name)).close()
    postgres.query(name, "UPDATE schema_version SET version = 99 RETURNING version")
    with pytest.raises(StoreError, match="v99 is newer"):
        Store(tmp_path, url=postgres.url(name))


def test_a_claimed_outbox_row_is_not_taken_by_a_second_instance(tmp_path, postgres):
    url = postgres.url(postgres.database())
    a, b = Store(tmp_path / "a", url=url), Store(tmp_path / "b", url=url)
    try:
        a.call(enqueue, [row("k1"), row("k2")])
        assert [r.key for r in a.call(due_messages, NOW, 1, "a")] == ["k1"]
        assert [r.key for r in b.call(due_messages, NOW, 100, "b")] == ["k2"]
        assert b.call(due_messages, NOW, 100, "b") == []
        assert b.call(next_due) == NOW + CLAIM  # not before the claims run out
        # a row another transaction is picking right now is skipped, not waited for
        a.call(enqueue, [row("k3"), row("k4")])
        with psycopg.connect(url, autocommit=False) as holder:
            holder.execute("SELECT id FROM outbox WHERE key = 'k3' FOR UPDATE")
            assert [r.key for r in b.call(due_messages, NOW, 100, "b")] == ["k4"]
            holder.rollback()
        assert [r.key for r in b.call(due_messages, NOW, 100, "b")] == ["k3"]
        # an instance restarting after a crash takes back its own claims at once ...
        assert a.call(release, "a") == 1
        assert [r.key for r in a.call(due_messages, NOW, 100, "a")] == ["k1"]
        # ... and a claim left by a dead instance runs out
        assert [r.key for r in a.call(due_messages, NOW + 61, 100, "a")] == [
            "k1", "k2", "k3", "k4"]
    finally:
        a.close()
        b.close()


def test_the_store_keeps_working_after_postgresql_drops_its_connection(tmp_path, postgres):
    name = postgres.database()
    store = Store(tmp_path, url=postgres.url(name))
    try:
        store.call(enqueue, [row("k1")])
        postgres.query("postgres", f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       f"WHERE datname = '{name}' AND application_name = 'siaga'")
        with pytest.raises(StoreError):
            store.call(next_due)
        assert store.call(next_due) == NOW  # reconnected
    finally:
        store.close()


def test_the_password_is_never_in_a_store_error(tmp_path, postgres):
    wrong = "wrong-" + postgres.password[::-1]
    with pytest.raises(StoreError) as refused:
        Store(tmp_path, url=postgres.url(postgres.database(), password=wrong))
    assert "password authentication failed" in str(refused.value)
    assert wrong not in str(refused.value) and "***" in str(refused.value)
    store = Store(tmp_path, url=postgres.url(postgres.database()))
    try:
        with pytest.raises(StoreError) as broken:
            store.call(lambda conn: conn.execute("SELECT * FROM no_such_table"))
        assert "no_such_table" in str(broken.value)
        assert postgres.password not in f"{broken.value} {store.last_error} {store.where}"
    finally:
        store.close()


def test_sqlite_errors_still_say_what_failed(tmp_path):
    store = Store(tmp_path)
    try:
        with pytest.raises(StoreError) as broken:
            store.call(lambda conn: conn.execute("SELECT * FROM no_such_table"))
        assert "no such table" in str(broken.value)
        assert isinstance(broken.value.__cause__, sqlite3.Error)
    finally:
        store.close()
