"""The performance harness runs end to end at its smallest size and prints one complete
JSON line. Nothing here judges speed: benchmarks are not timed tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NUMBERS = [
    "checks", "http_checks", "tcp_checks", "dns_checks", "interval_s", "duration_s",
    "window_s", "probes", "probes_window", "probes_per_s", "expected_probes_per_s",
    "failed_probes", "cpu_s_per_probe", "cpu_share", "peak_rss_mb", "lateness_p50_s",
    "lateness_p99_s", "lateness_max_le_s", "missed_slots", "metrics_scrape_s", "metrics_bytes",
    "first_probe_s", "first_probe_cached_s", "outages", "pages_measured", "page_latency_p50_s",
    "page_latency_p99_s", "page_latency_max_s", "dns_answers", "target_cpu_share",
    "sut_core_foreign_share",
]


def test_bench_smoke_prints_a_complete_json_line() -> None:
    proc = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout
    result = json.loads(lines[0])
    missing = [key for key in [*NUMBERS, "size", "target", "problems", "pinning", "machine",
                               "date", "lateness_max_above_buckets"] if key not in result]
    assert not missing, f"missing keys: {missing}"
    not_numbers = [key for key in NUMBERS
                   if isinstance(result[key], bool) or not isinstance(result[key], int | float)]
    assert not not_numbers, f"not numbers: {[(k, result[k]) for k in not_numbers]}"
    assert result["size"] == "smoke"
    assert result["target"] in ("nginx", "aiohttp")
    assert isinstance(result["lateness_max_above_buckets"], bool)
    assert result["problems"] == [], result["problems"]
    assert result["pages_measured"] == result["outages"] == 2
    assert result["probes"] > 0
    assert set(result["machine"]) == {"nproc", "arch", "python"}
