"""/metrics, /healthz and /api/v1 of a real daemon probing the local farm."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from monitor.reporting.uptime import Uptime
from monitor.reporting.uptime_windows import WINDOWS, UptimeWindows
from monitor.telemetry.families import TABLE

CONFIG = """
siaga: {{location: test-1, listen: "127.0.0.1:0", state_dir: "{state}"}}
defaults: {{interval: 200ms, timeout: 150ms, fail_after: 2, recover_after: 1}}
checks:
  - {{name: web-ok, group: "Layanan Publik", http: {{url: "{http}/ok"}}, latency_histogram: true}}
  - {{name: web-500, group: "Layanan Publik", http: {{url: "{http}/status/500"}}}}
  - {{name: refused, tcp: {{host: 127.0.0.1, port: {refused}}}}}
"""


def config_text(farm, tmp_path, extra: str = "") -> str:
    return CONFIG.format(http=farm.http_url, refused=farm.refused_port, state=tmp_path) + extra


@pytest.fixture
async def daemon(farm, tmp_path):
    path = tmp_path / "checks.yaml"
    path.write_text(config_text(farm, tmp_path))
    d = Daemon(parse_config(path.read_text(), str(path)), registry=CollectorRegistry())
    await d.start()
    await asyncio.sleep(0.9)
    yield d
    await d.stop()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def labels(check: str, kind: str, **extra: str) -> dict[str, str]:
    group = "Layanan Publik" if check.startswith("web") else "default"
    return {"check": check, "group": group, "location": "test-1", "kind": kind, **extra}


async def get(d: Daemon, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{d.server.port}{path}") as r:
        return r.status, await r.text()


async def test_metrics_show_blackbox_compatible_series_per_check(daemon):
    value = daemon.registry.get_sample_value
    assert value("probe_success", labels("web-ok", "http")) == 1
    assert value("probe_success", labels("web-500", "http")) == 0
    assert value("probe_http_status_code", labels("web-500", "http")) == 500
    assert value("probe_success", labels("refused", "tcp")) == 0
    assert value("probe_http_duration_seconds", labels("web-ok", "http", phase="processing")) > 0
    assert value("siaga_check_state", labels("web-ok", "http")) == 1
    assert value("siaga_check_state", labels("web-500", "http")) == 3
    assert value("siaga_probes_total", labels("web-500", "http", outcome="failure")) >= 3
    assert value("siaga_check_slo_objective", labels("refused", "tcp")) == 0.995
    assert value("siaga_probe_latency_seconds_count", labels("web-ok", "http")) >= 3
    assert value("siaga_probe_latency_seconds_count", labels("web-500", "http")) is None
    assert value("siaga_scheduler_lateness_seconds_count") >= 9
    assert value("siaga_config_last_reload_successful") == 1


async def test_the_fast_render_equals_the_generic_exposition(daemon):
    fast = samples(daemon.metrics.render().decode())
    generic = samples(generate_latest(daemon.registry).decode())
    assert fast == generic


def headers(text: str) -> dict[str, tuple[str, str]]:
    """Each family's (type, help) as a Prometheus parser reads them."""
    return {f.name: (f.type, f.documentation) for f in text_string_to_metric_families(text)}


async def test_every_family_of_the_table_is_scraped_with_its_help_and_type(daemon):
    status, text = await get(daemon, "/metrics")
    assert status == 200
    scraped = headers(text)
    assert {f.name: scraped.get(f.name) for f in TABLE} == {f.name: (f.type, f.help)
                                                           for f in TABLE}


async def test_the_fast_render_and_the_generic_one_agree_on_every_family(daemon):
    fast = headers(daemon.metrics.render().decode())
    generic = headers(generate_latest(daemon.registry).decode())
    assert fast == generic
    assert {f.name for f in TABLE} <= set(fast)


async def test_metrics_endpoint_serves_the_text_format(daemon):
    status, text = await get(daemon, "/metrics")
    assert status == 200
    parsed = samples(text)
    assert parsed[("probe_success", frozenset(labels("web-ok", "http").items()))] == 1
    assert "127.0.0.1" not in text  # no URLs or hosts in labels


async def test_healthz_is_ok_while_the_scheduler_keeps_up(daemon):
    status, text = await get(daemon, "/healthz")
    assert status == 200 and '"ok"' in text


async def test_healthz_fails_with_a_reason_when_the_scheduler_is_behind(daemon):
    daemon.recent_lateness.extend([9.0] * 100)
    status, text = await get(daemon, "/healthz")
    assert status == 503
    assert "scheduler is behind" in text


async def test_api_lists_checks_with_state_and_reason(daemon):
    import json

    status, text = await get(daemon, "/api/v1/checks")
    checks = {c["name"]: c for c in json.loads(text)["checks"]}
    assert status == 200
    assert checks["web-500"]["state"] == "down"
    assert checks["web-500"]["reason"] == "status 500, expected 2xx"
    assert checks["refused"]["reason"] == "connect: connection refused"
    assert checks["web-ok"]["last"]["phases"]["connect"] >= 0


