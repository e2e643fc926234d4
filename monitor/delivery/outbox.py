"""The outbox worker: sends what the pager wrote, retries, falls back, never loses a row.

A row is marked sent only after the channel accepted it. A failed send is retried with
jittered backoff (1, 2, 4 … 60 s, ±20 %, so many rows failing together do not retry in step);
a permanent failure, or a channel still failing after MAX_ATTEMPTS tries on it, moves the row
to the officer's next channel, which gets MAX_ATTEMPTS tries of its own; when an officer
has no working channel left, the pager is told so it can escalate at once.

An urgent message (a page, reminder, digest…) does not wait for a failing channel: after its
first failure it moves on to the officer's next channel at once, while a copy keeps trying
the first one in the background ("knows within a minute"). An urgent message whose incident
was resolved meanwhile is not delivered after the fact (the resolved message says it all).

A crash between the channel accepting a message and the row being marked sent (milliseconds)
can repeat that one message after a restart: paging twice is better than not at all.

A message that is not urgent waits for its officer's contact hours
(`monitor.delivery.contact` says which, and why an ending may not wait).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from monitor.delivery import caps, contact
from monitor.delivery.notifiers import Message, Notifier, channel_of
from monitor.errors import NotifyError, StoreError
from monitor.paging.templates import is_sms_url
from monitor.store.engine import Store
from monitor.store.records import (
    OutboxRow,
    due_messages,
    fork_to_next_channel,
    mark_failed,
    mark_obsolete,
    mark_retry,
    mark_sent,
    next_due,
    release,
)
from monitor.telemetry.logs import event
from monitor.telemetry.metrics import Metrics

log = logging.getLogger("siaga.outbox")
MAX_ATTEMPTS = 12  # per channel, over about ten minutes of backoff
BACKOFF_BASE, BACKOFF_MAX = 1.0, 60.0
PARALLEL = 16
STORE_RETRY = 1.0  # seconds before reading the outbox again after a store error
URGENT = ("page", "reminder", "mass", "digest", "flapping", "blind", "self", "still_down")
BACKGROUND = "/background"  # key suffix of the copy that keeps trying a failing channel

Channels = Callable[[str], tuple[str, ...]]  # recipient → apprise URLs, preferred first
Limit = Callable[[str], int]  # channel URL → messages an hour (monitor.delivery.caps)
# (recipient, held count, limit, first held at) → (title, body) of the capped digest
CappedText = Callable[[str, int, int, float], tuple[str, str]]
# (recipient, now) → when their contact hours begin, in the configured zone; None: now
ContactOpens = Callable[[str, float], datetime | None]
IN_FLIGHT_WAIT = 1.0  # seconds an ending waits for a page of its incident being sent


JITTER = 0.2
STOP_GRACE = 5.0  # seconds a stop waits for sends in flight


def backoff(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds before try `attempts + 1` on a channel: doubling from 1 s up to 60 s, ±20 %."""
    delay = float(min(BACKOFF_MAX, BACKOFF_BASE * 2.0 ** max(0, attempts - 1)))
    return delay * (1.0 - JITTER + 2 * JITTER * rng())


