"""The officer's acknowledge page in a real browser (headless Chromium): what the officer
needs to decide, in the officer's language (not the browser's), and what the link says once
used."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from tests.test_status_page import chromium, needs_chromium, url, visible_text

WIB = dt.timezone(dt.timedelta(hours=7))


@pytest.fixture
async def daemon(tmp_path, targets, json_receiver, store_setting):
    text = f"""
siaga: {{listen: "127.0.0.1:0", state_dir: "{tmp_path / 'state'}", language: id,
        store: "{store_setting}"}}
defaults: {{interval: 200ms, timeout: 150ms, fail_after: 2, recover_after: 2}}
checks:
  - {{name: portal, title: Portal, group: Publik, http: {{url: "{targets.url('p')}"}}}}
oncall:
  officers:
    budi: {{name: Budi Santoso, language: en, notify: ["{json_receiver.url('/budi')}"]}}
    sari: {{name: Sari Wulandari, notify: ["{json_receiver.url('/sari')}"]}}
  rotations: [{{name: piket, every: 1d, officers: [budi]}}]
  escalation: {{default: {{steps: [{{notify: [budi, sari]}}]}}}}
"""
    d = Daemon(parse_config(text, str(tmp_path / "checks.yaml")), registry=CollectorRegistry())
    await d.start()
    yield d
    await d.stop()


async def ack_link(daemon, targets, json_receiver, officer: str) -> str:
    targets.status["p"] = 503
    posts = await json_receiver.wait_for(2, timeout=5)
    (page,) = [p.json["message"] for p in posts if p.path == f"/{officer}"]
    return re.search(r"/ack/[A-Za-z0-9_\-.]+", page).group(0)


async def browse(tmp_path: Path, address: str) -> tuple[str, str]:
    """What a browser set to Indonesian shows at `address`."""
    dom = (await chromium(tmp_path, "--accept-lang=id-ID,id", "--virtual-time-budget=3000",
                          "--dump-dom", address)).decode()
    return dom, visible_text(dom)


async def press_the_button(tmp_path: Path, action: str) -> tuple[str, str]:
    """The page's button, pressed in the browser: the same POST its form sends."""
    form = tmp_path / "press.html"
    form.write_text(f'<form method=post action="{action}"></form>'
                    "<script>document.forms[0].submit()</script>")
    return await browse(tmp_path, form.as_uri())


@needs_chromium
async def test_the_ack_page_shows_what_the_officer_decides_on_in_the_officers_language(
        daemon, tmp_path, targets, json_receiver):
    path = await ack_link(daemon, targets, json_receiver, "budi")
    (inc,) = daemon.pager.incidents.values()
    dom, shown = await browse(tmp_path, url(daemon, path))
    since = dt.datetime.fromtimestamp(inc.opened_at, WIB)
    assert "Acknowledge this incident?" in shown  # budi reads English; the browser says id
    assert "Service Portal (Publik)" in shown
    assert "What is wrong down: status 503, expected 2xx" in shown
    assert f"Since {since:%Y-%m-%d %H:%M} WIB" in shown
    assert f"Incident #{inc.id}" in shown
    assert "Also paged Sari Wulandari" in shown and "Budi" not in shown.split("Also paged")[1]
    assert "Yes, I am on it" in shown and "<button" in dom


@needs_chromium
async def test_after_the_ack_it_names_the_officer_and_links_the_incident_and_the_link_is_spent(
        daemon, tmp_path, targets, json_receiver):
    path = await ack_link(daemon, targets, json_receiver, "sari")
    (inc,) = daemon.pager.incidents.values()
    dom, shown = await press_the_button(tmp_path, url(daemon, path))
    assert "Dikonfirmasi: Portal ditangani oleh Sari Wulandari." in shown  # not "sari"
    assert f'<a href="{path}">Lihat insiden #{inc.id}</a>' in dom
    acked = dt.datetime.fromtimestamp(inc.acked_at, WIB)
    dom, shown = await browse(tmp_path, url(daemon, path))
    assert f"Insiden #{inc.id}" in shown
    assert f"Ditangani oleh Sari Wulandari sejak {acked:%Y-%m-%d %H:%M} WIB." in shown
    assert "<button" not in dom and "<form" not in dom
    dom, shown = await press_the_button(tmp_path, url(daemon, path))  # pressed again
    assert "Tautan ini sudah pernah dipakai." in shown
    assert "Ditangani oleh Sari Wulandari" in shown and "<button" not in dom
    assert time.time() - inc.acked_at < 60
