"""Contact hours: pages reach an officer at any hour; a message that is not urgent waits for
the officer's `contact_hours` in the outbox, survives a restart there and goes once, when the
window opens. Time is moved, not slept: the daemon's pager and outbox read a clock set to
3 a.m. in Jakarta, and the outbox alone is walked through a day with an injected clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from monitor.checking.engine import Engine
from monitor.config.loader import parse_config
from monitor.config.model import Config
from monitor.daemon import Daemon
from monitor.delivery import contact
from monitor.delivery.notifiers import AppriseNotifier
from monitor.delivery.outbox import URGENT, Outbox
from monitor.incidents.model import Incident, Status
from monitor.paging.oncall.roster import contact_opens
from monitor.paging.templates import KINDS
from monitor.probes.base import ProbeContext
from monitor.store.engine import Store
from monitor.store.records import (
    enqueue,
    incident_events,
    insert_incident,
    next_due,
    outbox_rows,
)
from monitor.telemetry.metrics import Metrics
from tests.receivers import JsonReceiver, SmtpReceiver
from tests.targets import Targets
from tests.test_paging import PORTAL, wait_state

WIB = ZoneInfo("Asia/Jakarta")


def wib(local: str) -> float:
    return dt.datetime.fromisoformat(local).replace(tzinfo=WIB).timestamp()


class Clock:
    """The wall clock moved to a local moment in Jakarta; it runs on from there."""

    def __init__(self, local: str) -> None:
        self.set(local)

    def set(self, local: str) -> None:
        self.offset = wib(local) - time.time()

    def __call__(self) -> float:
        return time.time() + self.offset


CONFIG = PORTAL + """\
oncall:
  officers:
    budi: {{name: Budi Santoso, notify: ["{budi}"], contact_hours: "07:00-22:00"}}
    sari: {{name: Sari Dewi, notify: ["{sari}"], contact_hours: "07:00-22:00"}}
  rotations:
    - {{name: piket, every: 1d, handoff: "08:00", start: "2026-11-02", officers: [budi, sari]}}
  escalation:
    default:
      steps:
        - {{notify: on_duty}}
        - {{after: 10m, notify: next}}
"""


def write_config(tmp_path: Path, targets: Targets, smtp: SmtpReceiver, sari: JsonReceiver,
                 store: str) -> Config:
    text = CONFIG.format(state=tmp_path / "state", store=store, url=targets.url("health"),
                         budi=smtp.url(to="budi@example.test"), sari=sari.url("/sari"))
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    return parse_config(text, str(path))


@asynccontextmanager
async def running(config: Config, clock: Clock) -> AsyncIterator[Daemon]:
    """A daemon whose pager and outbox read `clock` (probes keep their own time)."""
    daemon = Daemon(config, registry=CollectorRegistry())
    daemon.pager.clock = daemon.outbox.clock = clock
    await daemon.start()
    try:
        await wait_state(daemon, "up")
        yield daemon
    finally:
        await daemon.stop()


async def until(condition: Callable[[], object], timeout: float = 8.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def test_at_3am_the_page_and_its_resolved_reach_an_officer_outside_contact_hours_at_once(
        tmp_path, targets, smtp_server, json_receiver, store_setting):
    config = write_config(tmp_path, targets, smtp_server, json_receiver, store_setting)
    async with running(config, Clock("2026-11-03 03:00")) as daemon:
        targets.status["health"] = 503
        down = time.monotonic()
        page = (await smtp_server.wait_for(1, timeout=5))[0]
        assert time.monotonic() - down < 2 * 0.2 + 0.15 + 1.0  # as fast as in daylight
        assert page.subject.startswith("GANGGUAN") and page.rcpt_tos == ["budi@example.test"]

        targets.status["health"] = 200
        resolved = (await smtp_server.wait_for(2, timeout=5))[1]
        assert resolved.subject.startswith("PULIH")  # the page woke him: this ends it
        rows = await daemon.store.run(outbox_rows)
        assert [r["held_until"] for r in rows] == [None, None]


async def test_a_resolved_whose_page_never_got_through_waits_for_contact_hours_across_a_restart(
        tmp_path, targets, smtp_server, json_receiver, store_setting, caplog):
    caplog.set_level(logging.INFO, logger="siaga")
    config = write_config(tmp_path, targets, smtp_server, json_receiver, store_setting)
    clock = Clock("2026-11-03 03:00")
    async with running(config, clock) as daemon:
        targets.status["health"] = 503
        await smtp_server.wait_for(1, timeout=5)  # budi, on duty, is paged at once
        json_receiver.fail_with = 500  # sari's channel is down
        clock.set("2026-11-03 03:10")  # nobody acknowledged: step 2 pages sari
        await until(lambda: json_receiver.attempts >= 1)
        targets.status["health"] = 200  # back before sari's page got through
        await smtp_server.wait_for(2, timeout=5)  # budi's resolved is not held

        def sari_resolved() -> dict[str, object]:
            rows = daemon.store.call(outbox_rows)
            return next(r for r in rows if (r["kind"], r["recipient"]) == ("resolved", "sari"))

        await until(lambda: sari_resolved()["held_until"] is not None)
        assert sari_resolved()["held_until"] == sari_resolved()["due_at"] == wib(
            "2026-11-03 07:00")
        json_receiver.fail_with = None
        await asyncio.sleep(1.5)
        assert json_receiver.posts == []  # her page is moot now, the resolved waits for 07:00
        assert ("event=held officer=sari kind=resolved until=2026-11-03T07:00+07:00"
                in caplog.text)
        assert daemon.registry.get_sample_value(
            "siaga_notifications_suppressed_total", {"reason": "contact_hours"}) == 1
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{daemon.server.port}/api/v1/incidents/1"
            async with http.get(url) as r:
                events = (await r.json())["events"]
        assert {"kind": "held", "actor": "siaga",
                "detail": "resolved to sari held until 2026-11-03 07:00 WIB: contact hours"
                } in [{k: e[k] for k in ("kind", "actor", "detail")} for e in events]

    clock.set("2026-11-03 06:59")
    async with running(config, clock) as daemon:
        await asyncio.sleep(1.5)
        assert json_receiver.posts == []
        clock.set("2026-11-03 07:00")
        daemon.outbox.wake()
        posts = await json_receiver.wait_for(1, timeout=5)
        assert posts[0].path == "/sari" and posts[0].json["title"].startswith("PULIH")
    async with running(config, clock):  # and once only
        await asyncio.sleep(1.5)
    assert len(json_receiver.posts) == 1 and len(smtp_server.messages) == 2


# -- the outbox alone, walked through a day -------------------------------------------------

OFFICER = """\
siaga: {{state_dir: "{state}"}}
checks: [{{name: portal, tcp: {{host: 127.0.0.1, port: 9}}}}]
oncall:
  officers:
    sari: {{name: Sari Dewi, notify: ["{url}"]{hours}}}
