"""Hot reload of a running daemon probing the local farm: state kept by name, removed checks'
incidents resolved and series gone, invalid files refused, and the file watcher."""

from __future__ import annotations

import asyncio
import logging
import os

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from monitor.checking.state import State
from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from monitor.store.records import get_incident

HEAD = """
siaga: {{listen: "127.0.0.1:0", state_dir: "{state}", store: "{store}"}}
defaults: {{interval: 200ms, timeout: 150ms, fail_after: 1, recover_after: 1}}
alerting: {{group_window: 0}}  # one incident per check: each removal is seen on its own
checks:
"""
BEFORE = """\
  - {{name: steady, http: {{url: "{http}/ok"}}}}
  - {{name: tweak, http: {{url: "{http}/ok"}}}}
  - {{name: retarget, tcp: {{host: 127.0.0.1, port: {refused}}}}}
  - {{name: gone, tcp: {{host: 127.0.0.1, port: {refused}}}}}
"""
AFTER = """\
  - {{name: steady, http: {{url: "{http}/ok"}}}}
  - {{name: tweak, title: "Portal (renamed)", http: {{url: "{http}/ok"}}}}
  - {{name: retarget, http: {{url: "{http}/ok"}}}}
  - {{name: added, http: {{url: "{http}/ok"}}}}
"""


def text(farm, tmp_path, body: str, store: str) -> str:
    return (HEAD + body).format(state=tmp_path, http=farm.http_url, refused=farm.refused_port,
                                store=store)


async def start(path) -> Daemon:
    d = Daemon(parse_config(path.read_text(), str(path)), registry=CollectorRegistry())
    d.reloader.poll = 0.1
    await d.start()
    return d


@pytest.fixture
async def daemon(farm, tmp_path, store_setting):
    path = tmp_path / "checks.yaml"
    path.write_text(text(farm, tmp_path, BEFORE, store_setting))
    d = await start(path)
    yield d
    await d.stop()


