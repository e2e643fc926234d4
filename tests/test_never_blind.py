"""Never silently blind: after every kind of config edit, every check of the live config keeps
being probed, recorded and paged. Each scenario uses the config an operator would write
(interval 1 s, default fail_after/recover_after, no alerting section) and asserts what the
officer and the dashboards see: rising counters, a fresh `last.at`, a page that arrives."""

from __future__ import annotations

import asyncio
import os
import time

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from monitor.state import State

pytestmark = pytest.mark.slow


def config_text(tmp_path, targets, receiver, names: list[str]) -> str:
    checks = "\n".join(
        f"  - {{name: {n}, interval: 1s, timeout: 1s, http: {{url: \"{targets.url(n)}\"}}}}"
        for n in names)
    return f"""
siaga: {{listen: "127.0.0.1:0", state_dir: "{tmp_path / 'state'}"}}
checks:
{checks}
oncall:
  officers:
    budi: {{notify: ["{receiver.url('/budi')}"]}}
  rotations: [{{name: piket, every: 1d, officers: [budi]}}]
"""


async def start(tmp_path, text: str) -> Daemon:
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    daemon = Daemon(parse_config(text, str(path)), registry=CollectorRegistry())
    await daemon.start()
    return daemon


async def until(predicate, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, f"not reached within {timeout}s: {what}"
        await asyncio.sleep(0.05)


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


async def edit(kind: str, daemon: Daemon, tmp_path, targets, receiver) -> None:
    path = tmp_path / "checks.yaml"
    if kind == "append":
        path.write_text(config_text(tmp_path, targets, receiver, ["a", "b", "c"]))
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
        kind, tmp_path, targets, json_receiver):
    daemon = await start(tmp_path, config_text(tmp_path, targets, json_receiver, ["a", "b"]))
    try:
        await until(lambda: probes(daemon, "a") >= 1 and probes(daemon, "b") >= 1, 3,
                    "first probes")
        before_reload = daemon.config
        await edit(kind, daemon, tmp_path, targets, json_receiver)
        await until(lambda: daemon.config is not before_reload, 4, "the edit is applied")
        counted, seen_at = probes(daemon, "a"), await api_last_at(daemon, "a")
        await asyncio.sleep(2.5)
        assert probes(daemon, "a") >= counted + 2, "siaga_probes_total of a stopped rising"
        assert probes(daemon, "b") >= counted + 1
        assert await api_last_at(daemon, "a") != seen_at, "/api/v1/checks/a froze"
        targets.status["a"] = 503
        # fail_after 3 at 1 s: DOWN within about 3 s, paged at once.
        await until(lambda: daemon.engine.runtime["a"].state.state is State.DOWN, 6,
                    "a goes DOWN")
        pages = await json_receiver.wait_for(1, 3)
        assert pages[0].json["title"].endswith(": a")
    finally:
        await daemon.stop()
