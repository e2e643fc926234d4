"""PostgreSQL as the store, as an operator meets it: `siaga.store` in checks.yaml (validated,
the password from ${PG_PASSWORD}), `siaga migrate`, `siaga store copy` of a state
directory a real daemon wrote, and a daemon that loses its database connection without
ever showing the password (logs, /healthz, /metrics, store errors)."""

from __future__ import annotations

import logging
import os
import sqlite3

import aiohttp
import psycopg
import pytest

from monitor.cli import main
from monitor.config.loader import parse_config
from monitor.errors import ConfigError, StoreError
from monitor.incidents.model import Incident, Kind, Status
from monitor.store.copy import TABLES
from monitor.store.engine import Store
from monitor.store.records import insert_incident, next_due
from monitor.store.sqlite import MIGRATIONS
from tests.daemons import start, until
from tests.postgres import PASSWORD_ENV

pytestmark = pytest.mark.slow


def settings_yaml(store: str, state) -> str:
    return (f'siaga: {{listen: "127.0.0.1:0", state_dir: "{state}", language: en, '
            f'store: "{store}"}}\n'
            "checks: [{name: portal, tcp: {host: 127.0.0.1, port: 9}}]\n")


def problems(text: str, env: dict[str, str]) -> list[str]:
    """Each problem as `LINE:COL: path: message`; the place of `store:`'s value reads `@`."""
    with pytest.raises(ConfigError) as refused:
        parse_config(text, "checks.yaml", env=env)
    at = f"1:{text.index('store: ') + len('store: ') + 1}"
    return [f"{p.line}:{p.column}: {p.path}: {p.message}".replace(at, "@", 1)
            for p in refused.value.problems]


def test_a_password_written_in_the_file_is_refused_without_echoing_it(tmp_path):
    found = problems(settings_yaml("postgresql://siaga:hunter22@db.example:5432/siaga",
                                   tmp_path), {})
    assert found == ["@: siaga.store: the password must come from the environment: write "
                     "postgresql://USER:${PG_PASSWORD}@HOST/DB, not the password itself"]
    assert "hunter22" not in found[0]


def test_the_store_mistakes_are_told_in_indonesian_too(tmp_path, capsys):
    path = tmp_path / "checks.yaml"
    path.write_text(settings_yaml("postgresql://siaga:hunter22@db:5432/siaga", tmp_path)
                    .replace("language: en", "language: id"))
    assert main(["validate", "-c", str(path)]) == 2
    said = capsys.readouterr().err
    assert "kata sandi harus dari environment: tulis postgresql://USER:${PG_PASSWORD}" in said
    assert "hunter22" not in said


@pytest.mark.parametrize(("store", "message"), [
    ("mysql://siaga@db:3306/siaga", "expected sqlite or a URL like postgresql://"),
    ("postgresql://siaga@db:5432/", "expected a database name"),
    ("postgresql://siaga@db:99999/siaga", "port 1–65535"),
    ("postgresql://db:5432/siaga", "expected a user name"),
    ("postgresql://siaga:${PG_PASSWORD}@db/siaga", "environment variable ${PG_PASSWORD} is "
                                                   "not set"),
])
def test_a_wrong_store_url_is_reported_at_its_place(tmp_path, store, message):
    [found] = problems(settings_yaml(store, tmp_path), {})
    assert found.startswith("@: siaga.store: ") and message in found, found


def test_the_password_from_the_environment_is_a_secret_never_in_a_repr(tmp_path):
    config = parse_config(settings_yaml("postgresql://siaga:${PG_PASSWORD}@db:5432/siaga",
                                        tmp_path), "checks.yaml", env={PASSWORD_ENV: "s3cret-pw"})
    assert config.settings.store == "postgresql://siaga:s3cret-pw@db:5432/siaga"
    assert "s3cret-pw" in config.secrets  # what the log filter redacts
    assert "s3cret-pw" not in repr(config.settings)
    assert parse_config(settings_yaml("sqlite", tmp_path), "x").settings.store == "sqlite"


def write_config(tmp_path, store: str):
    path = tmp_path / "checks.yaml"
    path.write_text(settings_yaml(store, tmp_path / "state"))
    return str(path)


