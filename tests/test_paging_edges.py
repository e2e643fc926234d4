"""The right person, once, on time (issue 19, cases 1-4 and 6): flapping, shift changes,
held steps and the end of a window, walked with the injected clock so minutes cost
milliseconds. The config is what an operator writes: a rotation, a policy, one service."""

from __future__ import annotations

import datetime as dt

import pytest

from monitor.paging.actions import Actions
from monitor.paging.oncall.roster import on_duty
from tests.simulation import T0, Simulation

WIB = dt.timezone(dt.timedelta(hours=7))


def config(tmp_path, policy: str, rotation: str = "every: 1d", check: str = "") -> str:
    return f"""
siaga: {{state_dir: "{tmp_path / 'state'}"}}
checks:
  - {{name: portal, title: Portal Layanan, interval: 1s, timeout: 1s,
     http: {{url: "http://127.0.0.1:9/"}}{check}}}
oncall:
  officers:
    budi: {{notify: ["json://127.0.0.1:9/budi"]}}
    sari: {{notify: ["json://127.0.0.1:9/sari"]}}
    kasi: {{notify: ["json://127.0.0.1:9/kasi"]}}
  groups: {{atasan: [kasi]}}
  rotations: [{{name: piket, {rotation}, officers: [budi, sari]}}]
  escalation:
    default: {policy}
"""


CHAIN = ("{steps: [{notify: on_duty}, {after: 5s, notify: next}, {after: 10s, notify: [atasan]}],"
         " repeat: 2}")


def alternating(start: float, end: float):
    """200/500 on every probe (1 s apart) between `start` and `end`, healthy otherwise."""
    return lambda name, t: start <= t < end and int(t) % 2 == 0


@pytest.mark.parametrize("fail_after", [3, 1])
async def test_a_flapping_target_is_one_flapping_notice_and_one_stable_again(
        tmp_path, store_url, fail_after):
    text = config(tmp_path, CHAIN, check=f", fail_after: {fail_after}")
    sim = Simulation(tmp_path, text, {"portal": 0.5}, alternating(10, 130), url=store_url)
    await sim.run(until=400)
    kinds = [m[0] for m in sim.messages()]
    assert kinds.count("flapping") == 1, kinds
    assert kinds.count("stable") == 1, kinds
    # fail_after 1 makes it DOWN before flapping shows: that one page, then no chain.
    assert kinds.count("page") == (1 if fail_after == 1 else 0), kinds
    assert kinds.count("resolved") == 0
    sim.close()


def silence(start: float, end: float, reason: str = "silence"):
    return lambda name, t: reason if start <= t < end else None


async def test_a_held_step_goes_to_whoever_is_on_duty_when_it_is_sent(tmp_path, store_url):
    text = config(tmp_path, "{steps: [{notify: on_duty}, {after: 30s, notify: on_duty},"
                            " {after: 100s, notify: on_duty}]}", rotation="every: 1m")
    sim = Simulation(tmp_path, text, {"portal": 0.5}, lambda name, t: t >= 5,
                     held=silence(20, 75), url=store_url)
    await sim.run(until=90)
    oncall = sim.config.sections["oncall"]
    pages = sim.messages("page")
    assert len(pages) == 2, pages
    (_, first_to, _, first_at), (_, second_to, _, second_at) = pages
    planned = first_at + 30
    assert first_to == on_duty(oncall, T0 + first_at, WIB).officer
    assert second_at >= 75  # held by the silence
    sent_duty = on_duty(oncall, T0 + second_at, WIB).officer
    assert second_to == sent_duty
    assert on_duty(oncall, T0 + planned, WIB).officer != sent_duty  # a handoff happened
    sari_or_budi = {"budi": "budi", "sari": "sari"}[sent_duty]
    assert f"Petugas piket: {sari_or_budi}" in sim.body("page")[1]
    sim.close()


async def test_after_a_hold_the_chain_resumes_at_the_first_unsent_step_and_keeps_spacing(
        tmp_path, store_url):
    text = config(tmp_path, "{steps: [{notify: on_duty}, {after: 30s, notify: next},"
                            " {after: 100s, notify: [atasan]}]}")
    sim = Simulation(tmp_path, text, {"portal": 0.5}, lambda name, t: t >= 5,
                     held=silence(10, 200), url=store_url)
    await sim.run(until=400)
    times = [round(m[3]) for m in sim.messages("page")]
    assert len(times) == 3
    first, second, third = times
    assert first < 10  # paged before the silence began
    assert 200 <= second <= 202  # the 30 s step, as soon as the silence ended
    assert third - second == pytest.approx(70, abs=2)  # 100 s - 30 s: spacing kept
    sim.close()


