"""Never silently blind: after every kind of config edit, every check of the live config keeps
being probed, recorded and paged. Each scenario uses the config an operator would write
(interval 1 s, default fail_after/recover_after, no alerting section) and asserts what the
officer and the dashboards see: rising counters, a fresh `last.at`, a page that arrives."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from monitor.checking.engine import Engine
from monitor.checking.heartbeats import Heartbeats, Tokens
from monitor.checking.state import State
from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from monitor.incidents.maintenance import Window
from monitor.probes.base import ProbeContext
from monitor.store.engine import Store
from tests.daemons import start, until

pytestmark = pytest.mark.slow


def config_text(tmp_path, targets, receiver, names: list[str], store: str) -> str:
    checks = "\n".join(
        f"  - {{name: {n}, interval: 1s, timeout: 1s, http: {{url: \"{targets.url(n)}\"}}}}"
        for n in names)
    return f"""
siaga: {{listen: "127.0.0.1:0", state_dir: "{tmp_path / 'state'}", store: "{store}"}}
checks:
{checks}
oncall:
  officers:
    budi: {{notify: ["{receiver.url('/budi')}"]}}
  rotations: [{{name: piket, every: 1d, officers: [budi]}}]
"""


def probes(daemon: Daemon, name: str) -> float:
    value = daemon.registry.get_sample_value(
        "siaga_probes_total", {"check": name, "group": "default", "location": "local",
                               "kind": "http", "outcome": "success"})
    return value or 0.0


async def api_last_at(daemon: Daemon, name: str) -> str:
    url = f"http://127.0.0.1:{daemon.server.port}/api/v1/checks/{name}"
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        assert r.status == 200
        return (await r.json())["last"]["at"]


async def edit(kind: str, daemon: Daemon, tmp_path, targets, receiver, store: str) -> None:
    path = tmp_path / "checks.yaml"
    if kind == "append":
        path.write_text(config_text(tmp_path, targets, receiver, ["a", "b", "c"], store))
    elif kind == "touch":
        later = time.time() + 5
        os.utime(path, (later, later))
    else:  # siaga reload
        url = f"http://127.0.0.1:{daemon.server.port}/api/v1/reload"
        headers = {"Authorization": f"Bearer {daemon.api_token}"}
        async with aiohttp.ClientSession() as s, s.post(url, headers=headers) as r:
            assert r.status == 200, await r.text()


@pytest.mark.parametrize("kind", ["append", "touch", "reload"])
async def test_after_an_edit_unchanged_checks_keep_recording_and_a_failure_is_paged(
        kind, tmp_path, targets, json_receiver, store_setting):
    daemon = await start(tmp_path, config_text(tmp_path, targets, json_receiver, ["a", "b"],
                                               store_setting))
    try:
        await until(lambda: probes(daemon, "a") >= 1 and probes(daemon, "b") >= 1, 3,
                    "first probes")
        before_reload = daemon.config
        await edit(kind, daemon, tmp_path, targets, json_receiver, store_setting)
        await until(lambda: daemon.config is not before_reload, 4, "the edit is applied")
        counted, seen_at = probes(daemon, "a"), await api_last_at(daemon, "a")
        counted_b = probes(daemon, "b")
        await asyncio.sleep(2.5)
        assert probes(daemon, "a") >= counted + 2, "siaga_probes_total of a stopped rising"
        assert probes(daemon, "b") >= counted_b + 2, "siaga_probes_total of b stopped rising"
        assert await api_last_at(daemon, "a") != seen_at, "/api/v1/checks/a froze"
        targets.status["a"] = 503
        # fail_after 3 at 1 s: DOWN within about 3 s, paged at once.
        await until(lambda: daemon.engine.runtime["a"].state.state is State.DOWN, 6,
                    "a goes DOWN")
        pages = await json_receiver.wait_for(1, 3)
        assert pages[0].json["title"].endswith(": a")
    finally:
        await daemon.stop()


# -- one bad item fails only itself -----------------------------------------------------------

def with_sections(config, **sections):
    """The config with sections replaced: items `validate` now refuses, injected to prove the
    run time contains them anyway (defence in depth)."""
    return dataclasses.replace(config, sections={**config.sections, **sections})


def never_firing_window():
    return Window(checks=("archive",), duration=7200.0, cron="0 2 31 4 *")  # 31 April


def admin_config(tmp_path, targets, receiver, store: str, extra: str = "") -> str:
    return f"""
siaga: {{listen: "127.0.0.1:0", state_dir: "{tmp_path / 'state'}", store: "{store}"}}
checks:
  - {{name: portal, interval: 1s, timeout: 1s, http: {{url: "{targets.url('portal')}"}}}}
  - {{name: archive, interval: 1s, timeout: 1s, http: {{url: "{targets.url('archive')}"}}}}
{extra}
oncall:
  officers:
    budi: {{notify: ["{receiver.url('/budi')}"]}}
    admin: {{notify: ["{receiver.url('/admin')}"]}}
  admins: [admin]
  rotations: [{{name: piket, every: 1d, officers: [budi]}}]
