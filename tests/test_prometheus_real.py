"""A real Prometheus scrapes a real Siaga: every dashboard query and recording rule has data.

Siaga runs in-process against the local farm (one check up, one down, one HTTPS check with a
certificate, 500 ms intervals, an opt-in latency histogram). Prometheus (/usr/bin/prometheus,
installed in CI) runs on 127.0.0.1 with `scrape_interval: 1s` and both rule files, and every
panel query of every dashboard in dashboards/ is sent to its `/api/v1/query`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client import CollectorRegistry

from monitor.config.loader import parse_config
from monitor.daemon import Daemon

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = "/usr/bin/prometheus"
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))
RULE_FILES = [ROOT / "alerts" / "siaga-alerts.yml", ROOT / "alerts" / "siaga-slo.yml"]

pytestmark = pytest.mark.skipif(
    not os.path.exists(PROMETHEUS),
    reason=f"{PROMETHEUS} not installed (apt-get install prometheus; CI installs it)",
)

GROUP = "Layanan Publik"
UP_CHECK = "web-ok"  # http /ok, latency histogram on: fills HTTP, latency and state panels
TLS_CHECK = "web-tls"  # https with the farm's CA: the only check with a certificate expiry
CONFIG = """
siaga: {{location: test-1, listen: "127.0.0.1:0", state_dir: "{state}"}}
defaults: {{interval: 500ms, timeout: 400ms, fail_after: 1, recover_after: 1}}
checks:
  - {{name: web-ok, group: "{group}", http: {{url: "{http}/ok"}}, latency_histogram: true}}
  - {{name: web-500, group: "{group}", http: {{url: "{http}/status/500"}}}}
  - {{name: web-tls, group: "{group}", http: {{url: "{https}/ok", ca_file: "{ca}"}}}}
