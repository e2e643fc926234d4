"""Smoke test of bench/scrape.py with a small N (keys only, no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_scrape_prints_one_json_line_per_size() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scrape.py"), "--checks", "200", "--repeat", "2"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=True,
    )
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1, out.stdout
    result = json.loads(lines[0])
    assert {"checks", "render_ms_median", "generic_ms_median", "bytes"} <= result.keys()
    assert result["checks"] == 200
    assert result["bytes"] > 0
