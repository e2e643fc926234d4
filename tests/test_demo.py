"""`siaga demo` shows every state within seconds, with no config."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from monitor.demo import run_demo

pytestmark = pytest.mark.slow


async def test_the_demo_shows_up_degraded_down_and_flapping():
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    await run_demo(console, duration=9.5, language="en")
    out = buffer.getvalue()
    assert "[UP] Portal Layanan: unknown → up" in out
    assert "[DEGRADED] Perizinan Online (slow)" in out and "slow: took" in out
    assert "[DOWN] Pengaduan (broken): unknown → down. status 503, expected 2xx" in out
    assert "[DOWN] Database (hangs)" in out and "timeout after 800ms" in out
    assert "[FLAPPING] Keuangan (unstable)" in out
    assert "[DOWN] Surat Elektronik" in out and "up → down" in out
