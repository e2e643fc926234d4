"""Paging end to end: a real target goes down, a real SMTP server and a real JSON receiver
get the pages, the ack link stops escalation, recovery sends one resolved message each."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from zoneinfo import ZoneInfo

import aiohttp
from prometheus_client import CollectorRegistry

from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from monitor.store.records import outbox_rows

WIB = ZoneInfo("Asia/Jakarta")



def local(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, WIB).strftime("%Y-%m-%d %H:%M")


PORTAL = """
siaga: {{listen: "127.0.0.1:0", state_dir: "{state}", language: id, store: "{store}"}}
defaults: {{interval: 200ms, timeout: 150ms, fail_after: 2, recover_after: 2}}
checks:
  - name: portal
    title: Portal Layanan
    http: {{url: "{url}"}}
"""
CONFIG = PORTAL + """\
oncall:
  officers:
    budi: {{name: Budi Santoso, notify: ["{budi}"]}}
    sari: {{name: Sari Dewi, notify: ["{sari}"]}}
    andi: {{name: Andi, notify: ["{andi}"]}}
  rotations:
    - {{name: piket, every: 1d, handoff: "08:00", officers: [budi, sari, andi]}}
  overrides:
    - {{officer: budi, from: "{from_}", to: "{to}", reason: test}}
  escalation:
    default:
      steps:
        - {{notify: on_duty}}
        - {{after: {step}, notify: next}}
