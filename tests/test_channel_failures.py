"""A channel that cannot work (a placeholder address left in checks.yaml) is reported once,
not once per message and retry: the log stays readable for what else happens."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from monitor.checking.engine import Engine
from monitor.config.loader import parse_config
from monitor.delivery.notifiers import AppriseNotifier, _ToSiagaLog
from monitor.delivery.outbox import Outbox
from monitor.probes.base import ProbeContext
from monitor.store.engine import Store
from monitor.store.records import due_messages, enqueue, next_due
from monitor.telemetry.metrics import Metrics

PLACEHOLDER = "tgram://TOKEN_BOT_ANDA/ID_CHAT"  # apprise cannot use it: no real bot token
REFUSED = "mailto://127.0.0.1:9?to=budi@example.go.id&from=siaga@example.go.id"


async def deliver_pages(tmp_path, store_url: str, url: str, pages: int) -> None:
    now = [1_000_000.0]
    config = parse_config(f'siaga: {{state_dir: "{tmp_path}"}}\n'
                          "checks: [{name: a, tcp: {host: 127.0.0.1, port: 9}}]\n", "x.yaml")
    store = Store(tmp_path, url=store_url)
    metrics = Metrics(CollectorRegistry(), Engine(config, ProbeContext()), "local")
    outbox = Outbox(store, AppriseNotifier(timeout=5), lambda officer: (url,), metrics,
                    clock=lambda: now[0])
    store.call(enqueue, [{"key": f"inc-{n}/0/budi", "incident_id": n, "kind": "page",
                          "recipient": "budi", "title": f"GANGGUAN: {n}", "body": "x",
                          "sms_title": None, "sms_body": None, "created_at": now[0],
                          "due_at": now[0]} for n in range(1, pages + 1)])
    while (upcoming := store.call(next_due)) is not None:
        now[0] = max(now[0], upcoming)
        for row in store.call(due_messages, now[0]):
            await outbox._deliver(row)
    store.close()


@pytest.fixture(autouse=True)
def apprise_repeats_forgotten() -> None:
    """apprise's own warnings are passed on once an hour per process (notifiers._ToSiagaLog):
    forget what an earlier test (the other engine's run of this one) made it say."""
    for handler in logging.getLogger("apprise").handlers:
        if isinstance(handler, _ToSiagaLog):
            handler._said.clear()


def warnings_about_the_channel(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and "event=undeliverable" not in r.getMessage()]


async def test_a_placeholder_channel_is_reported_once_for_many_pages(
    tmp_path, store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await deliver_pages(tmp_path, store_url, PLACEHOLDER, pages=3)
    lines = warnings_about_the_channel(caplog)
    ours = [line for line in lines if "event=send_failed" in line]
    assert len(ours) == 1 and "channel=tgram" in ours[0] and "permanent=True" in ours[0]
    assert len(lines) == 2, lines  # ours, and apprise's own reason once
    assert "TOKEN_BOT_ANDA" not in caplog.text


async def test_a_refusing_mail_server_is_reported_once_over_all_retries(
    tmp_path, store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await deliver_pages(tmp_path, store_url, REFUSED, pages=2)  # 12 tries each
    lines = warnings_about_the_channel(caplog)
    assert len([line for line in lines if "event=send_failed" in line]) == 1
    assert len(lines) <= 2, lines  # ours, and apprise's own reason once