"""


class Desk:
    """An outbox with an injected clock, sending to a real receiver for officer sari."""

    def __init__(self, tmp_path: Path, store_url: str, receiver: JsonReceiver,
                 hours: str | None, now: str) -> None:
        self.now = wib(now)
        self.tmp_path, self.receiver = tmp_path, receiver
        self.configure(hours)
        self.store = Store(tmp_path, url=store_url)
        metrics = Metrics(CollectorRegistry(), Engine(self.config, ProbeContext()), "local")
        self.outbox = Outbox(self.store, AppriseNotifier(timeout=5),
                             lambda officer: (receiver.url("/sari"),), metrics,
                             clock=lambda: self.now, is_open=lambda incident_id: False,
                             contact_opens=self.opens)

    def configure(self, hours: str | None) -> None:
        text = OFFICER.format(state=self.tmp_path, url=self.receiver.url("/sari"),
                              hours=f", contact_hours: {hours!r}" if hours else "")
        self.config = parse_config(text, "checks.yaml")

    def opens(self, officer: str, now: float) -> dt.datetime | None:
        at = contact_opens(self.config.sections["oncall"], officer, now, WIB)
        return None if at is None else dt.datetime.fromtimestamp(at, WIB)

    def queue_page_and_resolved(self) -> None:
        """Incident 1 paged sari and resolved before her page went out."""
        incident = Incident(0, "portal", "", "Portal", Status.RESOLVED, "status 503", self.now)
        self.store.call(insert_incident, incident)
        self.store.call(enqueue, [
            {"key": f"inc-1/{kind}/sari", "incident_id": 1, "kind": kind, "recipient": "sari",
             "title": title, "body": "Portal Layanan", "sms_title": None, "sms_body": None,
             "created_at": self.now, "due_at": self.now}
            for kind, title in (("page", "GANGGUAN: Portal"), ("resolved", "PULIH: Portal"))])

    async def walk(self, local: str) -> None:
        """The outbox's loop from now up to `local`: every row sent when it is due."""
        end = wib(local)
        await self.send_due()
        while (due := self.store.call(next_due)) is not None and due <= end:
            self.now = max(self.now, due)
            await self.send_due()
        self.now = end

    async def send_due(self) -> None:
        await self.outbox._dispatch()
        while self.outbox._tasks:
            await asyncio.wait(set(self.outbox._tasks))

    def held_until(self) -> float | None:
        rows = self.store.call(outbox_rows)
        return next(r["held_until"] for r in rows if r["kind"] == "resolved")


@pytest.fixture
async def desk_of(tmp_path, store_url, json_receiver) -> AsyncIterator[Callable[..., Desk]]:
    desks: list[Desk] = []

    def make(hours: str | None, now: str) -> Desk:
        desks.append(Desk(tmp_path, store_url, json_receiver, hours, now))
        return desks[-1]

    yield make
    for desk in desks:
        desk.store.close()


async def test_a_window_across_midnight_holds_a_message_until_22_00(desk_of, json_receiver):
    desk = desk_of("22:00-06:00", "2026-11-03 10:00")  # sari works nights
    desk.queue_page_and_resolved()
    await desk.walk("2026-11-03 21:59")
    assert json_receiver.posts == [] and desk.held_until() == wib("2026-11-03 22:00")
    await desk.walk("2026-11-03 22:01")
    assert [p.json["title"] for p in json_receiver.posts] == ["PULIH: Portal"]
    events = desk.store.call(incident_events, 1)
    assert [(e["kind"], e["detail"]) for e in events if e["kind"] == "held"] == [
        ("held", "resolved to sari held until 2026-11-03 22:00 WIB: contact hours")]


async def test_after_a_reload_that_drops_her_contact_hours_a_held_message_goes_at_once(
        desk_of, json_receiver):
    desk = desk_of("07:00-22:00", "2026-11-03 03:00")
    desk.queue_page_and_resolved()
    await desk.walk("2026-11-03 03:05")
    assert json_receiver.posts == [] and desk.held_until() == wib("2026-11-03 07:00")
    desk.configure(None)
    desk.outbox.contact_hours_changed()
    await desk.walk("2026-11-03 03:06")
    assert [p.json["title"] for p in json_receiver.posts] == ["PULIH: Portal"]


def test_every_message_kind_is_urgent_or_has_a_contact_hours_rule():
    kinds = {*KINDS, "capped"}
    never = {*URGENT, *contact.NEVER_HELD}
    waits = [k for k in kinds if contact.may_wait(k)]
    assert set(waits) | never == kinds and not never & set(waits)
    assert not any(contact.may_wait(k) for k in URGENT)