def test_migrate_says_from_and_to_and_a_second_run_changes_nothing(tmp_path, store_setting,
                                                                   capsys):
    path = write_config(tmp_path, store_setting)
    assert main(["-c", path, "migrate"]) == 0
    first = capsys.readouterr().out
    assert main(["-c", path, "migrate"]) == 0
    second = capsys.readouterr().out
    newest = len(MIGRATIONS)
    assert first.strip().endswith(f"schema v0 → v{newest}"), first
    assert second.strip().endswith(f"schema already at v{newest}, nothing to migrate"), second
    if store_setting != "sqlite":
        assert os.environ[PASSWORD_ENV] not in first + second and ":***@" in first


def test_migrate_without_rights_on_the_schema_says_why(tmp_path, postgres, monkeypatch,
                                                       capsys):
    database = postgres.database()
    postgres.query(database, "CREATE ROLE siaga_ro LOGIN PASSWORD 'ro-password-1'")
    monkeypatch.setenv(PASSWORD_ENV, "ro-password-1")
    url = f"postgresql://siaga_ro:${{{PASSWORD_ENV}}}@127.0.0.1:{postgres.port}/{database}"
    path = write_config(tmp_path, url)
    assert main(["-c", path, "migrate"]) == 1
    said = capsys.readouterr().err
    assert "cannot migrate the store: permission denied for schema public" in said, said
    assert main(["-c", path, "report"]) == 1  # nothing migrated: nothing to report from
    said = capsys.readouterr().err
    assert "has `siaga run` or `siaga migrate` run on it?" in said, said
    assert "ro-password-1" not in said


DOWN_AND_BACK = """
siaga: {{listen: "127.0.0.1:0", state_dir: "{state}", store: "{store}"}}
defaults: {{interval: 200ms, timeout: 150ms, fail_after: 2, recover_after: 2}}
checks:
  - {{name: portal, title: Portal Layanan, http: {{url: "{url}"}}}}
oncall:
  officers: {{budi: {{notify: ["{budi}"]}}}}
  rotations: [{{name: piket, every: 1d, officers: [budi]}}]
  escalation: {{default: {{steps: [{{notify: on_duty}}]}}}}
"""


async def outage_history(tmp_path, targets, json_receiver, store: str = "sqlite"):
    """A daemon that saw the portal go down, paged budi and saw it come back."""
    daemon = await start(tmp_path, DOWN_AND_BACK.format(
        state=tmp_path / "state", store=store, url=targets.url("health"),
        budi=json_receiver.url("/budi")))
    try:
        targets.status["health"] = 503
        await json_receiver.wait_for(1, timeout=10)
        targets.status["health"] = 200
        await json_receiver.wait_for(2, timeout=10)
        await until(lambda: not daemon.pager.incidents, 5, "the incident resolved")
    finally:
        await daemon.stop()


