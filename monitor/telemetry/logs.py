"""Structured logging: one line per event, `event=name key=value …`, secrets redacted.

The daemon logs; only the CLI prints. Values from `${VAR}` in the config are secrets: the
redaction filter replaces them wherever they would appear in a log line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import logging.handlers
import sys
from collections.abc import Iterable, Iterator
from typing import Any
from zoneinfo import ZoneInfo


def kv(**fields: Any) -> str:
    """Format fields as key=value, quoting values with spaces."""
    parts = []
    for key, value in fields.items():
        text = str(value)
        if not text or any(c in text for c in ' "=\n'):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, "%s", kv(event=name, **fields))


class RedactSecrets(logging.Filter):
    """Replace every known secret in a record's final message with '***'. It learns the
    secrets of every load, failed ones included (`learn`): it never forgets one, since an
    old value may still sit in a queued message or in a pending notification's URL."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: list[str] = []
        self.learn(secrets)

    def learn(self, secrets: Iterable[str]) -> None:
        new = set(secrets) - set(self.secrets)
        if new:  # longest first, so a secret containing another is replaced whole
            self.secrets = sorted(set(self.secrets) | new, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg, record.args = self.redact(record.getMessage()), None
        return True


DEFAULT_ZONE = ZoneInfo("Asia/Jakarta")  # siaga.timezone's default


def timestamp(at: float, tz: dt.tzinfo) -> str:
    """The one time format of logs and console: ISO 8601 in the configured zone, with its
    offset, so a log line and a console line about the same moment read the same."""
    return dt.datetime.fromtimestamp(at, tz).isoformat(timespec="seconds")


class ZonedFormatter(logging.Formatter):
    """Stamps records in the configured `siaga.timezone`, not the process's local time (a
    server often runs in UTC while its officers read WIB)."""

    def __init__(self, tz: dt.tzinfo) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return timestamp(record.created, self.tz)


def setup(level: str = "INFO", secrets: Iterable[str] = (),
          tz: dt.tzinfo = DEFAULT_ZONE) -> RedactSecrets:
    """Configure the 'siaga' logger to write one line per event to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ZonedFormatter(tz))
    redact = RedactSecrets(secrets)
    handler.addFilter(redact)
    root = logging.getLogger("siaga")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    return redact


class Held(logging.handlers.BufferingHandler):
    """Records made before logging is set up, kept to be logged once it is."""

    def shouldFlush(self, record: logging.LogRecord) -> bool:
        return False

    def replay(self) -> None:
        """Log the kept records through the handlers `setup()` installed."""
        for record in self.buffer:
            logger = logging.getLogger(record.name)
            if logger.isEnabledFor(record.levelno):
                logger.handle(record)
        self.buffer.clear()


@contextlib.contextmanager
def held(logger: str = "siaga") -> Iterator[Held]:
    """Keep what `logger` logs inside the block (the config's time zone and secrets, which
    `setup()` needs, are not known yet); `replay()` it after `setup()`."""
    root = logging.getLogger(logger)
    handler = Held(capacity=10_000)
    saved = root.handlers[:], root.propagate, root.level
    root.handlers[:], root.propagate = [handler], False
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.handlers[:], root.propagate = saved[0], saved[1]
        root.setLevel(saved[2])


def learn_secrets(secrets: Iterable[str], logger: str = "siaga") -> None:
    """Teach the redaction filters on `logger`'s handlers the secrets of a (re)load."""
    for handler in logging.getLogger(logger).handlers:
        for f in handler.filters:
            if isinstance(f, RedactSecrets):
                f.learn(secrets)


def set_zone(tz: dt.tzinfo, logger: str = "siaga") -> None:
    """After a reload that changed `siaga.timezone`: stamp the next lines in the new zone."""
    for handler in logging.getLogger(logger).handlers:
        if isinstance(handler.formatter, ZonedFormatter):
            handler.formatter.tz = tz