"""

# Grafana's interpolation of the dashboards' variables (`${datasource}` is never in an expr).
SUBST = {"group": GROUP, "__rate_interval": "1m", "__range": "1h", "__interval": "15s"}
VAR_RE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
# Panels about one kind of check are shown for a check of that kind.
CHECK_FOR_PANEL = {("siaga-check.json", "Sertifikat kedaluwarsa dalam · Certificate expires in"):
                   TLS_CHECK}

# (dashboard file, panel title, refId) allowed to return no series on a fresh instance.
# Every counter that a fresh Siaga may not export (notifications, suppressions, missed slots,
# incidents) is queried with `or vector(0)`, so nothing needs to be here today; add an entry
# only with the reason it is legitimately empty.
ALLOWED_EMPTY: dict[tuple[str, str, str], str] = {}

# Recording rules evaluated in this test (all of siaga-slo.yml's `record:` rules).
RECORDED = [
    rule["record"]
    for group in yaml.safe_load(RULE_FILES[1].read_text())["groups"]
    for rule in group["rules"]
    if "record" in rule
]
DEADLINE = 40.0  # seconds from Prometheus start until every query must have data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _panels(dash: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dash.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # panels nested in collapsed rows


def dashboard_queries() -> list[tuple[tuple[str, str, str], str]]:
    """((dashboard, panel title, refId), expr with variables substituted) for every target."""
    out = []
    for path in DASHBOARDS:
        for panel in _panels(json.loads(path.read_text())):
            for target in panel.get("targets", []):
                if not target.get("expr"):
                    continue
                key = (path.name, panel.get("title", ""), target.get("refId", ""))
                values = {**SUBST, "check": CHECK_FOR_PANEL.get(key[:2], UP_CHECK)}
                expr = VAR_RE.sub(lambda m, v=values: v[m.group(1) or m.group(2)],
                                  target["expr"])
                out.append((key, expr))
    return out


def write_rule_files(tmp: Path) -> list[str]:
    """Copies of alerts/*.yml with group `interval:` overrides lowered to 1s.

    siaga-slo-sli-long has `interval: 2m`; Prometheus first evaluates a group at a hash-based
    offset within its interval, up to 2 minutes after start, longer than this test may run.
    The rules themselves are unchanged."""
    paths = []
    for src in RULE_FILES:
        doc = yaml.safe_load(src.read_text())
        for group in doc["groups"]:
            if "interval" in group:
                group["interval"] = "1s"
        dst = tmp / src.name
        dst.write_text(yaml.safe_dump(doc, sort_keys=False))
        paths.append(str(dst))
    return paths


class Prometheus:
    def __init__(self, tmp: Path, target_port: int) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "rule_files": write_rule_files(tmp),
            "scrape_configs": [{"job_name": "siaga",
                                "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log_path = tmp / "prometheus.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={self.tmp / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.tmp / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}",
                 "--storage.tsdb.retention.time=1d"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: killed as a whole below
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        pgid, self.proc = self.proc.pid, None
        with pytest.raises(ProcessLookupError):  # nothing of the process group is left
            os.killpg(pgid, 0)


@pytest.fixture
async def siaga(farm: Any, tmp_path: Path) -> AsyncIterator[Daemon]:
    state = tmp_path / "state"
    text = CONFIG.format(http=farm.http_url, https=farm.https_url, ca=farm.ca_pem,
                         group=GROUP, state=state)
    d = Daemon(parse_config(text, str(tmp_path / "checks.yaml")), registry=CollectorRegistry())
    await d.start()
    try:
        yield d
    finally:
        await d.stop()


@pytest.fixture
async def prometheus(siaga: Daemon, tmp_path: Path) -> AsyncIterator[Prometheus]:
    prom = Prometheus(tmp_path / "prom", siaga.server.port)
    prom.start()
    try:
        yield prom
    finally:
        prom.stop()


async def query(session: aiohttp.ClientSession, prom: Prometheus, expr: str) -> dict[str, Any]:
    async with session.post(f"{prom.url}/api/v1/query", data={"query": expr}) as r:
        body: dict[str, Any] = await r.json(content_type=None)
    assert body.get("status") == "success", f"{expr!r}: {body}"
    return body["data"]


async def wait_for(session: aiohttp.ClientSession, prom: Prometheus, expr: str,
                   deadline: float) -> list[Any]:
    """Poll until `expr` returns series (the daemon keeps probing: we only ever await here)."""
    while True:
        assert prom.proc is not None and prom.proc.poll() is None, (
            f"prometheus exited:\n{prom.log()}")
        try:
            result = (await query(session, prom, expr))["result"]
        except aiohttp.ClientError:
            result = []  # not listening yet
        if result:
            return list(result)
        assert time.monotonic() < deadline, f"no data for {expr!r} in time\n{prom.log()}"
        await asyncio.sleep(0.25)


def _has_data(data: dict[str, Any]) -> bool:
    """Series with numbers: a panel showing "NaN" (e.g. 0/0) counts as no data."""
    if data["resultType"] != "vector":
        return data["resultType"] == "scalar" and data["result"][1] != "NaN"
    return bool(data["result"]) and all(r["value"][1] != "NaN" for r in data["result"])


async def test_every_dashboard_query_and_recording_rule_has_data(
    siaga: Daemon, prometheus: Prometheus
) -> None:
    started = time.monotonic()
    deadline = started + DEADLINE
    queries = dashboard_queries()
    assert len(queries) > 40, "dashboards not found"
    for key in ALLOWED_EMPTY:
        assert key in dict(queries), f"stale allow-list entry {key}"

    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        up = await wait_for(session, prometheus, 'up{job="siaga"} == 1', deadline)
        assert up[0]["metric"]["instance"] == f"127.0.0.1:{siaga.server.port}"
        # rate()/increase() need at least two samples in the window; wait for three.
        await wait_for(session, prometheus,
                       f'count_over_time(siaga_probes_total{{check="{UP_CHECK}"}}[1m]) >= 3',
                       deadline)

        # Every query must parse; poll until all but the allow-listed ones have data.
        empty: dict[tuple[str, str, str], str] = {}
        while True:
            empty = {}
            for key, expr in queries:
                if not _has_data(await query(session, prometheus, expr)):
                    empty[key] = expr
            missing = {k: e for k, e in empty.items() if k not in ALLOWED_EMPTY}
            if not missing or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        assert not missing, "panels without data (or NaN):\n" + "\n".join(
            f"  {k}: {e}" for k, e in missing.items())

        # Recording rules: every one has a series per check, including the 30d windows.
        for record in RECORDED:
            series = await wait_for(session, prometheus, record, deadline)
            checks = {s["metric"].get("check") for s in series}
            assert {UP_CHECK, "web-500", TLS_CHECK} <= checks, (record, series)
        ratio = {s["metric"]["check"]: float(s["value"][1]) for s in await wait_for(
            session, prometheus, "siaga:probe_error_ratio:rate5m", deadline)}
        assert ratio[UP_CHECK] == 0 and ratio["web-500"] == 1, ratio

        # One truth for uptime: Prometheus holds the report's time-weighted figure, per
        # check and window, the same number the daemon computed from its store.
        uptime = {(u["metric"]["check"], u["metric"]["window"]): float(u["value"][1])
                  for u in await wait_for(session, prometheus, "siaga_uptime_ratio", deadline)}
        for window in ("7d", "30d", "90d"):
            assert uptime[UP_CHECK, window] == 1.0 and uptime["web-500", window] == 0.0
            mine = siaga.uptime.figures[UP_CHECK][int(window[:-1])].percent
            assert mine == 100.0

        # Every rule of both files evaluates without error.
        async with session.get(f"{prometheus.url}/api/v1/rules") as r:
            groups = (await r.json())["data"]["groups"]
        assert {g["name"] for g in groups} == {
            g["name"] for f in RULE_FILES for g in yaml.safe_load(f.read_text())["groups"]}
        bad = [(g["name"], rule["name"], rule["health"], rule.get("lastError"))
               for g in groups for rule in g["rules"] if rule["health"] != "ok"]
        assert not bad, bad

        # The down check is pending in SiagaCheckDown (for: 3m), the others are not.
        alerts = await wait_for(session, prometheus,
                                'ALERTS{alertname="SiagaCheckDown"}', deadline)
        assert {a["metric"]["check"] for a in alerts} == {"web-500"}
        assert alerts[0]["metric"]["alertstate"] == "pending"

    assert time.monotonic() - started < 60

