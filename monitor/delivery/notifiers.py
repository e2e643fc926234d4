"""Delivery of one rendered message to one apprise URL, behind the small `Notifier` interface.

The outbox decides what to send and when to retry; a notifier only sends and says, through
`NotifyError.permanent`, whether retrying can help.

What apprise (2.x) tells us about a failure: `Apprise.add()` returns False for a URL it
cannot parse or has no plugin for (permanent). `async_notify()` returns an `AppriseResult`
whose status is SUCCESS, FAILURE or TIMEOUT; it carries no HTTP status as data. The status
only appears in the text of the plugin's captured warnings, by a convention most HTTP
plugins follow ("… error=404."). We read that code: a 4xx other than 408/425/429 means the
request itself is wrong (bad token, unknown chat) and is permanent; anything else (5xx,
connection refused, timeout, SMTP errors, no code at all) is retryable. SMTP reply codes are
only logged at DEBUG level, so mail failures are always reported as retryable.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

from monitor.errors import NotifyError
from monitor.process import short_switch_interval
from monitor.telemetry.logs import event, kv

if TYPE_CHECKING:
    import apprise


def _import_imghdr_quietly() -> None:
    """apprise's e-mail plugin imports the stdlib `imghdr` for PGPy, deprecated since 3.11.
    The warning is theirs, not ours, and would otherwise surface on the first mailto://
    page (and fail tests that turn warnings into errors). Importing it first, on the calling
    thread, keeps it out of every later import: `warnings.catch_warnings` changes
    process-wide state, which must not happen on a worker thread (`preload`)."""
    if "imghdr" in sys.modules:
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
        with contextlib.suppress(ImportError):  # gone in 3.13: nothing to warn about
            import imghdr  # noqa: F401


@functools.cache
def load_apprise() -> ModuleType:
    """apprise, imported on first use: with its plugins it is ~0.15 s of `siaga run`'s start,
    which a daemon does not need before its first page (`preload`)."""
    _import_imghdr_quietly()
    import apprise
    import apprise.plugins.email
    return apprise


def _load_plugins() -> None:
    ap = load_apprise()
    # apprise imports its plugins with its first `add` (~0.1 s): made here, not by a page
    ap.Apprise(asset=ap.AppriseAsset(async_mode=True)).add("json://localhost/")


async def preload() -> None:
    """apprise and its plugins, imported on a worker thread: the daemon calls this a
    moment after probing starts, so that its first page waits for neither (~0.25 s: on the
    event loop, the first page of a 20,000-check start took ~0.26 s instead of ~0.02 s)."""
    _import_imghdr_quietly()
    with short_switch_interval():
        await asyncio.to_thread(_load_plugins)


# The notifier's own kinds, plus the template kinds (monitor.paging.templates.KINDS) that
# callers may pass straight through; both map onto apprise's four notification types.
KINDS = frozenset({"page", "reminder", "resolved", "blind", "ack", "info",
                   "acknowledged", "flapping", "stable", "blind_over", "self", "self_over",
                   "mass", "digest", "capped", "still_down"})
DEFAULT_TIMEOUT = 15.0
# Apprise's deadline is cooperative (a worker thread cannot be interrupted); ours is the
# hard stop for the awaiting task, a little later so apprise can report TIMEOUT itself.
_GRACE = 2.0
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31})://")
_HTTP_CODE = re.compile(r"\berror=(\d{3})\b")
# 4xx answers that mean "later", not "never".
_TRANSIENT_4XX = frozenset({408, 425, 429})

# apprise.NotifyType's member for each kind
_NOTIFY_TYPE = {
    "page": "FAILURE",
    "reminder": "WARNING",
    "blind": "WARNING",
    "self": "WARNING",
    "self_over": "SUCCESS",
    "mass": "FAILURE",
    "digest": "FAILURE",
    "capped": "INFO",
    "still_down": "WARNING",
    "resolved": "SUCCESS",
    "ack": "INFO",
    "info": "INFO",
    "acknowledged": "INFO",
    "flapping": "WARNING",
    "stable": "SUCCESS",
    "blind_over": "SUCCESS",
}

log = logging.getLogger("siaga.notify")
REPEAT_QUIET = 3600.0  # seconds an identical apprise warning stays unrepeated


@dataclass(frozen=True, slots=True)
class Message:
    """One rendered message. `key` is a stable idempotency id such as
    "inc-12/page/r0s1/budi": the outbox uses it so a page is sent once per recipient."""

    title: str
    body: str
    kind: str
    key: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown message kind {self.kind!r}; expected one of {sorted(KINDS)}")


class Notifier(Protocol):
    """Sends one message to one destination URL."""

    async def send(self, url: str, message: Message) -> None:
        """Deliver `message` or raise NotifyError(permanent=…)."""
        ...


def channel_of(url: str) -> str:
    """The URL's scheme ("mailto", "json", "tgram", …), lower-cased: safe as a metric label
    or log field because it never contains credentials. "unknown" when there is none."""
    match = _SCHEME.match(url.strip())
    return match.group(1).lower() if match else "unknown"


class _ToSiagaLog(logging.Handler):
    """Re-emits apprise's warnings under `siaga.notify.apprise`, so they pass through the
    siaga handler and its secret-redaction filter instead of reaching the root logger raw."""

    def __init__(self) -> None:
        super().__init__()
        self._said: dict[str, float] = {}  # message → when it was last passed on

    def emit(self, record: logging.LogRecord) -> None:
        target = logging.getLogger("siaga.notify.apprise")
        text = record.getMessage()
        if not target.isEnabledFor(record.levelno) or self._repeated(text, record.created):
            return
        target.log(record.levelno, "%s", kv(event="apprise", message=text))

    def _repeated(self, text: str, now: float) -> bool:
        """A failing channel makes apprise say the same thing on every retry: pass each
        message on at most once an hour."""
        last = self._said.get(text)
        if last is not None and now - last < REPEAT_QUIET:
            return True
        if len(self._said) >= 1024:  # forget the stale ones; the map stays small
            self._said = {t: at for t, at in self._said.items() if now - at < REPEAT_QUIET}
            if len(self._said) >= 1024:  # a storm of distinct messages: start afresh
                self._said.clear()
        self._said[text] = now
        return False


def quiet_apprise_logging(level: int = logging.WARNING) -> None:
    """Keep apprise's logger at `level` and above, routed through Siaga's redacting logger.

    Idempotent; the daemon calls it at start-up and every AppriseNotifier calls it too.
    Apprise's per-call log capture (which we read for HTTP codes) is unaffected.
    """
    apprise_log = logging.getLogger("apprise")
    apprise_log.setLevel(level)
    apprise_log.propagate = False
    if not any(isinstance(h, _ToSiagaLog) for h in apprise_log.handlers):
        apprise_log.addHandler(_ToSiagaLog())


def http_codes(messages: Iterable[str]) -> list[int]:
    """HTTP status codes quoted in apprise log lines ("… error=503.")."""
    return [int(m.group(1)) for text in messages for m in _HTTP_CODE.finditer(text)]


def is_permanent(codes: list[int]) -> bool:
    """True when every reported code is a 4xx that retrying cannot fix."""
    return bool(codes) and all(400 <= c < 500 and c not in _TRANSIENT_4XX for c in codes)


class AppriseNotifier:
    """Sends one message to one apprise URL without blocking the event loop.

    Apprise's `async_notify` runs synchronous plugins in its own thread pool; we add a hard
    deadline around it. A fresh `Apprise` object per send keeps no URL (and no secret) in
    long-lived state.
    """

    def __init__(
        self, *, timeout: float = DEFAULT_TIMEOUT, asset: apprise.AppriseAsset | None = None
    ) -> None:
        self.timeout = timeout
        self.asset = asset  # made with the first send (apprise is imported then)
        quiet_apprise_logging()

    async def send(self, url: str, message: Message) -> None:
        """Deliver `message` to `url`; raise NotifyError(permanent=…) when it did not go."""
        channel = channel_of(url)
        ap = load_apprise()
        if self.asset is None:
            self.asset = ap.AppriseAsset(async_mode=True)
        client = ap.Apprise(asset=self.asset)
        if not client.add(url):
            event(log, "notify_invalid_url", logging.DEBUG, channel=channel)  # the outbox warns
            raise NotifyError(f"{channel}: apprise cannot use this URL", permanent=True)
        try:
            async with asyncio.timeout(self.timeout + _GRACE):
                result = await client.async_notify(
                    body=message.body,
                    title=message.title,
                    notify_type=getattr(ap.NotifyType, _NOTIFY_TYPE[message.kind]),
                    body_format=ap.NotifyFormat.TEXT,
                    timeout=self.timeout,
                )
        except TimeoutError:
            late = f"timeout after {self.timeout:g}s"
            raise self._failed(channel, message, late, False) from None
        with result:  # releases apprise's captured-log storage
            status = result.status
            codes = http_codes(entry.message for entry in result.logs())
        if status == ap.AppriseResultStatus.SUCCESS:
            event(log, "notify_sent", channel=channel, kind=message.kind, key=message.key)
            return
        if status == ap.AppriseResultStatus.TIMEOUT:
            raise self._failed(channel, message, f"timeout after {self.timeout:g}s", False)
        detail = "HTTP " + ",".join(map(str, codes)) if codes else "delivery failed"
        raise self._failed(channel, message, detail, is_permanent(codes))

    @staticmethod
    def _failed(channel: str, message: Message, detail: str, permanent: bool) -> NotifyError:
        """Log the failure (channel only, never the URL) and build the error to raise. At
        debug level: the outbox reports a failing channel once, not each message's try."""
        event(log, "notify_failed", logging.DEBUG, channel=channel, kind=message.kind,
              key=message.key, permanent=permanent, detail=detail)
        return NotifyError(f"{channel}: {detail}", permanent=permanent)
