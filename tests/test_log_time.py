"""Logs and console read on one timeline: the configured zone, ISO 8601 with its offset."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from monitor.checking.state import State, Transition
from monitor.config.model import Check
from monitor.delivery.console import ConsoleChannel
from monitor.telemetry import logs

AT = 1_796_086_800.0  # 2026-12-01 10:00:00 WIT (UTC+9), 01:00 UTC
WIT = ZoneInfo("Asia/Jayapura")


@pytest.fixture
def siaga_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("siaga")
    saved = logger.handlers[:], logger.level, logger.propagate
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


def stamped_log_line(logger: logging.Logger, tz: ZoneInfo) -> str:
    logs.setup("INFO", tz=tz)
    out = io.StringIO()
    handler = logger.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)
    record = logger.makeRecord("siaga.test", logging.INFO, __file__, 1, "event=x", None, None)
    record.created = AT
    logger.handle(record)
    return out.getvalue()


def test_log_lines_are_stamped_in_the_configured_zone_with_its_offset(
    siaga_logger: logging.Logger,
) -> None:
    assert stamped_log_line(siaga_logger, WIT).startswith("2026-12-01T10:00:00+09:00 INFO ")


def test_a_reload_with_another_zone_stamps_the_next_lines_in_it(
    siaga_logger: logging.Logger,
) -> None:
    stamped_log_line(siaga_logger, WIT)
    logs.set_zone(ZoneInfo("UTC"))
    out = io.StringIO()
    handler = siaga_logger.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)
    record = siaga_logger.makeRecord("siaga.t", logging.INFO, __file__, 1, "event=x", None, None)
    record.created = AT
    siaga_logger.handle(record)
    assert out.getvalue().startswith("2026-12-01T01:00:00+00:00 INFO ")


def test_the_console_uses_the_same_stamp_as_the_log(siaga_logger: logging.Logger) -> None:
    buffer = io.StringIO()
    channel = ConsoleChannel(Console(file=buffer, width=200, color_system=None), "id", WIT)
    channel(Check("sipd", "http", None), Transition("sipd", State.UP, State.DOWN, "", AT), None)
    log_stamp = stamped_log_line(siaga_logger, WIT).split(" ")[0]
    assert buffer.getvalue().split(" ")[0] == log_stamp
