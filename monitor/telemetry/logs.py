"""Structured logging: one line per event, `event=name key=value …`, secrets redacted.

The daemon logs; only the CLI prints. Values from `${VAR}` in the config are secrets: the
redaction filter replaces them wherever they would appear in a log line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any


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


def setup(level: str = "INFO", secrets: Iterable[str] = ()) -> RedactSecrets:
    """Configure the 'siaga' logger to write one line per event to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    )
    redact = RedactSecrets(secrets)
    handler.addFilter(redact)
    root = logging.getLogger("siaga")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    return redact


def learn_secrets(secrets: Iterable[str], logger: str = "siaga") -> None:
    """Teach the redaction filters on `logger`'s handlers the secrets of a (re)load."""
    for handler in logging.getLogger(logger).handlers:
        for f in handler.filters:
            if isinstance(f, RedactSecrets):
                f.learn(secrets)