"""


async def get_json(daemon: Daemon, path: str) -> tuple[int, dict]:
    url = f"http://127.0.0.1:{daemon.server.port}{path}"
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, await r.json()


async def test_a_window_whose_schedule_cannot_be_computed_fails_only_itself(
        tmp_path, targets, json_receiver, store_setting):
    text = admin_config(tmp_path, targets, json_receiver, store_setting)
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    config = with_sections(parse_config(text, str(path)), maintenance=[never_firing_window()])
    daemon = Daemon(config, registry=CollectorRegistry())
    await daemon.start()
    try:
        targets.status["portal"] = 503
        pages = await json_receiver.wait_for(2, 8)  # the portal's page, the admins' notice
        by_path = {p.path: p.json for p in pages}
        assert by_path["/budi"]["title"].endswith(": portal")
        assert "maintenance[0]" in by_path["/admin"]["message"]
        status, checks = await get_json(daemon, "/api/v1/checks")
        assert status == 200 and {c["name"] for c in checks["checks"]} == {"portal", "archive"}
        status, health = await get_json(daemon, "/healthz")
        assert status == 503 and any("maintenance[0]" in p for p in health["problems"])
        assert daemon.registry.get_sample_value(
            "siaga_broken_items", {"kind": "maintenance"}) == 1
        await asyncio.sleep(2)
        assert len(json_receiver.inbox.items) == 2  # told once, not every second
    finally:
        await daemon.stop()


@pytest.mark.logs_exceptions
def test_a_heartbeat_that_cannot_be_judged_does_not_stop_the_ones_after_it(tmp_path, store_url):
    text = f"""
siaga: {{state_dir: "{tmp_path / 'state'}"}}
checks:
  - {{name: payroll, heartbeat: {{schedule: "0 2 * * *", grace: 1h}}}}
  - {{name: backup, heartbeat: {{every: 1m, grace: 1m}}}}
