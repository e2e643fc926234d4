"""Issue 19, "the status page under a citizen surge": the page is rendered off the event
loop once per change, served from cached bytes with ETag/304, max-age and gzip, stays small,
and can be exported as static files (`siaga status-export DIR`, `siaga.status_export`)."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor.checking.state import State, Transition
from monitor.cli import main
from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from monitor.store.records import add_transitions
from monitor.web import status_render

D = 86400.0


class Switch:
    """A target whose answer the test sets: 200 or 500."""

    def __init__(self) -> None:
        self.status = 200
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        return web.Response(status=self.status, text="OK" if self.status == 200 else "no")

    async def start(self) -> Switch:
        app = web.Application()
        app.router.add_get("/", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/"
        return self

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def switch():
    target = await Switch().start()
    yield target
    await target.stop()


def write_config(tmp_path, url: str, public: int, extra: str = "") -> str:
    lines = [f'  - {{name: "svc-{i:02d}", group: "Layanan {i % 6}", '
             f'title: "Layanan Publik Nomor {i:02d}", public: true, http: {{url: "{url}"}}}}'
             for i in range(public)]
    text = (f'siaga: {{listen: "127.0.0.1:0", state_dir: "{tmp_path / "state"}"{extra}}}\n'
            "defaults: {interval: 200ms, timeout: 150ms, fail_after: 1, recover_after: 1}\n"
            "checks:\n" + "\n".join(lines) + "\n")
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    return str(path)


def history(conn, names: list[str], now: float) -> None:
    """Ninety days of life, with a short outage on a few days of every third check."""
    items = []
    for i, name in enumerate(names):
        items.append(Transition(name, State.UNKNOWN, State.UP, "", now - 95 * D))
        if i % 3 == 0:
            for day in (80, 41, 7):
                at = now - day * D
                items += [Transition(name, State.UP, State.DOWN, "x", at),
                          Transition(name, State.DOWN, State.UP, "", at + 1800 + 60 * i)]
    add_transitions(conn, items)


async def start_daemon(path: str, seed: bool = True) -> Daemon:
    d = Daemon(parse_config(Path(path).read_text(), path), registry=CollectorRegistry())
    if seed:
        d.store.call(history, [c.name for c in d.config.checks], time.time())
    await d.start()
    return d


@pytest.fixture
async def sixty(switch, tmp_path):
    d = await start_daemon(write_config(tmp_path, switch.url, 60))
    yield d
    await d.stop()


def url(d: Daemon, path: str) -> str:
    return f"http://127.0.0.1:{d.server.port}{path}"


async def get(session, address: str, **headers: str):
    async with session.get(address, headers=headers, auto_decompress=False) as r:
        return r.status, r.headers, await r.read()


async def test_sixty_public_checks_make_a_page_under_60_kb(sixty):
    async with aiohttp.ClientSession() as s:
        status, headers, body = await get(s, url(sixty, "/status"), **{"Accept-Encoding": ""})
    assert status == 200 and "Content-Encoding" not in headers
    assert body.count(b'<svg class="bar"') == 60
    assert len(body) < 60_000


async def test_the_page_has_an_etag_and_a_second_visit_gets_304(sixty):
    async with aiohttp.ClientSession() as s:
        status, headers, _ = await get(s, url(sixty, "/status"))
        etag = headers["ETag"]
        again, headers2, body = await get(s, url(sixty, "/status"), **{"If-None-Match": etag})
    assert status == 200 and again == 304 and body == b""
    assert headers2["ETag"] == etag
    assert "max-age=" in headers["Cache-Control"] and "public" in headers["Cache-Control"]


async def test_the_page_json_and_feed_are_gzipped_for_clients_that_accept_it(sixty):
    async with aiohttp.ClientSession() as s:
        for path in ("/status", "/status.json", "/status/feed.atom"):
            _, plain_h, plain = await get(s, url(sixty, path), **{"Accept-Encoding": ""})
            _, gz_h, packed = await get(s, url(sixty, path), **{"Accept-Encoding": "gzip, br"})
            assert gz_h["Content-Encoding"] == "gzip"
            assert gzip.decompress(packed) == plain
            assert len(packed) < len(plain) / (3 if path == "/status" else 1)
            assert gz_h["ETag"] != plain_h["ETag"]  # two representations, two strong tags
            assert "Accept-Encoding" in gz_h["Vary"]


async def test_requests_are_served_from_one_render_made_off_the_event_loop(
        switch, tmp_path, monkeypatch):
    renders: list[bool] = []
    original = status_render.render_html

    def spy(*args, **kwargs):
        renders.append(threading.current_thread() is threading.main_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(status_render, "render_html", spy)
    d = await start_daemon(write_config(tmp_path, switch.url, 5))
    try:
        async with aiohttp.ClientSession() as s:
            await get(s, url(d, "/status"))
            before = len(renders)
            answers = await asyncio.gather(*(get(s, url(d, f"/status?lang={lang}"))
                                             for lang in ("id", "en") * 50))
    finally:
        await d.stop()
    assert {a[0] for a in answers} == {200}
    assert renders and not any(renders)  # never on the loop's thread
    assert len(renders) - before <= 4  # a refresh may fall in; not one per request


async def test_a_state_change_reaches_the_page_within_seconds(switch, tmp_path):
    d = await start_daemon(write_config(tmp_path, switch.url, 2), seed=False)
    try:
        async with aiohttp.ClientSession() as s:
            await asyncio.sleep(0.6)
            _, _, body = await get(s, url(d, "/status?lang=en"), **{"Accept-Encoding": ""})
            assert b"All services are operating normally" in body
            switch.status = 500
            changed, began = None, time.monotonic()
            while time.monotonic() - began < 5:
                _, _, body = await get(s, url(d, "/status?lang=en"), **{"Accept-Encoding": ""})
                if b"Some services are currently disrupted" in body:
                    changed = time.monotonic() - began
                    break
                await asyncio.sleep(0.1)
    finally:
        await d.stop()
    assert changed is not None and changed < 3.0


async def test_a_small_surge_is_answered_from_the_cache_while_probes_stay_on_time(sixty):
    # Bounded: 400 requests from 40 clients; the heavy figures are in bench/status_surge.py.
    sixty.recent_lateness.clear()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=40)) as s:
        began = time.monotonic()
        answers = await asyncio.gather(*(get(s, url(sixty, "/status")) for _ in range(400)))
        took = time.monotonic() - began
    assert [a[0] for a in answers].count(200) == 400
    assert took < 5.0
    late = sorted(sixty.recent_lateness)
    assert late and late[int(len(late) * 0.99) - 1] < 0.1


def exported(directory) -> dict[str, str]:
    return {p.name: p.read_text("utf-8") for p in directory.iterdir()}


def check_files(files: dict[str, str]) -> None:
    for name in ("index.html", "index.en.html", "status.json", "status.en.json",
                 "feed.atom", "feed.en.atom"):
        assert name in files, name
    assert "Status Layanan" in files["index.html"] and "Service Status" in files["index.en.html"]
    assert 'href="index.en.html"' in files["index.html"]  # links work as static files
    assert 'href="feed.atom"' in files["index.html"]
    data = json.loads(files["status.json"])
    assert {s["title"] for g in data["groups"] for s in g["services"]} == {
        "Layanan Publik Nomor 00", "Layanan Publik Nomor 01"}
    assert ET.fromstring(files["feed.atom"]).tag == "{http://www.w3.org/2005/Atom}feed"


async def test_status_export_writes_page_json_and_atom_as_static_files(switch, tmp_path,
                                                                         capsys):
    path = write_config(tmp_path, switch.url, 2)
    d = await start_daemon(path, seed=False)
    await asyncio.sleep(0.5)
    await d.stop()
    out = tmp_path / "site"
    code = await asyncio.to_thread(main, ["-c", path, "status-export", str(out)])
    assert code == 0, capsys.readouterr().err
    check_files(exported(out))


async def test_the_daemon_exports_on_every_change_when_configured(switch, tmp_path):
    site = tmp_path / "site"
    d = await start_daemon(write_config(tmp_path, switch.url, 2,
                                        f', status_export: "{site}"'), seed=False)
    try:
        for _ in range(30):
            await asyncio.sleep(0.1)
            if (site / "feed.en.atom").exists():
                break
        check_files(exported(site))
        switch.status = 500
        began, changed = time.monotonic(), False
        while time.monotonic() - began < 5 and not changed:
            await asyncio.sleep(0.1)
            changed = "gangguan" in (site / "index.html").read_text("utf-8")
    finally:
        await d.stop()
    assert changed
