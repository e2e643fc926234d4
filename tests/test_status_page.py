"""The public status page of a real daemon, read through real headless Chromium."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import re
import shutil
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from monitor.checking.state import State, Transition
from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from monitor.incidents.model import Incident, Kind, Status
from monitor.store.records import add_transitions, insert_incident, save_incident

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian package `chromium`)")
H, D = 3600.0, 86400.0

CONFIG = """
siaga: {{location: test-1, listen: "127.0.0.1:0", state_dir: "{state}", timezone: Asia/Jakarta}}
defaults: {{interval: 200ms, timeout: 150ms, fail_after: 2, recover_after: 1}}
checks:
  - {{name: sipd-internal, group: "Keuangan Daerah", title: SIPD, public: true,
      http: {{url: "{http}/ok"}}}}
  - {{name: pajak, group: "Keuangan Daerah", title: "Pajak Online", public: true,
      http: {{url: "{http}/status/500"}}}}
  - {{name: secret-db, group: Internal, http: {{url: "{http}/status/503"}}}}
maintenance:
  - {{checks: [sipd-internal], start: "{maint}", duration: 2h, note: "ganti disk"}}
"""


def seed(conn, now: float) -> None:
    born, outage = now - 10 * D, now - 5 * D
    add_transitions(conn, [
        Transition("sipd-internal", State.UNKNOWN, State.UP, "", born),
        Transition("sipd-internal", State.UP, State.DOWN, "connect: refused", outage),
        Transition("sipd-internal", State.DOWN, State.UP, "", outage + 2 * H),
        Transition("secret-db", State.UNKNOWN, State.DOWN, "db.internal:5432", born),
    ])
    inc = Incident(0, "sipd-internal", "Keuangan Daerah", "SIPD", Status.RESOLVED,
                   "connect: refused", outage, Kind.DOWN, acked_at=outage + 600,
                   acked_by="budi", resolved_at=outage + 2 * H)
    insert_incident(conn, inc)
    save_incident(conn, inc)


@pytest.fixture
async def daemon(farm, tmp_path):
    now = time.time()
    maint = dt.datetime.fromtimestamp(now + 2 * D, dt.timezone(dt.timedelta(hours=7)))
    path = tmp_path / "checks.yaml"
    path.write_text(CONFIG.format(http=farm.http_url, state=tmp_path / "state",
                                  maint=maint.strftime("%Y-%m-%d %H:%M")))
    d = Daemon(parse_config(path.read_text(), str(path)), registry=CollectorRegistry())
    d.store.call(seed, now)
    await d.start()
    for _ in range(50):  # until the page shows pajak down with its incident open
        await asyncio.sleep(0.1)
        page = await d.status_pages.get("json", "en")
        if page and b'"open_incidents": [{' in page.raw:
            break
    yield d
    await d.stop()


def url(d: Daemon, path: str) -> str:
    return f"http://127.0.0.1:{d.server.port}{path}"


async def chromium(tmp_path: Path, *args: str) -> bytes:
    profile = tmp_path / "chromium-profile"
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(60):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return out


def visible_text(dom: str) -> str:
    body = re.sub(r"(?s)<(style|script|head)\b.*?</\1>", " ", dom)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


async def page_text(d: Daemon, tmp_path: Path, path: str, *extra: str) -> tuple[str, str]:
    dom = (await chromium(tmp_path, "--virtual-time-budget=2000", *extra, "--dump-dom",
                          url(d, path))).decode()
    return dom, visible_text(dom)


@needs_chromium
async def test_the_page_reads_in_bahasa_indonesia_in_a_browser(daemon, tmp_path):
    dom, text = await page_text(daemon, tmp_path, "/status", "--accept-lang=id-ID,id")
    assert "Status Layanan" in text
    assert "Keuangan Daerah" in text
    assert "SIPD normal" in text
    assert "Pajak Online gangguan" in text
    born = dt.datetime.fromtimestamp(time.time() - 10 * D, dt.timezone(dt.timedelta(hours=7)))
    # SIPD is watched for 10 days: its figure says since when, not "30 days" or "90 days"
    assert f"data sejak {born:%Y-%m-%d}: 99,17%" in text and "30 hari" not in text
    assert "Sebagian layanan sedang mengalami gangguan" in text
    assert "Pajak Online : gangguan" in text  # the open incident
    assert "pemeliharaan terjadwal" in text  # the announced window
    assert "selama 2 jam" in text  # history with the outage's duration
    bars = re.findall(r'<svg class="bar"[^>]*role="img"><title>([^<]*)</title>', dom)
    assert len(bars) == 2  # one small picture per service, named for screen readers
    outage = dt.datetime.fromtimestamp(time.time() - 5 * D, dt.timezone(dt.timedelta(hours=7)))
    assert f"1 hari di bawah 99,9%: {outage:%Y-%m-%d}: 91,67%" in bars[1]  # SIPD


@needs_chromium
async def test_the_page_reads_in_english_with_lang_en(daemon, tmp_path):
    _, text = await page_text(daemon, tmp_path, "/status?lang=en")
    assert "Service Status" in text
    assert "SIPD up" in text and "Pajak Online down" in text
    assert re.search(r"data since \d{4}-\d\d-\d\d: 99\.17%", text)
    assert "lasted 2 h" in text


@needs_chromium
async def test_internal_names_hosts_and_reasons_never_reach_the_page(daemon, tmp_path):
    dom, _ = await page_text(daemon, tmp_path, "/status?lang=en")
    for secret in ("secret-db", "sipd-internal", "127.0.0.1", "status 500", "connect:",
                   "db.internal", "ganti disk", "Internal"):
        assert secret not in dom


@needs_chromium
async def test_screenshots_at_phone_and_desktop_widths(daemon, tmp_path):
    shots = tmp_path / "artifacts"
    shots.mkdir()
    for name, size in (("phone", "390,844"), ("desktop", "1280,900")):
        await chromium(tmp_path, f"--screenshot={shots / name}.png", f"--window-size={size}",
                       "--accept-lang=id", "--virtual-time-budget=2000", url(daemon, "/status"))
        png = (shots / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(png) > 20_000  # a rendered page, not a blank image
        width = int.from_bytes(png[16:20], "big")
        assert width == int(size.split(",")[0])


async def test_status_json_and_atom_feed_carry_public_data_only(daemon):
    async with aiohttp.ClientSession() as s:
        async with s.get(url(daemon, "/status.json?lang=en")) as r:
            data = json.loads(await r.text())
        async with s.get(url(daemon, "/status/feed.atom")) as r:
            feed = await r.text()
            feed_type = r.headers["Content-Type"]
        async with s.get(url(daemon, "/"), allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/status"
    services = {sv["title"]: sv for g in data["groups"] for sv in g["services"]}
    assert set(services) == {"SIPD", "Pajak Online"}
    assert services["SIPD"]["uptime_30d"] == 99.17
    assert len(services["SIPD"]["days"]) == 90
    assert [i["services"] for i in data["open_incidents"]] == [["Pajak Online"]]
    assert data["history"][0]["duration"] == 2 * H
    assert feed_type.startswith("application/atom+xml")
    assert "<title>SIPD: pulih</title>" in feed and "Pajak Online: gangguan" in feed
    assert "secret-db" not in json.dumps(data) + feed