"""
    config = parse_config(text, str(tmp_path / "checks.yaml"))
    broken = dataclasses.replace(config.by_name["payroll"], spec=dataclasses.replace(
        config.by_name["payroll"].spec, schedule="0 2 30 2 *"))  # 30 February
    config = dataclasses.replace(config, checks=(broken, config.by_name["backup"]))
    now = [1_800_000_000.0]
    engine = Engine(config, ProbeContext(), clock=lambda: now[0])
    store = Store(tmp_path / "state", url=store_url)
    beats = Heartbeats(engine, store, Tokens(tmp_path / "state"), config.settings.tz,
                       clock=lambda: now[0])
    beats.evaluate()
    now[0] += 121  # backup never pinged: one period and its grace have passed
    beats.evaluate()
    assert engine.runtime["backup"].state.state is State.DOWN
    assert ("heartbeat", "payroll") in engine.faults.items
    store.close()


@pytest.mark.logs_exceptions
async def test_a_probe_that_crashes_gives_a_failed_result_and_is_reported_once(
        tmp_path, targets, json_receiver, monkeypatch, store_setting):
    from monitor.probes import KINDS

    async def crash(spec, timeout, ctx):
        raise UnicodeError("label empty or too long")

    monkeypatch.setitem(KINDS, "tcp", dataclasses.replace(KINDS["tcp"], run=crash))
    extra = "  - {name: db, interval: 1s, timeout: 1s, tcp: {host: 127.0.0.1, port: 5432}}"
    text = admin_config(tmp_path, targets, json_receiver, store_setting).replace(
        "\noncall:", extra + "\noncall:")
    daemon = await start(tmp_path, text)
    try:
        await until(lambda: daemon.engine.runtime["db"].state.state is State.DOWN, 6, "db DOWN")
        assert daemon.engine.runtime["db"].last.reason == "probe error: UnicodeError"
        pages = await json_receiver.wait_for(2, 5)
        assert {p.path for p in pages} == {"/budi", "/admin"}
        assert daemon.registry.get_sample_value("siaga_broken_items", {"kind": "check"}) == 1
    finally:
        await daemon.stop()


# -- the staleness watchdog ----------------------------------------------------------------------

async def test_a_check_that_records_nothing_is_stale_healthz_fails_and_the_admins_hear_once(
        tmp_path, targets, json_receiver, store_setting):
    daemon = await start(tmp_path, admin_config(tmp_path, targets, json_receiver, store_setting))
    try:
        await until(lambda: daemon.engine.runtime["archive"].probes >= 1, 3, "first probe")
        # Whatever the cause (here: its results are thrown away), a check that records
        # nothing for 2 × interval + timeout is stale.
        real_record = daemon.engine.record
        daemon.engine.record = lambda check, result, **kw: (  # type: ignore[method-assign]
            None if check.name == "archive" else real_record(check, result, **kw))
        await until(lambda: daemon.watchdog.stale == ["archive"], 6, "archive stale")
        assert daemon.registry.get_sample_value("siaga_check_stale", {"check": "archive"}) == 1
        assert daemon.registry.get_sample_value("siaga_checks_stale") == 1
        status, health = await get_json(daemon, "/healthz")
        assert status == 503 and "monitoring is blind for 1 check(s): archive" in str(health)
        url = f"http://127.0.0.1:{daemon.server.port}/metrics"
        async with aiohttp.ClientSession() as s, s.get(url) as r:
            scraped = await r.text()
        assert 'siaga_check_stale{check="archive"} 1.0' in scraped
        assert "siaga_checks_stale 1.0" in scraped
        (notice,) = await json_receiver.wait_for(1, 3)
        assert notice.path == "/admin" and "archive" in notice.json["message"]
        daemon.engine.record = real_record  # type: ignore[method-assign]
        await until(lambda: daemon.watchdog.stale == [], 4, "archive fresh again")
        restored = await json_receiver.wait_for(2, 3)
        assert restored[1].path == "/admin"
        assert restored[1].json["title"].startswith("PEMANTAUAN PULIH")
        status, _ = await get_json(daemon, "/healthz")
        assert status == 200
        assert daemon.registry.get_sample_value("siaga_check_stale", {"check": "archive"}) is None
    finally:
        await daemon.stop()


# -- property: any sequence of edits leaves every live check recording -----------------------

class EditedFile:
    """A checks.yaml an operator keeps editing: checks come and go, change target or only
    their title; sometimes the file is broken or empty for a moment."""

    def __init__(self, tmp_path, targets, rng) -> None:
        self.tmp_path, self.targets, self.rng = tmp_path, targets, rng
        self.checks: dict[str, tuple[str, str]] = {f"s{i}": (f"p{i}", "") for i in range(4)}
        self.serial = 4

    def text(self) -> str:
        lines = [f"  - {{name: {n}, title: \"{title or n}\", "
                 f"http: {{url: \"{self.targets.url(p)}\"}}}}"
                 for n, (p, title) in self.checks.items()]
        return (f"siaga: {{listen: \"127.0.0.1:0\", state_dir: \"{self.tmp_path / 'state'}\"}}\n"
                "defaults: {interval: 200ms, timeout: 100ms}\nchecks:\n" + "\n".join(lines) + "\n")

    def edit(self) -> tuple[str, str]:
        """Apply one random edit; returns (what, file text)."""
        what = self.rng.choice(["add", "remove", "retarget", "retitle", "same", "broken", "empty"])
        names = list(self.checks)
        if what == "add" or (what == "remove" and len(names) < 2):
            self.serial += 1
            self.checks[f"s{self.serial}"] = (f"p{self.serial}", "")
            what = "add"
        elif what == "remove":
            del self.checks[self.rng.choice(names)]
        elif what == "retarget":
            name = self.rng.choice(names)
            self.checks[name] = (f"p{self.rng.randrange(100)}", self.checks[name][1])
        elif what == "retitle":
            name = self.rng.choice(names)
            self.checks[name] = (self.checks[name][0], f"Layanan {self.rng.randrange(100)}")
        if what == "broken":
            return what, self.text().replace("interval: 200ms", "interval: soon")
        if what == "empty":
            return what, ""
        return what, self.text()


async def test_every_live_check_records_new_results_after_each_of_60_random_edits(
        tmp_path, targets):
    import random

    rng = random.Random(11)
    edited = EditedFile(tmp_path, targets, rng)
    daemon = await start(tmp_path, edited.text())
    path = tmp_path / "checks.yaml"
    seen: dict[str, int] = {}
    try:
        for step in range(60):
            what, text = edited.edit()
            path.write_text(text)
            applied = await daemon.reloader.reload(f"edit {step}")
            assert applied == (what not in ("broken", "empty")), (step, what)
            if not applied:
                path.write_text(edited.text())  # the operator fixes the file again
                assert await daemon.reloader.reload(f"fix {step}")
            seen[what] = seen.get(what, 0) + 1
            live = set(daemon.engine.checks)
            assert live == set(edited.checks)
            since = {n: daemon.engine.runtime[n].probes for n in live}

            def recorded(since: dict[str, int] = since) -> bool:
                return all(daemon.engine.runtime[n].probes > count for n, count in since.items())

            # 2 × interval + timeout = 0.5 s; a loaded CI machine gets some slack.
            await until(recorded, 2.0, f"edit {step} ({what}): every live check records again")
        assert daemon.watchdog.scan() == []
        assert set(seen) == {"add", "remove", "retarget", "retitle", "same", "broken", "empty"}
    finally:
        await daemon.stop()
