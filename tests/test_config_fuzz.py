"""Fuzzing checks.yaml: whatever the text, `validate` accepts it or refuses it with places,
never with a traceback; and a file it accepts is one the run time can use — the daemon
builds from it, each check probes once, windows, heartbeats and the roster evaluate.

Probes only ever reach 127.0.0.1: every accepted check's target is rewritten to a refused
local port before it is probed (the mutations could name any host)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.checking.heartbeats import KIND as HEARTBEAT
from monitor.checking.heartbeats import status
from monitor.config.loader import parse_config
from monitor.config.model import Check, Config
from monitor.errors import ConfigError
from monitor.incidents.maintenance import ActiveNow, upcoming
from monitor.paging.oncall.escalation import plan, policy_for, roster_resolver
from monitor.paging.oncall.model import OnCall
from monitor.paging.oncall.roster import on_duty
from monitor.probes import KINDS
from monitor.probes.base import ProbeContext

ROOT = Path(__file__).parent.parent
PROBE_TIMEOUT = 0.05  # a timeout is a fine outcome; an exception is not
FUZZ = settings(deadline=None, database=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# Hosts, URLs and servers of the shipped file point at 127.0.0.1, so that even the text the
# mutations keep names no other machine.
LOCAL_TEXT = re.sub(r"(host|server): [^,}\s]+", r"\1: 127.0.0.1",
                    re.sub(r"https?://[^/\s'\"]+", "http://127.0.0.1:1",
                           (ROOT / "checks.yaml").read_text()))
LINES = LOCAL_TEXT.splitlines()
NASTY = [
    ".nan", ".inf", "-.inf", "-1", "0", "1e309", "1" + "0" * 40, "99999999w", "1ms", "0s",
    '""', "~", "[]", "{}", "[a, b]", "{a: 1}", "yes", "2026-02-30", "08:00", "8:00", "24:00",
    '"db..internal"', '"ü..x"', "a" * 64 + ".id", "'http://db..internal/'", "http://",
    "'0 2 31 4 *'", "'0 2 30 2 *'", "'* * * * *'", "'@daily'", "'0 2 * * * * * *'",
    "'127.0.0.1:99999'", "'[::1]:0'", "${NOPE}", "'${NOPE:-x}'", "!!python/str x", "!foo x",
    "!!int abc", "!!binary aGk=", "&a x", "*a", "*nope", "<<: {interval: 5s}", "<<: 5",
    "'[/x]'", "'a\\tb'", '"\\x00"', "'%s'" % ("x" * 300), "Asia/Nowhere", "9999-12-31 23:59",
    "0001-01-01", "'2026-12-24 08:00'", "[on_duty]", "next", "budi", "uplink", "portal",
    "'(unclosed'", "300", "65536", "0.3", "-0.0", "1h30m", "1d", "3660d", "3661d",
]
KEYS = ["name", "interval", "timeout", "fail_after", "recover_after", "slo", "depends_on",
        "flapping", "host", "port", "url", "server", "schedule", "cron", "duration", "every",
        "grace", "start", "end", "listen", "timezone", "steps", "after", "notify", "officers",
        "rotations", "handoff", "expect", "status", "json", "path", "equals", "count", "<<"]


@st.composite
def mutated_shipped_file(draw: st.DrawFn) -> str:
    """The shipped checks.yaml with a few lines deleted, duplicated, moved or rewritten."""
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["value", "value", "value", "key", "delete", "dup",
                                   "move", "indent", "insert", "truncate"]))
        line = lines[i]
        if op == "value" and ":" in line:
            head = line.split(":", 1)[0] if not line.lstrip().startswith("- {") else line[:8]
            lines[i] = f"{head}: {draw(st.sampled_from(NASTY))}"
        elif op == "key":
            indent = len(line) - len(line.lstrip())
            lines.insert(i, " " * indent + f"{draw(st.sampled_from(KEYS))}: "
                         f"{draw(st.sampled_from(NASTY))}")
        elif op == "delete":
            del lines[i]
        elif op == "dup":
            lines.insert(i, line)
        elif op == "move":
            lines.insert(draw(st.integers(0, len(lines) - 1)), lines.pop(i))
        elif op == "indent":
            lines[i] = " " * draw(st.integers(0, 6)) + line.lstrip()
        elif op == "insert":
            lines.insert(i, draw(st.text(st.characters(codec="utf-8"), max_size=30)))
        elif op == "truncate":
            lines[i] = line[: draw(st.integers(0, len(line)))]
    return "\n".join(lines) + "\n"


SCALARS = st.one_of(st.sampled_from(NASTY), st.integers(-10, 100_000),
                    st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                    st.text(max_size=12), st.none())


def _documents() -> st.SearchStrategy[Any]:
    leaf = st.one_of(SCALARS, st.just("127.0.0.1"))
    return st.recursive(
        leaf,
        lambda inner: st.one_of(st.lists(inner, max_size=4),
                                st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
        max_leaves=25,
    )


@st.composite
def schema_shaped(draw: st.DrawFn) -> str:
    """A document with the top-level shape of checks.yaml and random insides."""
    kind = draw(st.sampled_from([*KINDS, HEARTBEAT]))
    check: dict[str, Any] = {"name": draw(st.sampled_from(["a", "b", "A", ""])),
                             kind: draw(_documents())}
    check.update(draw(st.dictionaries(st.sampled_from(KEYS), _documents(), max_size=3)))
    doc: dict[str, Any] = {"checks": draw(st.sampled_from([[check], [check, check], check]))}
    for section in draw(st.sets(st.sampled_from(["siaga", "defaults", "oncall",
                                                  "maintenance", "alerting"]), max_size=3)):
        doc[section] = draw(_documents())
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def refused_port() -> int:
    """A local port nobody listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def local(check: Check, port: int) -> Any:
    """The check's spec, aimed at 127.0.0.1:port whatever the file said."""
    spec = check.spec
    if check.kind == "http":
        return dataclasses.replace(spec, url=f"http://127.0.0.1:{port}/")
    if check.kind in ("tcp", "tls"):
        return dataclasses.replace(spec, host="127.0.0.1", port=port)
    if check.kind == "dns":
        return dataclasses.replace(spec, server="127.0.0.1", port=port)
    if check.kind == "icmp":
        return dataclasses.replace(spec, host="127.0.0.1")
    raise AssertionError(f"unknown kind {check.kind}")


