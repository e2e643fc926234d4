"""Siaga as an Alertmanager webhook receiver, driven by direct POSTs of Alertmanager's
notification format: one incident per fingerprint, paged through the roster like a check's,
repeats page nobody again, "resolved" (or absence from a complete group notification) ends
it, a restart keeps it; the token is required and bad payloads get 400 naming the fault.
(`tests/test_alertmanager_receiver_real.py` does the same through a real Alertmanager.)"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import aiohttp
import pytest

from monitor.checking.state import State
from monitor.incidents.am_webhook import AmAlert, PayloadError, parse, view
from monitor.incidents.model import Grouping, Kind, Open, View
from monitor.incidents.reconcile import reconcile
from tests.daemons import start, until

API_TOKEN = "api-token-0123456789abcdef"
AM_TOKEN = "am-token-0123456789abcdef"
ONCALL = """\
oncall:
  officers:
    budi: {{name: Budi Santoso, notify: ["{budi}"]}}
    sari: {{name: Sari Dewi, notify: ["{sari}"]}}
  rotations:
    - {{name: piket, every: 1d, handoff: "08:00", officers: [budi, sari]}}
  overrides:
    - {{officer: budi, from: "2020-01-01 00:00", to: "2099-01-01 00:00"}}
"""
CONFIG = """\
siaga: {{listen: "127.0.0.1:0", state_dir: "{state}", api_token: "{api}", store: "{store}"}}
checks: []
alertmanager_receiver: {{token: "{am}"}}
""" + ONCALL


def config(tmp_path, receiver, store: str) -> str:
    return CONFIG.format(state=tmp_path / "state", api=API_TOKEN, am=AM_TOKEN, store=store,
                         budi=receiver.url("/budi"), sari=receiver.url("/sari"))


def alert(status: str = "firing", fingerprint: str = "3f1c9a7d2b6e4a10",
          starts: str = "2026-11-30T20:00:00Z", **labels: str) -> dict[str, Any]:
    return {"status": status, "fingerprint": fingerprint,
            "labels": {"alertname": "ErrorBudgetBurn", "check": "sipd", "severity": "critical",
                       **labels},
            "annotations": {"summary": "SIPD burns its error budget 14x",
                            "description": "5% of probes fail over 1h and 5m"},
            "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph"}


def notification(*alerts: dict[str, Any], group: str = '{}:{alertname="ErrorBudgetBurn"}',
                 truncated: int = 0) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {"version": "4", "groupKey": group, "truncatedAlerts": truncated,
            "status": "firing" if firing else "resolved", "receiver": "siaga",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093", "alerts": list(alerts)}


async def post(daemon, body: Any, token: str | None = AM_TOKEN,
               raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{daemon.server.port}/api/v1/alertmanager"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http:
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with http.post(url, headers=headers, **kwargs) as r:
            return r.status, await r.json()


def pages(receiver, path: str) -> list[str]:
    return [p.json["title"] + "\n" + p.json["message"] for p in receiver.posts
            if p.path == path]


async def test_a_firing_alert_pages_once_and_its_resolution_once(tmp_path, json_receiver,
                                                                 store_setting):
    daemon = await start(tmp_path, config(tmp_path, json_receiver, store_setting))
    try:
        assert await post(daemon, notification(alert())) == (
            200, {"firing": 1, "resolved": 0, "new": 1, "ended": 0})
        await json_receiver.wait_for(1, timeout=5)
        page = pages(json_receiver, "/budi")[0]
        assert page.startswith("PERINGATAN: SIPD burns its error budget 14x")
        assert "5% of probes fail over 1h and 5m" in page and "check=sipd" in page
        assert re.search(r"/ack/[A-Za-z0-9_\-.]+", page)
        [inc] = daemon.pager.incidents.values()
        assert inc.kind is Kind.ALERT and inc.check == "alert:3f1c9a7d2b6e4a10"

        for _ in range(3):  # Alertmanager's repeat_interval and group changes
            assert (await post(daemon, notification(alert())))[0] == 200
        await asyncio.sleep(1.5)
        assert len(json_receiver.posts) == 1 and len(daemon.pager.incidents) == 1

        assert (await post(daemon, notification(alert("resolved"))))[1]["ended"] == 1
        await json_receiver.wait_for(2, timeout=5)
        await asyncio.sleep(0.5)
        assert len(json_receiver.posts) == 2
        assert pages(json_receiver, "/budi")[1].startswith("PULIH: SIPD burns")
        assert not daemon.pager.incidents
    finally:
        await daemon.stop()


async def test_a_firing_alert_survives_a_restart_and_resolves_after_it(
        tmp_path, json_receiver, store_setting):
    text = config(tmp_path, json_receiver, store_setting)
    daemon = await start(tmp_path, text)
    try:
        await post(daemon, notification(alert()))
        await json_receiver.wait_for(1, timeout=5)
        await asyncio.sleep(0.3)  # the outbox marks it sent (a stop inside the send repeats it)
    finally:
        await daemon.stop()
    daemon = await start(tmp_path, text)
    try:
        await asyncio.sleep(1.5)  # a pager pass or two: nothing new to say
        assert len(json_receiver.posts) == 1 and len(daemon.pager.incidents) == 1
        await post(daemon, notification(alert()))  # the repeat after the restart
        await post(daemon, notification(alert("resolved")))
        await json_receiver.wait_for(2, timeout=5)
        await asyncio.sleep(0.5)
        assert [p.path for p in json_receiver.posts] == ["/budi", "/budi"]
        assert not daemon.pager.incidents
    finally:
        await daemon.stop()


async def test_an_alert_missing_from_its_groups_full_notification_is_resolved(
        tmp_path, json_receiver, store_setting):
    daemon = await start(tmp_path, config(tmp_path, json_receiver, store_setting))
    try:
        other = alert(fingerprint="aa00000000000001", instance="b")
        await post(daemon, notification(alert(), other))
        await until(lambda: len(daemon.pager.incidents) == 2, 5, "two incidents")
        await post(daemon, notification(alert(), truncated=1))  # max_alerts cut: proves nothing
        await asyncio.sleep(1.2)
        assert len(daemon.pager.incidents) == 2
        # Its "resolved" was flushed while Siaga was away (or send_resolved is off):
        await post(daemon, notification(alert()))
        await until(lambda: len(daemon.pager.incidents) == 1, 5, "the absent one resolved")
        [left] = daemon.pager.incidents.values()
        assert left.check == "alert:3f1c9a7d2b6e4a10"
    finally:
        await daemon.stop()


async def test_an_alert_resolved_by_hand_is_not_paged_again_until_a_new_episode(
        tmp_path, json_receiver, store_setting):
    daemon = await start(tmp_path, config(tmp_path, json_receiver, store_setting))
    try:
        await post(daemon, notification(alert()))
        await json_receiver.wait_for(1, timeout=5)
        [inc] = daemon.pager.incidents.values()
        await daemon.actions.resolve(inc.id, "budi", "rule is noisy, fixing it")
        await json_receiver.wait_for(2, timeout=5)  # the "resolved" to budi
        await asyncio.sleep(0.3)
        await post(daemon, notification(alert()))  # still firing: the repeat
        await asyncio.sleep(1.5)
        assert not daemon.pager.incidents and len(json_receiver.posts) == 2
    finally:
        await daemon.stop()
    daemon = await start(tmp_path, config(tmp_path, json_receiver, store_setting))
    try:  # the store remembers that a person ended it
        await post(daemon, notification(alert()))
        await asyncio.sleep(1.5)
        assert not daemon.pager.incidents and len(json_receiver.posts) == 2
        await post(daemon, notification(alert(starts="2026-11-30T23:00:00Z")))
        await json_receiver.wait_for(3, timeout=5)  # fired again later: a new incident
        assert len(daemon.pager.incidents) == 1
    finally:
        await daemon.stop()


async def test_incidents_opened_by_one_notification_are_listed_newest_first(
        tmp_path, json_receiver, store_setting):
    # Without ONCALL's 79-year override: who is on duty during it takes ~0.8 s to work out
    # (the roster walks every daily handoff of the override), 4 times per incident.
    text = config(tmp_path, json_receiver, store_setting)
    text = text[:text.index("  overrides:")]
    daemon = await start(tmp_path, text)
    try:  # one pager pass opens them all: many incidents share one opened_at
        await post(daemon, notification(*(alert(fingerprint=f"{i:016x}") for i in range(60))))
        await until(lambda: len(daemon.pager.incidents) == 60, 5, "60 incidents")
        url = f"http://127.0.0.1:{daemon.server.port}/api/v1/incidents?limit=20"
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as r:
            listed = (await r.json())["incidents"]
        newest = sorted(daemon.pager.incidents, reverse=True)[:20]
        assert [i["id"] for i in listed] == newest
    finally:
        await daemon.stop()


async def test_the_receiver_needs_its_token_or_the_api_token(tmp_path, json_receiver,
                                                             store_setting):
    daemon = await start(tmp_path, config(tmp_path, json_receiver, store_setting))
    try:
        for token in (None, "wrong", AM_TOKEN + "x", ""):
            status, body = await post(daemon, notification(alert()), token=token)
            assert status == 401 and "token" in body["error"]
        assert not daemon.alerts.firing
        assert (await post(daemon, notification(), token=API_TOKEN))[0] == 200
        assert (await post(daemon, notification(), token=AM_TOKEN))[0] == 200
    finally:
        await daemon.stop()


BAD = [
    ([], "expected a JSON object"),
    ({"version": "3", "alerts": []}, 'version: expected "4"'),
    ({"version": "4"}, "alerts: missing"),
    ({"alerts": {}}, "alerts: expected a list"),
    ({"alerts": [1]}, "alerts[0]: expected an object"),
    ({"alerts": [{**alert(), "status": "burning"}]}, 'alerts[0].status: expected "firing"'),
    ({"alerts": [{**alert(), "fingerprint": "../x"}]}, "alerts[0].fingerprint"),
    ({"alerts": [{**alert(), "labels": {"severity": 5}}]},
     "alerts[0].labels.severity: expected a string, got a number"),
    ({"alerts": [{**alert(), "startsAt": "yesterday"}]}, "alerts[0].startsAt: expected an RFC"),
    ({"alerts": [{**alert(), "annotations": {"summary": "\ud800"}}]},
     "alerts[0].annotations.summary: not valid Unicode"),
    ({"alerts": [], "truncatedAlerts": -1}, "truncatedAlerts: expected a count"),
]


@pytest.mark.parametrize(("body", "problem"), BAD)
def test_parse_names_what_is_wrong(body, problem):
    with pytest.raises(PayloadError, match=re.escape(problem)):
        parse(body)


async def test_bad_payloads_are_refused_with_400_naming_the_fault(tmp_path, json_receiver,
                                                                  store_setting):
    daemon = await start(tmp_path, config(tmp_path, json_receiver, store_setting))
    try:
        status, body = await post(daemon, None, raw=b"{not json")
        assert status == 400 and "not JSON" in body["error"]
        status, body = await post(daemon, {"alerts": [{**alert(), "status": "burning"}]})
        assert status == 400 and "alerts[0].status" in body["error"]
        big = notification(*(alert(fingerprint=f"{i:016x}") for i in range(400)))
        assert (await post(daemon, big))[0] == 200  # beyond the API's usual 64 KiB
        assert len(daemon.alerts.firing) == 400
    finally:
        await daemon.stop()


def test_a_firing_alert_is_one_alert_incident_not_grouped_nor_held_by_blindness():
    firing = [view(AmAlert(f"f{i}", True, {"alertname": "A", "group": "Keuangan"},
                           {"summary": "s"}, None), "default") for i in range(3)]
    views = {v.name: v for v in firing}
    views["uplink"] = View("uplink", "net", "Uplink", State.DOWN, connectivity=True)
    actions = reconcile(views, [], time.time(), Grouping())
    opened = [a for a in actions if isinstance(a, Open)]
    assert sorted(a.view.name for a in opened if a.kind is Kind.ALERT) == ["alert:f0",
                                                                           "alert:f1",
                                                                           "alert:f2"]
    assert all(a.suppressed is None for a in opened)


def test_the_policy_label_picks_the_escalation_policy():
    labels = {"alertname": "A", "siaga_escalation": "infra"}
    assert view(AmAlert("f", True, labels, {}, None), "default").policy == "infra"
    assert view(AmAlert("f", True, {"alertname": "A"}, {}, None), "night").policy == "night"


def test_an_alert_page_in_english_keeps_the_rules_words_and_fits_an_sms():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from monitor.paging.templates import SMS_LIMIT, PageContext, render

    ctx = PageContext(kind="page", incident_id=7, check_title="SIPD burns its budget",
                      since=datetime(2026, 11, 30, 3, 12, tzinfo=ZoneInfo("Asia/Jakarta")),
                      reason="probe timeout after 10s on 5% [check=sipd]", alert=True,
                      ack_url="https://siaga.example.go.id/ack/" + "x" * 60)
    title, body = render(ctx, "en")
    assert title == "ALERT: SIPD burns its budget"
    assert body.startswith("Alert from Alertmanager: SIPD burns its budget, firing since")
    assert "Reason: probe timeout after 10s on 5% [check=sipd]" in body
    title, body = render(ctx, "id")
    assert "Gejala: probe timeout after 10s on 5%" in body  # not "10 detik"
    sms_title, sms_body = render(ctx, "en", sms=True)
    assert len(sms_title) + 2 + len(sms_body) <= SMS_LIMIT and "/ack/" in sms_body