async def test_api_check_detail_has_recent_transitions(daemon):
    import json

    status, text = await get(daemon, "/api/v1/checks/web-500")
    detail = json.loads(text)
    assert status == 200
    assert detail["transitions"][0]["new"] == "down"
    assert detail["probes"] >= 3


async def test_api_errors_are_json_with_the_right_status(daemon):
    status, text = await get(daemon, "/api/v1/checks/nope")
    assert status == 404 and text == '{"error": "no check named \'nope\'"}'
    status, text = await get(daemon, "/api/v1/nothing-here")
    assert status == 404 and '"error"' in text


async def test_a_removed_check_disappears_from_metrics(daemon, farm, tmp_path):
    path = tmp_path / "checks.yaml"
    path.write_text(config_text(farm, tmp_path).replace(
        f"  - {{name: refused, tcp: {{host: 127.0.0.1, port: {farm.refused_port}}}}}\n", ""))
    assert daemon.reload()
    text = daemon.metrics.render().decode()
    assert 'check="refused"' not in text
    assert 'check="web-ok"' in text
    assert daemon.registry.get_sample_value("probe_success", labels("refused", "tcp")) is None


def uptime_samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {k: v for k, v in samples(text).items() if k[0] == "siaga_uptime_ratio"}


async def test_metrics_serve_the_uptime_windows_as_the_generic_path_does(daemon):
    await daemon.uptime.refresh(list(daemon.config.by_name))  # what its task does every 5 min
    generic = uptime_samples(generate_latest(daemon.registry).decode())
    assert uptime_samples(daemon.metrics.render().decode()) == generic
    assert ("siaga_uptime_ratio", frozenset({"check": "web-ok", "group": "Layanan Publik",
                                             "window": "30d"}.items())) in generic
    status, text = await get(daemon, "/metrics")
    assert status == 200
    assert uptime_samples(text).keys() == generic.keys()
    assert text.count("# TYPE siaga_uptime_ratio gauge") == 1


def windows_of(*checks: tuple[str, str, float | None]) -> tuple[object, CollectorRegistry]:
    """UptimeWindows with the given (check, group, percent) figures, on a fresh registry."""
    body = "".join(f'  - {{name: {n}, group: {json.dumps(g)}, tcp: {{host: h.test, port: 1}}}}\n'
                   for n, g, _ in checks)
    config = parse_config(f"checks:\n{body}", "checks.yaml")
    windows = UptimeWindows(None, lambda: config)  # type: ignore[arg-type]  # no store needed
    windows.figures = {n: {d: Uptime(up=p or 0.0, down=100 - (p or 0.0) if p else 0.0)
                           for d in WINDOWS} for n, _, p in checks}
    registry = CollectorRegistry()
    return windows, registry


def fast_text(collector) -> str:
    return collector.text_head() + "".join(collector.text_rows())


def test_uptime_text_escapes_groups_and_skips_windows_without_counted_time():
    windows, registry = windows_of(("a", 'Dinas "Kominfo" \\ Kota', 99.5), ("b", "x", None))
    collector = windows.collector()
    registry.register(collector)
    fast = uptime_samples(fast_text(collector))
    assert fast == uptime_samples(generate_latest(registry).decode())
    assert {dict(k[1])["group"] for k in fast} == {'Dinas "Kominfo" \\ Kota'}


def test_uptime_text_shows_new_figures_and_forgets_removed_checks():
    windows, _ = windows_of(("a", "g", 99.0), ("b", "g", 50.0))
    collector = windows.collector()
    assert 'check="b"' in fast_text(collector)
    windows.figures = {"a": {d: Uptime(up=1.0, down=3.0) for d in WINDOWS}}  # a refresh
    text = fast_text(collector)
    assert 'check="b"' not in text
    assert uptime_samples(text)[("siaga_uptime_ratio", frozenset(
        {"check": "a", "group": "g", "window": "7d"}.items()))] == 0.25


def test_labels_holding_the_line_cache_placeholder_render_as_the_generic_path():
    """The line cache keeps multi-line families with a NUL where prefix and labels go
    (monitor.telemetry.exposition); a label value may hold a NUL itself."""
    from monitor.checking.engine import Engine
    from monitor.probes.base import ProbeContext, ProbeResult
    from monitor.telemetry.metrics import Metrics

    config = parse_config('siaga: {listen: "127.0.0.1:0"}\nchecks:\n'
                          '  - {name: a, group: "x\\0y", http: {url: "http://127.0.0.1:9/"}}\n',
                          "checks.yaml")
    engine = Engine(config, ProbeContext())
    registry = CollectorRegistry()
    metrics = Metrics(registry, engine, "loc\0x")
    engine.on_result.append(metrics.on_result)
    engine.record(config.checks[0], ProbeResult(True, "ok", duration=0.01, status_code=200,
                                                phases={"connect": 0.001, "processing": 0.002}))
    fast = metrics.render().decode()
    assert "\0" in fast
    assert samples(fast) == samples(generate_latest(registry).decode())
