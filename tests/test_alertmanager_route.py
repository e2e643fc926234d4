"""Two Siaga replicas route incidents to one real Alertmanager: one notification, not two."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from tests.test_notifiers import ALERTMANAGER, running_alertmanager

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(ALERTMANAGER is None, reason="prometheus-alertmanager missing")]


def replica(tmp_path, name: str, am: str, url: str, store: str) -> Daemon:
    text = f"""
siaga: {{location: jakarta-1, listen: "127.0.0.1:0", state_dir: "{tmp_path / name}",
        store: "{store}"}}
defaults: {{interval: 200ms, timeout: 150ms, fail_after: 2}}
alerting: {{alertmanager: ["{am}"], alertmanager_resend: 2s}}
checks:
  - {{name: sipd, title: SIPD, group: Keuangan, http: {{url: "{url}"}}}}
"""
    return Daemon(parse_config(text, str(tmp_path / f"{name}.yaml")), registry=CollectorRegistry())


async def test_two_replicas_posting_the_same_incident_notify_once(
        tmp_path, targets, json_receiver, fresh_store_setting):
    async with running_alertmanager(tmp_path, json_receiver.base + "/am-hook") as am:
        # each replica its own store (one Siaga per database: README, PostgreSQL store)
        a = replica(tmp_path, "a", am, targets.url("sipd"), fresh_store_setting())
        b = replica(tmp_path, "b", am, targets.url("sipd"), fresh_store_setting())
        await a.start()
        await b.start()
        try:
            targets.status["sipd"] = 503
            [post] = await json_receiver.wait_for(1, timeout=15)
            await asyncio.sleep(4)  # both replicas re-posted meanwhile
            assert len(json_receiver.posts) == 1
            (alert,) = post.json["alerts"]
            assert alert["labels"] == {"alertname": "SiagaCheckDown", "check": "sipd",
                                       "group": "Keuangan", "location": "jakarta-1",
                                       "severity": "critical"}
            assert "status 503" in alert["annotations"]["description"]
            sent = a.registry.get_sample_value(
                "siaga_notifications_total", {"channel": "alertmanager", "outcome": "sent"})
            assert sent >= 2
        finally:
            await a.stop()
            await b.stop()