async def test_a_service_still_down_when_its_maintenance_window_ends_is_told_once(
        tmp_path, store_url):
    text = config(tmp_path, "{steps: [{notify: on_duty}]}")
    sim = Simulation(tmp_path, text, {"portal": 0.5}, lambda name, t: t >= 5,
                     held=silence(50, 150, "maintenance"), url=store_url)
    await sim.run(until=300)
    kinds = [m[0] for m in sim.messages()]
    assert kinds == ["page", "still_down"], kinds
    (_, to, title, at), = sim.messages("still_down")
    assert 150 <= at <= 152 and title == "MASIH GANGGUAN: Portal Layanan"
    assert to == on_duty(sim.config.sections["oncall"], T0 + at, WIB).officer
    assert "setelah jendela pemeliharaan berakhir" in sim.body("still_down")[0]
    sim.close()


async def test_reminders_go_to_the_officer_on_duty_and_whoever_acknowledged(
        tmp_path, store_url):
    text = config(tmp_path, "{steps: [{notify: on_duty}, {after: 5s, notify: next}],"
                            " remind_every: 1m}", rotation="every: 2m")
    sim = Simulation(tmp_path, text, {"portal": 0.5}, lambda name, t: t >= 5, url=store_url)
    await sim.run(until=20)
    (inc,) = sim.pager.incidents.values()
    await Actions(sim.pager).acknowledge(inc.id, "budi")
    await sim.run(until=400)
    oncall = sim.config.sections["oncall"]
    reminders = sim.messages("reminder")
    assert reminders
    for _, to, _, at in reminders:
        assert to in {"budi", on_duty(oncall, T0 + at, WIB).officer}
    sim.close()


# -- case 5: a refused first channel ------------------------------------------------------------

async def test_a_refused_first_channel_does_not_delay_the_page(tmp_path, farm, targets,
                                                                json_receiver, store_setting):
    import asyncio
    import time

    from prometheus_client import CollectorRegistry

    from monitor.checking.state import State
    from monitor.config.loader import parse_config
    from monitor.daemon import Daemon

    refused = f"json://127.0.0.1:{farm.refused_port}/"
    text = f"""
siaga: {{listen: "127.0.0.1:0", state_dir: "{tmp_path / 'state'}", store: "{store_setting}"}}
checks:
  - {{name: portal, interval: 1s, timeout: 1s, http: {{url: "{targets.url('portal')}"}}}}
oncall:
  officers:
    budi: {{notify: ["{refused}", "{json_receiver.url('/budi')}"]}}
  rotations: [{{name: piket, every: 1d, officers: [budi]}}]
"""
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    daemon = Daemon(parse_config(text, str(path)), registry=CollectorRegistry())
    await daemon.start()
    try:
        await asyncio.sleep(1.5)
        targets.status["portal"] = 503
        while daemon.engine.runtime["portal"].state.state is not State.DOWN:
            await asyncio.sleep(0.05)
        down = time.monotonic()
        (page,) = await json_receiver.wait_for(1, 5)
        assert time.monotonic() - down < 5  # seconds, not the 6 minutes of backoff
        assert page.json["title"] == "GANGGUAN: portal"
        # The first channel keeps being tried in the background.
        def states(conn):
            return {tuple(r) for r in conn.execute(
                "SELECT channel_index, status FROM outbox WHERE kind='page'")}

        for _ in range(40):  # the receiver answered; the row is marked sent just after
            if (1, "sent") in await daemon.store.run(states):
                break
            await asyncio.sleep(0.05)
        assert await daemon.store.run(states) == {(0, "pending"), (1, "sent")}
    finally:
        await daemon.stop()


async def test_a_page_whose_incident_resolved_before_it_went_out_is_not_delivered(tmp_path,
                                                                                   store_url):
    from prometheus_client import CollectorRegistry

    from monitor.checking.engine import Engine
    from monitor.config.loader import parse_config
    from monitor.delivery.outbox import Outbox
    from monitor.probes.base import ProbeContext
    from monitor.store.engine import Store
    from monitor.store.records import due_messages, enqueue
    from monitor.telemetry.metrics import Metrics

    sent = []

    class Notifier:
        async def send(self, url, message):
            sent.append(message.kind)

    config = parse_config(f'siaga: {{state_dir: "{tmp_path}"}}\n'
                          "checks: [{name: a, tcp: {host: 127.0.0.1, port: 9}}]\n", "x.yaml")
    store = Store(tmp_path, url=store_url)
    metrics = Metrics(CollectorRegistry(), Engine(config, ProbeContext()), "local")
    outbox = Outbox(store, Notifier(), lambda officer: ("json://127.0.0.1:9/",), metrics,
                    is_open=lambda incident_id: incident_id != 7)
    rows = [{"key": f"inc-{i}/{kind}/budi", "incident_id": i, "kind": kind, "recipient": "budi",
             "title": "t", "body": "b", "sms_title": None, "sms_body": None,
             "created_at": 0.0, "due_at": 0.0}
            for i, kind in ((7, "page"), (7, "resolved"), (8, "page"))]
    store.call(enqueue, rows)
    for row in store.call(due_messages, 1e12):
        await outbox._deliver(row)
    assert sent == ["resolved", "page"]  # incident 7's DOWN page is not sent after the fact
    store.close()
