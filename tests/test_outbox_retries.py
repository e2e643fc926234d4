"""The outbox keeps the README's promise: 12 tries a channel with jittered backoff, then the
officer's next channel with 12 tries of its own, then the pager is told. Driven with an
injected clock: the ten minutes of backoff take milliseconds."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry

from monitor.checking.engine import Engine
from monitor.config.loader import parse_config
from monitor.delivery.notifiers import Message
from monitor.delivery.outbox import BACKOFF_MAX, MAX_ATTEMPTS, Outbox
from monitor.errors import NotifyError
from monitor.probes.base import ProbeContext
from monitor.store.engine import Store
from monitor.store.records import due_messages, enqueue, next_due
from monitor.telemetry.metrics import Metrics

FIRST, SECOND = "json://127.0.0.1:9/first", "json://127.0.0.1:9/second"


class AlwaysDown:
    """A notifier whose every channel fails transiently; it remembers when each try came."""

    def __init__(self, clock, permanent: frozenset[str] = frozenset()) -> None:
        self.clock, self.permanent = clock, permanent
        self.tries: dict[str, list[float]] = {}

    async def send(self, url: str, message: Message) -> None:
        self.tries.setdefault(url, []).append(self.clock())
        if url in self.permanent:
            raise NotifyError("unknown recipient", permanent=True)
        raise NotifyError("connection refused")


async def deliver_until_exhausted(tmp_path, url: str, permanent=frozenset()) -> AlwaysDown:
    now = [1_000_000.0]
    config = parse_config(f'siaga: {{state_dir: "{tmp_path}"}}\n'
                          "checks: [{name: a, tcp: {host: 127.0.0.1, port: 9}}]\n", "x.yaml")
    store = Store(tmp_path, url=url)
    metrics = Metrics(CollectorRegistry(), Engine(config, ProbeContext()), "local")
    notifier, exhausted = AlwaysDown(lambda: now[0], permanent), []
    outbox = Outbox(store, notifier, lambda officer: (FIRST, SECOND), metrics,
                    clock=lambda: now[0], on_exhausted=exhausted.append)
    store.call(enqueue, [{"key": "inc-1/0/budi", "incident_id": 1, "kind": "page",
                          "recipient": "budi", "title": "GANGGUAN: a", "body": "a",
                          "sms_title": None, "sms_body": None, "created_at": now[0],
                          "due_at": now[0]}])
    # Until nothing is pending: a page also keeps trying its first channel in the background.
    while (upcoming := store.call(next_due)) is not None:
        now[0] = max(now[0], upcoming)
        for row in store.call(due_messages, now[0]):
            await outbox._deliver(row)
    assert exhausted
    store.close()
    return notifier


async def test_each_channel_gets_12_jittered_tries_then_the_pager_is_told(tmp_path, store_url):
    notifier = await deliver_until_exhausted(tmp_path, store_url)
    assert len(notifier.tries[FIRST]) == MAX_ATTEMPTS == 12
    assert len(notifier.tries[SECOND]) == MAX_ATTEMPTS
    gaps = [b - a for a, b in zip(notifier.tries[FIRST], notifier.tries[FIRST][1:], strict=False)]
    assert 0.8 <= gaps[0] <= 1.2 and 1.6 <= gaps[1] <= 2.4  # 1 s, 2 s, … ±20 %
    assert max(gaps) <= BACKOFF_MAX * 1.2
    assert len({round(g / min(BACKOFF_MAX, 2.0 ** i), 6) for i, g in enumerate(gaps)}) > 1


async def test_after_a_permanent_failure_the_next_channel_still_gets_12_tries(tmp_path,
                                                                             store_url):
    notifier = await deliver_until_exhausted(tmp_path, store_url, frozenset({FIRST}))
    assert len(notifier.tries[FIRST]) == 1
    assert len(notifier.tries[SECOND]) == MAX_ATTEMPTS  # not 23


class Slow:
    """A channel that takes a while to accept each message, as a real one does."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, url: str, message: Message) -> None:
        await asyncio.sleep(0.05)
        self.sent.append(message.title)


async def test_pages_sent_at_once_do_not_pass_the_cap_together(tmp_path, store_url):
    # Eight pages due in the same second, a cap of five: the sends run in parallel, and
    # counting only what the store records as sent let a sixth through (seen in a storm).
    config = parse_config(f'siaga: {{state_dir: "{tmp_path}"}}\n'
                          "checks: [{name: a, tcp: {host: 127.0.0.1, port: 9}}]\n", "x.yaml")
    store = Store(tmp_path, url=store_url)
    metrics = Metrics(CollectorRegistry(), Engine(config, ProbeContext()), "local")
    notifier = Slow()
    outbox = Outbox(store, notifier, lambda officer: (FIRST,), metrics, limit=lambda url: 5)
    now = time.time()
    store.call(enqueue, [{"key": f"inc-{i}/0/budi", "incident_id": None, "kind": "page",
                          "recipient": "budi", "title": f"GANGGUAN: s{i}", "body": "x",
                          "sms_title": None, "sms_body": None, "created_at": now,
                          "due_at": now} for i in range(8)])
    rows = store.call(due_messages, now + 1)
    await asyncio.gather(*(outbox._deliver(row) for row in rows))
    assert len(notifier.sent) == 5
    assert metrics.registry.get_sample_value(
        "siaga_notifications_suppressed_total", {"reason": "rate_limit"}) == 3
    store.close()