def exercise(config: Config, port: int) -> None:
    """What the run time does with a config, once: probe, and evaluate schedules."""
    now, tz = time.time(), config.settings.tz
    assert 0 <= config.settings.listen_port <= 65535

    async def probe_all() -> None:
        ctx = ProbeContext(body_limit=config.settings.body_limit)
        for check in config.checks:
            if check.kind not in KINDS:
                continue
            spec = local(check, port)
            key = (check.kind, repr(spec), config.settings.body_limit)
            if key in PROBED:  # most mutations leave most checks as they were
                continue
            PROBED.add(key)
            result = await KINDS[check.kind].run(spec, min(check.timeout, PROBE_TIMEOUT), ctx)
            assert isinstance(result.reason, str)

    asyncio.run(probe_all())
    windows = config.sections.get("maintenance") or []
    ActiveNow(windows, now, tz)
    upcoming(windows, now, 30, tz)
    for check in config.checks:
        if check.kind == HEARTBEAT:
            status(check.spec, now - 7200, None, None, now, tz, now - 86400)
    oncall = config.sections.get("oncall")
    if isinstance(oncall, OnCall):
        on_duty(oncall, now, tz)
        for check in config.checks:
            plan(policy_for(oncall, check.escalation), now, roster_resolver(oncall, tz))


COUNTS = {"accepted": 0, "refused": 0}
PROBED: set[tuple[str, str, int]] = set()


def validate_and_use(text: str, tmp: Path) -> None:
    try:
        config = parse_config(text, str(tmp / "checks.yaml"), env={})
    except ConfigError as exc:
        assert exc.problems and all(p.line >= 1 and p.column >= 1 for p in exc.problems)
        COUNTS["refused"] += 1
        return
    COUNTS["accepted"] += 1
    exercise(config, PORT)


PORT = refused_port()


def test_mutations_of_the_shipped_file_validate_or_are_refused(tmp_path_factory):
    tmp = tmp_path_factory.getbasetemp()
    before = dict(COUNTS)

    @settings(FUZZ, max_examples=1100)
    @given(text=mutated_shipped_file())
    def run(text: str) -> None:
        validate_and_use(text, tmp)

    run()
    accepted = COUNTS["accepted"] - before["accepted"]
    refused = COUNTS["refused"] - before["refused"]
    assert accepted >= 100 and refused >= 100, (accepted, refused)  # both paths exercised


@settings(FUZZ, max_examples=650)
@given(text=schema_shaped())
def test_schema_shaped_documents_validate_or_are_refused(tmp_path_factory, text: str):
    validate_and_use(text, tmp_path_factory.getbasetemp())


@settings(FUZZ, max_examples=300)
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_random_bytes_validate_or_are_refused(tmp_path_factory, data: bytes):
    path = tmp_path_factory.getbasetemp() / "random.yaml"
    path.write_bytes(data)
    from monitor.config.loader import load_config

    with contextlib.suppress(ConfigError):
        load_config(path, env={})


@settings(FUZZ, max_examples=8)
@given(text=mutated_shipped_file())
def test_the_real_command_exits_0_or_2_without_a_traceback(tmp_path_factory, text: str):
    path = tmp_path_factory.getbasetemp() / "cli-checks.yaml"
    path.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TG_")}
    done = subprocess.run([sys.executable, "-m", "monitor", "validate", "-c", str(path)],
                          capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert done.returncode in (0, 2), done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_the_daemon_builds_from_the_shipped_file_aimed_at_127_0_0_1(tmp_path: Path):
    from monitor.daemon import Daemon

    text = LOCAL_TEXT.replace("state_dir: state", f"state_dir: {tmp_path / 'state'}")
    config = parse_config(text, str(tmp_path / "checks.yaml"), env={})
    Daemon(config, serve=False)
    exercise(config, PORT)
    assert dt.datetime.now(config.settings.tz)