def sqlite_rows(state, table: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(state / "siaga.db")
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
    finally:
        conn.close()


async def test_store_copy_moves_a_daemons_sqlite_history_to_postgresql_ids_and_all(
        tmp_path, targets, json_receiver, postgres, monkeypatch, capsys):
    await outage_history(tmp_path, targets, json_receiver)
    database = postgres.database()
    monkeypatch.setenv(PASSWORD_ENV, postgres.password)
    path = write_config(tmp_path, postgres.config_url(database))
    state = tmp_path / "state"
    assert main(["-c", path, "store", "copy", "--from", f"sqlite:{state}"]) == 0
    said = capsys.readouterr().out
    assert "row counts match, ids kept" in said and postgres.password not in said
    for table in TABLES:
        assert postgres.query(database, f"SELECT * FROM {table} ORDER BY 1, 2") == \
            sqlite_rows(state, table), table
    assert sqlite_rows(state, "incidents") and sqlite_rows(state, "outbox")

    # the sequences continue after the copied ids
    store = Store(tmp_path / "pg-state", url=postgres.url(database))
    try:
        new = store.call(insert_incident, Incident(0, "x", "g", "X", Status.OPEN, "down",
                                                   1.0, Kind.DOWN, {}))
    finally:
        store.close()
    assert new == len(sqlite_rows(state, "incidents")) + 1

    assert main(["-c", path, "store", "copy", "--from", f"sqlite:{state}"]) == 1
    assert "the target store is not empty" in capsys.readouterr().err
    assert main(["-c", path, "store", "copy", "--from", f"sqlite:{state}", "--force"]) == 0
    assert postgres.query(database, "SELECT COUNT(*) FROM incidents") == [
        (len(sqlite_rows(state, "incidents")),)]


async def test_a_daemon_on_postgresql_pages_and_resolves_with_its_history_in_the_database(
        tmp_path, targets, json_receiver, postgres, monkeypatch):
    database = postgres.database()
    monkeypatch.setenv(PASSWORD_ENV, postgres.password)
    await outage_history(tmp_path, targets, json_receiver, postgres.config_url(database))
    assert [p.path for p in json_receiver.posts] == ["/budi", "/budi"]
    assert postgres.query(database, "SELECT status FROM incidents") == [("resolved",)]
    assert postgres.query(database, "SELECT kind, status FROM outbox ORDER BY id") == [
        ("page", "sent"), ("resolved", "sent")]
    assert not (tmp_path / "state" / "siaga.db").exists()


async def test_reports_and_the_static_status_page_read_postgresql(
        tmp_path, targets, json_receiver, postgres, monkeypatch, capsys):
    database = postgres.database()
    monkeypatch.setenv(PASSWORD_ENV, postgres.password)
    await outage_history(tmp_path, targets, json_receiver, postgres.config_url(database))
    path = tmp_path / "checks.yaml"  # the file the daemon ran on
    assert main(["-c", str(path), "report", "--format", "csv"]) == 0
    report = capsys.readouterr().out
    assert "portal" in report and ",1," in report  # one incident
    assert main(["-c", str(path), "status-export", str(tmp_path / "site")]) == 0
    assert (tmp_path / "site" / "index.html").exists()


@pytest.mark.logs_exceptions  # the pager logs the store error it survives
async def test_a_lost_database_connection_never_shows_the_password(
        tmp_path, postgres, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    database = postgres.database()
    password = "pw-only-for-this-test-7f3a"
    postgres.query(database, f"CREATE ROLE siaga_t LOGIN PASSWORD '{password}'")
    postgres.query(database, "GRANT ALL ON SCHEMA public TO siaga_t")
    monkeypatch.setenv(PASSWORD_ENV, password)
    url = f"postgresql://siaga_t:${{{PASSWORD_ENV}}}@127.0.0.1:{postgres.port}/{database}"
    daemon = await start(tmp_path, settings_yaml(url, tmp_path / "state"))
    try:
        # The password changes under the running daemon and its connection drops: the
        # reconnect is refused, and that error names the server it tried.
        postgres.query(database, "ALTER ROLE siaga_t PASSWORD 'another-one'")
        postgres.query(database, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE usename = 'siaga_t'")
        for _ in range(2):
            with pytest.raises(StoreError):
                await daemon.store.run(next_due)
        base = f"http://127.0.0.1:{daemon.server.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/healthz") as r:
                health = await r.text()
            async with http.get(base + "/metrics") as r:
                metrics = await r.text()
        assert "password authentication failed" in health and ":***@" in health, health
        for text in (health, metrics, caplog.text, daemon.store.last_error or ""):
            assert password not in text
        postgres.query(database, f"ALTER ROLE siaga_t PASSWORD '{password}'")
        await until(lambda: _reachable(daemon), 5, "the store reconnected")
    finally:
        await daemon.stop()


def _reachable(daemon) -> bool:
    try:
        daemon.store.call(next_due)
    except StoreError:
        return False
    return True


def test_the_postgres_fixture_is_a_real_server_on_loopback(postgres):
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        listen = conn.execute("SHOW listen_addresses").fetchone()[0]
    assert version.startswith("15") and listen == "127.0.0.1"


def test_without_the_binaries_the_fixture_says_what_to_install(monkeypatch):
    import tests.postgres

    monkeypatch.setattr(tests.postgres, "binaries", lambda: None)
    with pytest.raises(RuntimeError, match=r"install Debian's postgresql-15"):
        tests.postgres.Postgres()