async def eventually(predicate, timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, "condition not reached in time"
        await asyncio.sleep(0.05)


async def get(d: Daemon, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{d.server.port}{path}") as r:
        return r.status, await r.text()


def gone_incident(d: Daemon) -> int:
    return next(i.id for i in d.pager.incidents.values() if i.check == "gone")


async def test_a_reload_keeps_state_and_phase_resolves_removed_and_starts_added(
        daemon, farm, tmp_path, store_setting):
    await eventually(lambda: any(i.check == "gone" for i in daemon.pager.incidents.values()))
    await eventually(lambda: daemon.engine.runtime["tweak"].state.state is State.UP)
    rt = dict(daemon.engine.runtime)
    probes = rt["steady"].probes
    phase = daemon.scheduler.due("steady") % 0.2
    incident = gone_incident(daemon)
    (tmp_path / "checks.yaml").write_text(text(farm, tmp_path, AFTER, store_setting))

    assert await daemon.reloader.reload()

    runtime = daemon.engine.runtime
    assert runtime["steady"] is rt["steady"]
    assert runtime["tweak"] is rt["tweak"] and runtime["tweak"].state.state is State.UP
    assert runtime["retarget"] is not rt["retarget"]  # its target changed: state afresh
    assert "gone" not in runtime
    assert daemon.scheduler.due("steady") % 0.2 == pytest.approx(phase, abs=1e-6)
    await eventually(lambda: runtime["added"].probes > 0)
    # The unchanged and the retitled checks keep recording results after the reload.
    await eventually(lambda: runtime["steady"].probes >= probes + 3)
    tweaked = runtime["tweak"].probes
    await eventually(lambda: runtime["tweak"].probes >= tweaked + 3)
    await eventually(lambda: runtime["retarget"].state.state is State.UP)
    await eventually(lambda: incident not in daemon.pager.incidents)
    inc = await daemon.store.run(get_incident, incident)
    assert inc.status.value == "resolved" and inc.resolve_note == "removed from configuration"
    metrics = daemon.metrics.render().decode()
    assert 'check="gone"' not in metrics and 'check="added"' in metrics
    assert daemon.registry.get_sample_value("siaga_config_last_reload_successful") == 1
    assert daemon.scheduler.stats.missed == 0


async def test_an_invalid_file_keeps_the_old_config_running_and_healthz_says_so(
        daemon, farm, tmp_path, store_setting):
    path = tmp_path / "checks.yaml"
    path.write_text(text(farm, tmp_path, BEFORE, store_setting).replace("interval: 200ms",
                                                                       "interval: soon"))
    before = daemon.config

    assert not await daemon.reloader.reload()

    assert daemon.config is before
    assert daemon.registry.get_sample_value("siaga_config_last_reload_successful") == 0
    status, body = await get(daemon, "/healthz")
    assert status == 503
    assert "config reload failed: see the log" in body and str(path) not in body
    probes = daemon.engine.runtime["steady"].probes
    await eventually(lambda: daemon.engine.runtime["steady"].probes > probes + 2)
    path.write_text(text(farm, tmp_path, BEFORE, store_setting))
    assert await daemon.reloader.reload()
    assert (await get(daemon, "/healthz"))[0] == 200


async def test_the_watcher_sees_a_file_renamed_into_place_with_the_same_size_and_mtime(
        daemon, farm, tmp_path, store_setting):
    path = tmp_path / "checks.yaml"
    old = os.stat(path)
    new = tmp_path / ".checks.yaml.swp"
    new.write_text(text(farm, tmp_path, BEFORE, store_setting).replace("name: tweak",
                                                                      "name: twerk"))
    os.utime(new, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert os.stat(new).st_size == old.st_size
    os.replace(new, path)  # what vim, sed -i and most editors do

    await eventually(lambda: "twerk" in daemon.engine.checks)
    assert "tweak" not in daemon.engine.checks


async def test_siaga_reload_over_the_api_needs_the_token(daemon, farm, tmp_path, store_setting):
    (tmp_path / "checks.yaml").write_text(text(farm, tmp_path, AFTER, store_setting))
    address = f"http://127.0.0.1:{daemon.server.port}/api/v1/reload"
    async with aiohttp.ClientSession() as s:
        async with s.post(address) as r:
            assert r.status == 401
        assert "added" not in daemon.engine.checks
        headers = {"Authorization": f"Bearer {daemon.api_token}"}
        async with s.post(address, headers=headers) as r:
            assert r.status == 200 and (await r.json())["checks"] == 4
    assert "added" in daemon.engine.checks


async def test_reloading_many_checks_while_probing_misses_no_slot(farm, tmp_path):
    many = "".join(f"  - {{{{name: c{i}, tcp: {{{{host: 127.0.0.1, port: {{port}}}}}}}}}}\n"
                   for i in range(400))
    path = tmp_path / "checks.yaml"
    head = HEAD.replace("200ms, timeout: 150ms", "500ms, timeout: 400ms")
    port = farm.tcp_banner_port
    path.write_text((head + many).format(state=tmp_path, port=port, store="sqlite"))
    d = await start(path)
    try:
        await asyncio.sleep(1.2)
        changed = many.replace("name: c1", "name: n1")  # 111 removed, 111 added
        path.write_text((head + changed.replace("500ms", "1s")).format(state=tmp_path, port=port,
                                                                       store="sqlite"))
        assert await d.reloader.reload()
        await asyncio.sleep(1.2)
        assert d.scheduler.stats.missed == 0
        assert len(d.engine.checks) == 400 and "n1" in d.engine.checks
    finally:
        await d.stop()


async def test_a_reload_says_which_changed_settings_wait_for_a_restart(daemon, farm, tmp_path,
                                                                       store_setting):
    path = tmp_path / "checks.yaml"
    edited = text(farm, tmp_path, BEFORE, store_setting).replace(
        "siaga: {listen", "siaga: {location: makassar-1, body_limit: 2048, language: en, listen")
    path.write_text(edited)
    url = f"http://127.0.0.1:{daemon.server.port}/api/v1/reload"
    headers = {"Authorization": f"Bearer {daemon.api_token}"}
    async with aiohttp.ClientSession() as s, s.post(url, headers=headers) as r:
        answer = await r.json()
    assert r.status == 200 and answer["restart_needed"] == ["location"]
    assert daemon.engine.ctx.body_limit == 2048  # the rest took effect at once
    assert daemon.pager.config.settings.language == "en"
    # back as it was: nothing waits any more
    path.write_text(text(farm, tmp_path, BEFORE, store_setting))
    assert await daemon.reloader.reload()
    assert daemon.restart_needed == ()


def test_a_plan_made_before_another_reload_is_not_trusted(tmp_path):
    """The reloader compares checks off the loop; if another config was applied between that
    comparison and the swap, the swap compares again instead of using a stale diff."""
    from monitor.checking.engine import Engine
    from monitor.probes.base import ProbeContext

    def config(*urls: str) -> str:
        return ("checks:\n" + "".join(f'  - {{name: c{i}, http: {{url: "{u}"}}}}\n'
                                      for i, u in enumerate(urls)))

    path = str(tmp_path / "checks.yaml")
    first = parse_config(config("http://127.0.0.1:1/a", "http://127.0.0.1:1/b"), path)
    engine = Engine(first, ProbeContext())
    second = parse_config(config("http://127.0.0.1:1/a", "http://127.0.0.1:1/other"), path)
    third = parse_config(config("http://127.0.0.1:1/moved"), path)
    stale = engine.diff(third)  # made against `first`
    assert stale.reset == ["c0"] and stale.removed == ["c1"]
    engine.apply(second)
    summary = engine.apply(third, stale)
    assert summary is not stale
    assert summary.reset == ["c0"] and summary.removed == ["c1"]
    assert set(engine.runtime) == {"c0"} and engine.checks["c0"] is third.checks[0]

    fresh = engine.diff(second)
    assert engine.apply(second, fresh) is fresh  # a current plan is used as it is


async def test_a_reload_logs_how_many_checks_started_afresh_on_a_new_target(
        daemon, farm, tmp_path, store_setting, caplog):
    (tmp_path / "checks.yaml").write_text(text(farm, tmp_path, AFTER, store_setting))
    with caplog.at_level(logging.INFO, "siaga.daemon"):
        assert await daemon.reloader.reload()
    line = next(r.getMessage() for r in caplog.records if "event=reloaded" in r.getMessage())
    assert "added=1 removed=1 changed=2 reset=1 unchanged=1" in line  # retarget: tcp → http