"""


def make_config(tmp_path, targets, smtp_server, json_receiver, step="2s", store="sqlite"):
    now = time.time()
    text = CONFIG.format(state=tmp_path / "state", url=targets.url("health"),
                         budi=smtp_server.url(to="budi@example.test"),
                         sari=json_receiver.url("/sari"), andi=json_receiver.url("/andi"),
                         from_=local(now - 7200), to=local(now + 7200), step=step,
                         store=store)
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    return parse_config(text, str(path))


async def wait_state(daemon: Daemon, state: str, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while daemon.engine.runtime["portal"].shown_state.value != state:
            await asyncio.sleep(0.02)


async def test_the_on_duty_officer_is_paged_escalated_acked_and_told_of_recovery(
        tmp_path, targets, smtp_server, json_receiver, store_setting):
    config = make_config(tmp_path, targets, smtp_server, json_receiver, store=store_setting)
    daemon = Daemon(config, registry=CollectorRegistry())
    await daemon.start()
    try:
        await wait_state(daemon, "up")
        targets.status["health"] = 503
        flipped = time.monotonic()
        mails = await smtp_server.wait_for(1, timeout=5)
        took = time.monotonic() - flipped
        assert took < 2 * 0.2 + 0.15 + 1.0, took  # fail_after × interval + timeout + 1 s
        assert mails[0].rcpt_tos == ["budi@example.test"]
        assert "Portal Layanan" in mails[0].subject + mails[0].body
        assert "status 503" in mails[0].body
        assert not json_receiver.posts  # sari is not paged before the step delay

        posts = await json_receiver.wait_for(1, timeout=6)  # nobody acked: next officer
        assert posts[0].path == "/sari"
        page = posts[0].json["message"]
        ack_path = re.search(r"/ack/[A-Za-z0-9_\-.]+", page).group(0)
        base = f"http://127.0.0.1:{daemon.server.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(base + ack_path) as r:  # a previewer's GET acks nothing
                assert r.status == 200 and "<form" in await r.text()
            assert next(iter(daemon.pager.incidents.values())).acked_by is None
            async with http.post(base + ack_path) as r:
                assert r.status == 200
                assert "Sari Dewi" in await r.text()  # the name, not the login id
            async with http.post(base + ack_path) as r:  # replay is refused
                assert r.status == 409
        inc = next(iter(daemon.pager.incidents.values()))
        assert inc.status.value == "acknowledged" and inc.acked_by == "sari"

        await asyncio.sleep(2.5)  # no further pages after the ack
        assert len(smtp_server.messages) == 1 and len(json_receiver.posts) == 1

        targets.status["health"] = 200
        await smtp_server.wait_for(2, timeout=5)
        await json_receiver.wait_for(2, timeout=5)
        await asyncio.sleep(0.5)
        assert len(smtp_server.messages) == 2 and len(json_receiver.posts) == 2
        assert "PULIH" in smtp_server.messages[1].subject + smtp_server.messages[1].body
        assert not daemon.pager.incidents
    finally:
        await daemon.stop()


async def test_a_page_survives_a_channel_outage_and_arrives_once(
        tmp_path, targets, smtp_server, json_receiver, store_setting):
    config = make_config(tmp_path, targets, smtp_server, json_receiver, step="1h",
                         store=store_setting)
    daemon = Daemon(config, registry=CollectorRegistry())
    await daemon.start()
    try:
        await wait_state(daemon, "up")
        smtp_server.refuse.add("budi@example.test")  # mail refused: the channel is down
        targets.status["health"] = 500
        await wait_state(daemon, "down")
        await asyncio.sleep(2.0)
        rows = await daemon.store.run(outbox_rows)
        assert rows and rows[0]["status"] == "pending" and rows[0]["attempts"] >= 1
        smtp_server.refuse.clear()
        mails = await smtp_server.wait_for(1, timeout=12)
        await asyncio.sleep(1.0)
        assert len(mails) == 1 and len(smtp_server.messages) == 1
        rows = await daemon.store.run(outbox_rows)
        assert rows[0]["status"] == "sent"
        value = daemon.registry.get_sample_value
        assert value("siaga_notifications_total", {"channel": "mailto", "outcome": "failed"}) >= 1
        assert value("siaga_notifications_total", {"channel": "mailto", "outcome": "sent"}) == 1
    finally:
        await daemon.stop()


async def test_forged_altered_and_expired_links_are_refused_with_a_clear_page(
        tmp_path, targets, smtp_server, json_receiver, store_setting):
    config = make_config(tmp_path, targets, smtp_server, json_receiver, step="1h",
                         store=store_setting)
    daemon = Daemon(config, registry=CollectorRegistry())
    await daemon.start()
    base = f"http://127.0.0.1:{daemon.server.port}/ack/"
    good = daemon.signer.sign(1, "budi", time.time() + 3600)
    expired = daemon.signer.sign(1, "budi", time.time() - 1)
    altered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    try:
        async with aiohttp.ClientSession() as http:
            for token, words in [("not-a-token", "tidak sah"), (altered, "tidak sah"),
                                 (expired, "kedaluwarsa")]:
                async with http.post(base + token) as r:
                    assert r.status == 403
                    assert words in await r.text()
            async with http.get(base + expired + "?lang=en") as r:
                assert r.status == 403 and "expired" in await r.text()
    finally:
        await daemon.stop()


async def test_a_channel_that_refuses_for_good_falls_back_to_the_officers_next_channel(
        tmp_path, targets, smtp_server, json_receiver, store_setting):
    config = make_config(tmp_path, targets, smtp_server, json_receiver, step="1h",
                         store=store_setting)
    text = (tmp_path / "checks.yaml").read_text().replace(
        f'notify: ["{smtp_server.url(to="budi@example.test")}"]',
        f'notify: ["nosuchscheme://nowhere", "{smtp_server.url(to="budi@example.test")}"]')
    config = parse_config(text, str(tmp_path / "checks.yaml"))
    daemon = Daemon(config, registry=CollectorRegistry())
    await daemon.start()
    try:
        await wait_state(daemon, "up")
        targets.status["health"] = 503
        mails = await smtp_server.wait_for(1, timeout=8)
        assert mails[0].rcpt_tos == ["budi@example.test"]
        await asyncio.sleep(0.3)  # the row is marked sent just after the server's answer
        rows = await daemon.store.run(outbox_rows)
        assert rows[0]["channel_index"] == 1 and rows[0]["status"] == "sent"
    finally:
        await daemon.stop()


async def test_an_officer_with_no_working_channel_makes_the_next_step_happen_at_once(
        tmp_path, targets, smtp_server, json_receiver, store_setting):
    make_config(tmp_path, targets, smtp_server, json_receiver, step="1h",
                store=store_setting)  # writes the file
    text = (tmp_path / "checks.yaml").read_text().replace(
        f'notify: ["{smtp_server.url(to="budi@example.test")}"]', 'notify: ["nosuchscheme://x"]')
    daemon = Daemon(parse_config(text, str(tmp_path / "checks.yaml")),
                    registry=CollectorRegistry())
    await daemon.start()
    try:
        await wait_state(daemon, "up")
        targets.status["health"] = 503
        posts = await json_receiver.wait_for(1, timeout=6)  # not an hour later
        assert posts[0].path == "/sari"
        rows = await daemon.store.run(outbox_rows)
        assert [r["status"] for r in rows if r["recipient"] == "budi"] == ["failed"]
    finally:
        await daemon.stop()