class Outbox:
    def __init__(self, store: Store, notifier: Notifier, channels: Channels, metrics: Metrics,
                 *, clock: Callable[[], float] = time.time,
                 on_exhausted: Callable[[OutboxRow], None] = lambda row: None,
                 limit: Limit | None = None,
                 capped_text: CappedText | None = None,
                 is_open: Callable[[int], bool] = lambda incident_id: True,
                 instance: str = "",
                 active: Callable[[], bool] = lambda: True,
                 contact_opens: ContactOpens = lambda recipient, now: None) -> None:
        self.store, self.notifier, self.channels = store, notifier, channels
        self.instance = instance  # whose claims on outbox rows are ours (PostgreSQL)
        self.active = active  # False on a fleet member that is not the pager
        self.is_open = is_open
        self.contact_opens = contact_opens
        self._recheck = False  # the contact hours may have changed: decide held rows again
        self.limit, self.capped_text = limit, capped_text
        self.metrics, self.clock, self.on_exhausted = metrics, clock, on_exhausted
        self._wake = asyncio.Event()
        self._busy: set[int] = set()
        self._limit = asyncio.Semaphore(PARALLEL)
        self._tasks: set[asyncio.Task[None]] = set()
        self._failing: dict[str, str] = {}  # channel key → the error already reported
        # (recipient, channel key) → sends past the cap check and not yet recorded as sent
        self._in_flight: dict[tuple[str, str], int] = {}
        self._cap_locks: dict[tuple[str, str], asyncio.Lock] = {}

    def wake(self) -> None:
        self._wake.set()

    def contact_hours_changed(self) -> None:
        """A reload: held messages are decided again under the hours the config gives now."""
        self._recheck = True
        self.wake()

    async def run(self) -> None:
        await self.store.run(release, self.instance)  # claims of this instance's last life
        while True:
            self._wake.clear()
            try:
                upcoming = await self._dispatch() if self.active() else None
            except StoreError as exc:  # a database restarting (PostgreSQL): keep the loop
                event(log, "outbox_store_failed", logging.WARNING, error=str(exc))
                upcoming = self.clock() + STORE_RETRY
            wait = 5.0 if upcoming is None else max(0.0, min(5.0, upcoming - self.clock()))
            if wait > 0:
                try:
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(0.05)  # rows in flight; look again shortly

    async def _dispatch(self) -> float | None:
        """Start a send for each due row; return when the next one is due."""
        if self._recheck:
            self._recheck = False
            await self.store.run(contact.wake_held, self.clock())
        for row in await self.store.run(due_messages, self.clock(), 100, self.instance):
            if row.id not in self._busy:
                self._busy.add(row.id)
                task = asyncio.create_task(self._deliver(row))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return await self.store.run(next_due)

    async def stop(self) -> None:
        """Let sends in flight finish and record their outcome (a message the channel took
        but not marked sent would go out again after the restart), for up to STOP_GRACE."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=STOP_GRACE)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.store.run(release, self.instance)  # a restart sends them at once

    async def _deliver(self, row: OutboxRow) -> None:
        try:
            async with self._limit:
                await self._send(row)
        except StoreError as exc:  # the row stays pending; it is read again when due
            event(log, "outbox_store_failed", logging.WARNING, key=row.key, error=str(exc))
        finally:
            self._busy.discard(row.id)
            self.wake()

    async def _send(self, row: OutboxRow) -> None:
        if (row.kind in URGENT and row.incident_id is not None
                and not self.is_open(row.incident_id)):
            await self.store.run(mark_obsolete, row.id)
            event(log, "obsolete", key=row.key)
            return
        if contact.may_wait(row.kind) and await self._held(row):
            return
        urls = self.channels(row.recipient)
        if row.channel_index >= len(urls):
            await self._exhausted(row, "no channel configured")
            return
        url = urls[row.channel_index]
        channel, key = channel_of(url), caps.channel_key(url)
        slot = None  # a place under the officer's cap on this channel, taken until sent
        if self.limit is not None and row.kind not in caps.EXEMPT:
            slot, limit = (row.recipient, key), self.limit(url)
            if not await self._take_place(slot, limit):
                await self.store.run(caps.hold, row, key, self.clock())
                self.metrics.suppressed.labels("rate_limit").inc()
                event(log, "rate_limited", key=row.key, channel=channel, limit=limit)
                return
        try:
            if row.kind == "capped":
                row = await self._capped(row, url, key)
            sms = is_sms_url(url) and row.sms_body is not None
            message = Message(title=row.sms_title or "" if sms else row.title,
                              body=row.sms_body or "" if sms else row.body, kind=row.kind,
                              key=row.key)
            try:
                await self.notifier.send(url, message)
            except NotifyError as exc:
                self.metrics.notifications.labels(channel, "failed").inc()
                self._report_failure(row, channel, key, str(exc), exc.permanent)
                await self._failed(row, urls, str(exc), exc.permanent)
                return
            if slot is None:
                await self.store.run(mark_sent, row.id, self.clock(), key)
            else:  # counted from the store from now on, never twice nor not at all
                async with self._cap_lock(slot):
                    await self.store.run(mark_sent, row.id, self.clock(), key)
                    self._give_place(slot)
                    slot = None
        finally:
            if slot is not None:
                self._give_place(slot)
        self.metrics.notifications.labels(channel, "sent").inc()
        if self._failing.pop(key, None) is not None:
            event(log, "channel_recovered", logging.WARNING, channel=channel)
        event(log, "sent", key=row.key, channel=channel, attempts=row.attempts + 1)

    def _cap_lock(self, slot: tuple[str, str]) -> asyncio.Lock:
        lock = self._cap_locks.get(slot)
        if lock is None:
            lock = self._cap_locks[slot] = asyncio.Lock()
        return lock

    async def _take_place(self, slot: tuple[str, str], limit: int) -> bool:
        """A place under the cap for one send, or False when the hour is full. Sends run in
        parallel: counting only the sent rows let every send of a storm that started before
        the first was recorded pass (6 pages under a cap of 5, seen when 12 incidents opened
        within a second), so places taken by sends in flight count too."""
        async with self._cap_lock(slot):
            sent = await self.store.run(caps.sent_last_hour, slot[0], slot[1], self.clock())
            if sent + self._in_flight.get(slot, 0) >= limit:
                return False
            self._in_flight[slot] = self._in_flight.get(slot, 0) + 1
            return True

    def _give_place(self, slot: tuple[str, str]) -> None:
        left = self._in_flight[slot] - 1
        if left:
            self._in_flight[slot] = left
        else:
            del self._in_flight[slot]

    async def _held(self, row: OutboxRow) -> bool:
        """Hold `row` until its officer's contact hours begin, if they are off now."""
        now = self.clock()
        opens = self.contact_opens(row.recipient, now)
        if opens is None:
            return False
        if row.kind in contact.ENDINGS and row.incident_id is not None:
            reach = await self.store.run(contact.reach, row.incident_id, row.recipient)
            if reach.told:
                return False
            if reach.pending & self._busy:  # a page of it is being sent: decide after it
                await self.store.run(contact.hold, row, now + IN_FLIGHT_WAIT, row.held_until,
                                     now)
                return True
        until = opens.timestamp()
        if row.held_until == until:  # decided again after a reload: the same window
            await self.store.run(contact.hold, row, until, until, now)
            return True
        when = opens.strftime("%Y-%m-%d %H:%M %Z")
        await self.store.run(contact.hold, row, until, until, now,
                             f"{row.kind} to {row.recipient} held until {when}: contact hours")
        self.metrics.suppressed.labels("contact_hours").inc()
        event(log, "held", officer=row.recipient, kind=row.kind,
              until=opens.isoformat(timespec="minutes"), key=row.key)
        return True

    def _report_failure(self, row: OutboxRow, channel: str, key: str, error: str,
                        permanent: bool) -> None:
        """Warn once per channel and error: a placeholder address in the config fails the
        same way for every message and every retry, and a warning each time buries the rest
        of the log. Repeats go to debug until the channel works again or fails differently."""
        repeat = self._failing.get(key) == error
        self._failing[key] = error
        event(log, "send_failed", logging.DEBUG if repeat else logging.WARNING, key=row.key,
              channel=channel, error=error, permanent=permanent, attempts=row.attempts + 1,
              **({} if repeat else {"repeats": "logged at debug until it works"}))

    async def _capped(self, row: OutboxRow, url: str, key: str) -> OutboxRow:
        """Fill in the capped digest: how many messages were held since when."""
        if row.title:  # filled on an earlier try
            return row
        held = await self.store.run(caps.take_held, row.recipient, key)
        limit = self.limit(url) if self.limit else 0
        title, body = (self.capped_text(row.recipient, held.count, limit, held.first_at)
                       if self.capped_text else (f"{held.count} more updates", ""))
        await self.store.run(caps.fill, row.id, title, body)
        return replace(row, title=title, body=body)

    async def _failed(self, row: OutboxRow, urls: tuple[str, ...], error: str,
                      permanent: bool) -> None:
        attempts = row.attempts + 1  # tries on this channel
        background = row.key.endswith(BACKGROUND)
        more = row.channel_index + 1 < len(urls)
        if (not permanent and attempts == 1 and more and row.kind in URGENT
                and not background):
            retry_at = self.clock() + backoff(attempts)
            await self.store.run(fork_to_next_channel, row, self.clock(), retry_at, error,
                                 BACKGROUND)
            return
        if background and (permanent or attempts >= MAX_ATTEMPTS):
            await self.store.run(mark_failed, row.id, error)  # the copy on the next channel
            return  # carries the message
        if not permanent and attempts < MAX_ATTEMPTS:
            due = self.clock() + backoff(attempts)
            await self.store.run(mark_retry, row.id, due, error, row.channel_index, attempts)
        elif row.channel_index + 1 < len(urls):
            await self.store.run(mark_retry, row.id, self.clock(), error,
                                 row.channel_index + 1, 0)
        else:
            await self._exhausted(row, error)

    async def _exhausted(self, row: OutboxRow, error: str) -> None:
        await self.store.run(mark_failed, row.id, error)
        event(log, "undeliverable", logging.ERROR, key=row.key, recipient=row.recipient)
        self.on_exhausted(row)
