"""Siaga behind a real Alertmanager (Debian's): Alertmanager's webhook receiver points at
Siaga's `/api/v1/alertmanager` with a bearer token from `credentials_file`, alerts are
posted to Alertmanager's API as Prometheus would, and the officers' pages arrive at a real
JSON receiver: one page with an ack link, none for Alertmanager's repeats, the ack stops
escalation, one "resolved" — also when Siaga was stopped while the alert resolved, and when
it was stopped in the middle of an escalation."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from monitor.daemon import Daemon
from tests.daemons import start, until
from tests.test_alertmanager_receiver import ONCALL
from tests.test_notifiers import ALERTMANAGER, free_port, running_alertmanager

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(ALERTMANAGER is None, reason="prometheus-alertmanager missing")]

TOKEN = "am-webhook-token-5c2f0e61"
AM_CONFIG = """\
route:
  receiver: siaga
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: siaga
    webhook_configs:
      - url: http://127.0.0.1:{port}/api/v1/alertmanager
        http_config:
          authorization:
            credentials_file: {token_file}
"""
SIAGA = """\
siaga: {{listen: "127.0.0.1:{port}", state_dir: "{state}", store: "{store}"}}
checks: []
alertmanager_receiver: {{token: "${{AM_WEBHOOK_TOKEN}}"}}
""" + ONCALL + """\
  escalation:
    default:
      steps:
        - {{notify: on_duty}}
        - {{after: 8s, notify: next}}
"""
BURN = {"labels": {"alertname": "SiagaErrorBudgetBurn", "check": "sipd", "severity": "critical"},
        "annotations": {"summary": "SIPD is burning its error budget fast",
                        "description": "14.4x burn rate over 1h and 5m"},
        "generatorURL": "http://127.0.0.1:9090/graph"}


@asynccontextmanager
async def alertmanager(tmp_path: Path, siaga_port: int) -> AsyncIterator[str]:
    """A real Alertmanager whose webhook receiver is Siaga; yields its base URL."""
    token_file = tmp_path / "am.token"
    token_file.write_text(TOKEN + "\n")
    text = AM_CONFIG.format(port=siaga_port, token_file=token_file)
    async with running_alertmanager(tmp_path, "", text) as base:
        yield base


async def fire(am: str, *, resolved: bool = False) -> None:
    """Post the alert to Alertmanager as Prometheus does (firing, or with endsAt now)."""
    alert: dict[str, Any] = dict(BURN)
    if resolved:
        alert["endsAt"] = dt.datetime.now(dt.UTC).isoformat()
    async with aiohttp.ClientSession() as http, http.post(f"{am}/api/v2/alerts",
                                                          json=[alert]) as r:
        assert r.status == 200, await r.text()


@asynccontextmanager
async def running(tmp_path: Path, text: str) -> AsyncIterator[Daemon]:
    """Siaga on `text`; stopped at the end, as `systemctl stop` would."""
    daemon = await start(tmp_path, text)
    try:
        yield daemon
    finally:
        await asyncio.sleep(0.3)  # the outbox marks the last send (a stop inside it repeats it)
        await daemon.stop()


def accepted(daemon: Daemon) -> float:
    value = daemon.registry.get_sample_value("siaga_alertmanager_notifications_total",
                                             {"outcome": "accepted"})
    return value or 0.0


@pytest.fixture
def siaga(tmp_path, json_receiver, monkeypatch, store_setting):
    monkeypatch.setenv("AM_WEBHOOK_TOKEN", TOKEN)
    port = free_port()
    text = SIAGA.format(port=port, state=tmp_path / "state", budi=json_receiver.url("/budi"),
                        sari=json_receiver.url("/sari"), store=store_setting)
    return port, text


async def test_one_page_no_repeats_ack_stops_escalation_resolved_once_across_a_restart(
        tmp_path, json_receiver, siaga):
    port, text = siaga
    async with alertmanager(tmp_path, port) as am:
        async with running(tmp_path, text) as daemon:
            await fire(am)
            [page] = await json_receiver.wait_for(1, timeout=10)
            assert page.path == "/budi"
            assert page.json["title"] == "PERINGATAN: SIPD is burning its error budget fast"
            ack = re.search(r"/ack/[A-Za-z0-9_\-.]+", page.json["message"])
            assert ack is not None and "14.4x burn rate" in page.json["message"]

            paged = asyncio.get_running_loop().time()
            await fire(am)  # Prometheus re-sends every evaluation
            seen = accepted(daemon)
            await until(lambda: accepted(daemon) >= seen + 1, 4, "Alertmanager's repeat")
            await asyncio.sleep(0.3)
            assert len(json_receiver.posts) == 1 and len(daemon.pager.incidents) == 1

            link = f"http://127.0.0.1:{port}{ack.group(0)}"
            async with aiohttp.ClientSession() as http:
                async with http.get(link) as r:  # what the officer decides on
                    shown = await r.text()
                    assert "<form" in shown and "14.4x burn rate over 1h and 5m" in shown
                async with http.post(link) as r:
                    assert r.status == 200 and "Budi Santoso" in await r.text()
            # past the 8 s step: sari would have been paged by now
            await asyncio.sleep(paged + 9 - asyncio.get_running_loop().time())
            assert [p.path for p in json_receiver.posts] == ["/budi"]

        await fire(am, resolved=True)  # Alertmanager cannot deliver it while Siaga is away
        await asyncio.sleep(2)
        async with running(tmp_path, text) as daemon:
            posts = await json_receiver.wait_for(2, timeout=15)
            assert [p.path for p in posts] == ["/budi", "/budi"]
            assert posts[1].json["title"].startswith("PULIH: SIPD is burning")
            await until(lambda: not daemon.pager.incidents, 5, "the incident resolved")
            await asyncio.sleep(3)  # Alertmanager's later flushes repeat nothing
            assert len(json_receiver.posts) == 2


async def test_an_escalation_due_while_siaga_was_stopped_is_sent_once_after_it(
        tmp_path, json_receiver, siaga):
    port, text = siaga
    async with alertmanager(tmp_path, port) as am:
        async with running(tmp_path, text):
            await fire(am)
            await json_receiver.wait_for(1, timeout=10)
        await asyncio.sleep(8.5)  # the next step falls due while Siaga is stopped
        async with running(tmp_path, text):
            posts = await json_receiver.wait_for(2, timeout=10)
            assert [p.path for p in posts] == ["/budi", "/sari"]
            await fire(am, resolved=True)
            posts = await json_receiver.wait_for(4, timeout=10)
            await asyncio.sleep(2)
            assert sorted(p.path for p in json_receiver.posts[2:]) == ["/budi", "/sari"]
            assert all(p.json["title"].startswith("PULIH") for p in json_receiver.posts[2:])
            assert len(json_receiver.posts) == 4


AMTOOL = shutil.which("amtool")


@pytest.mark.skipif(AMTOOL is None, reason="amtool missing")
def test_the_shipped_alertmanager_snippet_is_valid():
    sample = Path(__file__).resolve().parent.parent / "deploy" / "alertmanager-siaga.yml"
    assert AMTOOL is not None
    done = subprocess.run([AMTOOL, "check-config", str(sample)], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
