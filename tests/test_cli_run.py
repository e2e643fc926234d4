"""The `siaga` command as a person runs it: `check`, and `run` stopping on signals."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import pytest
from prometheus_client import CollectorRegistry

from monitor.cli import main
from monitor.config.loader import parse_config
from monitor.daemon import Daemon


def write(tmp_path, farm, extra: str = "") -> str:
    path = tmp_path / "checks.yaml"
    path.write_text(f"""
siaga: {{listen: "127.0.0.1:0", state_dir: "{tmp_path / 'state'}"}}
defaults: {{interval: 300ms, timeout: 250ms, fail_after: 2}}
checks:
  - {{name: ok, http: {{url: "{farm.http_url}/ok"}}}}
  - {{name: broken, http: {{url: "{farm.http_url}/status/503"}}}}
  - {{name: refused, tcp: {{host: 127.0.0.1, port: {farm.refused_port}}}}}
  - {{name: slow, http: {{url: "{farm.http_url}/slow?delay=2"}}}}
  - {{name: hanging, http: {{url: "http://127.0.0.1:{farm.hang_port}/"}}}}
{extra}""")
    return str(path)


def test_check_prints_the_result_and_exits_0_when_ok(tmp_path, farm, capsys):
    assert main(["-c", write(tmp_path, farm), "check", "ok"]) == 0
    out = capsys.readouterr().out
    assert "ok" in out and "processing" in out and "status" in out


def test_check_exits_1_with_the_reason_when_the_probe_fails(tmp_path, farm, capsys):
    assert main(["-c", write(tmp_path, farm), "check", "broken"]) == 1
    assert "status 503, expected 2xx" in capsys.readouterr().out


def test_check_of_an_unknown_name_is_a_usage_error_with_a_suggestion(tmp_path, farm, capsys):
    assert main(["-c", write(tmp_path, farm), "check", "brokn"]) == 2
    assert "did you mean 'broken'" in capsys.readouterr().err


async def test_failing_targets_go_down_with_the_right_reason_within_the_bound(tmp_path, farm):
    path = write(tmp_path, farm)
    text = (tmp_path / "checks.yaml").read_text()
    daemon = Daemon(parse_config(text, path), registry=CollectorRegistry())
    started = time.monotonic()
    await daemon.start()
    want = {"refused": "connect: connection refused",
            "slow": "timeout after 250ms (no response headers)",
            "hanging": "timeout after 250ms (no response headers)",
            "broken": "status 503, expected 2xx"}
    try:
        bound = 2 * 0.3 + 0.25 + 0.3  # fail_after × interval + timeout (+ first-run jitter)
        await asyncio.sleep(bound)
        states = {n: daemon.engine.runtime[n].state for n in want}
        assert {n: s.state.value for n, s in states.items()} == dict.fromkeys(want, "down")
        assert {n: s.reason for n, s in states.items()} == want
        assert time.monotonic() - started < bound + 0.5
    finally:
        await daemon.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_stops_within_two_seconds_on_a_signal_and_exits_0(tmp_path, farm, sig):
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "-c", write(tmp_path, farm),
                             "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        db = tmp_path / "state" / "siaga.db"
        while not db.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # probes in flight, including the slow and hanging ones
        sent = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=5)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    assert code == 0, err
    assert took < 2.0
    assert "event=stopped" in err


def test_run_starts_probing_without_the_libraries_it_needs_only_later():
    """`siaga run` from the compiled-config cache imports the daemon's modules before its
    first probe; the web server (aiohttp), the notifiers (apprise), DNS and certificate
    parsing load once probing runs or when first used (issue 14: first probe within 1 s)."""
    code = ("import sys, monitor.cli, monitor.daemon; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'aiohttp', 'apprise', 'dns', 'cryptography', 'requests'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_a_sqlite_store_does_not_import_the_postgresql_driver(tmp_path):
    """psycopg costs a start 0.13 s and about 20 MB: only a postgresql:// store loads it."""
    code = ("import sys; from monitor.store.engine import Store; "
            f"Store({str(tmp_path)!r}).close(); "
            "print('psycopg' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
