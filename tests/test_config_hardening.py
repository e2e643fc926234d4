"""validate = what run time will accept (issue 11, cases 3–7): every file the daemon would choke
on is refused with FILE:LINE:COL, never with a traceback, and a probe never raises for a
host name it cannot resolve."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from monitor.cli import main
from monitor.config.loader import load_config, parse_config
from monitor.errors import ConfigError
from monitor.probes.base import ProbeContext
from monitor.probes.http.probe import KIND as HTTP
from monitor.probes.icmp import KIND as ICMP
from monitor.probes.icmp import IcmpSpec
from monitor.probes.tcp import KIND as TCP
from monitor.probes.tcp import TcpSpec
from monitor.probes.tls import KIND as TLS
from monitor.probes.tls import TlsSpec
from tests.probe_helpers import check_schema

TCP_CHECK = "checks:\n  - name: a\n    tcp: {host: %s, port: 80}\n"
LOCAL = "{host: 127.0.0.1, port: 80}"
OFFICERS = "oncall:\n  officers: {budi: {notify: ['json://127.0.0.1/']}}\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "checks.yaml", env={})
    return [str(p) for p in info.value.problems]


def refused(text: str, where: str, message: str) -> None:
    """`text` is refused with exactly one problem, at `where` (LINE:COL: path), saying
    `message`."""
    found = problems(text)
    assert len(found) == 1, found
    assert found[0].startswith(f"checks.yaml:{where}: "), found[0]
    assert message in found[0], found[0]


# -- case 6: shapes and YAML features that used to raise -------------------------------------
@pytest.mark.parametrize(("text", "where", "message"), [
    ("checks: 5\n", "1:9: checks", "expected a list, got 5"),
    ("checks: {name: a}\n", "1:9: checks", "expected a list, got a mapping"),
    (OFFICERS + "  escalation:\n    default:\n      steps: 5\n",
     "5:14: oncall.escalation.default.steps", "expected a list, got 5"),
    ("checks:\n  - name: !!python/str a\n    tcp: " + LOCAL + "\n", "2:11", "unsupported tag"
     " !!python/str"),
    ("checks:\n  - name: !secret a\n    tcp: " + LOCAL + "\n", "2:11", "unsupported tag !secret"),
    ("checks: !!set {a}\n", "1:9", "unsupported tag !!set"),
    ("checks: " + "[" * 1000 + "]" * 1000 + "\n", "1:58", "nested more than 50 levels"),
    ("checks: " + "{a: " * 1000 + "1" + "}" * 1000 + "\n", "1:205",
     "nested more than 50 levels"),
    ("checks:\n" + "".join("  " * i + "- \n" for i in range(1, 200)), "51:101",
     "nested more than 50 levels"),
    ("a: &a [*a]\n", "1:4", "an alias refers to a node that contains it"),
    ("x-a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
     + "".join(f"x-{i + 1}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n"
               for i in range(7)), "5:6", "aliases repeat this part too often"),
    ("checks:\n  - name: a\n    fail_after: 2026-02-30\n    tcp: " + LOCAL + "\n",
     "3:17: checks[a].fail_after", "expected an integer 1–100, got '2026-02-30'"),
    ("checks:\n  - name: a\n    fail_after: !!int abc\n    tcp: " + LOCAL + "\n",
     "3:17: checks[a].fail_after", "expected an integer 1–100, got 'abc'"),
], ids=["checks-5", "checks-mapping", "steps-5", "python-tag", "local-tag", "set-tag",
        "deep-flow-list", "deep-flow-map", "deep-block-list", "alias-loop", "alias-bomb",
        "bad-timestamp-key", "int-tag-on-text"])
def test_it_refuses_what_used_to_crash_with_a_place(text: str, where: str, message: str):
    refused(text, where, message)


def test_a_deeply_nested_file_fails_without_exhausting_the_stack():
    deep = "checks: " + "[" * 200_000 + "]" * 200_000 + "\n"  # libyaml's composer segfaulted
    refused(deep, "1:58", "nested more than 50 levels")


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path):
    path = tmp_path / "checks.yaml"
    path.write_bytes(b"checks:\n  - name: caf\xe9\n")
    with pytest.raises(ConfigError, match="2:1: not UTF-8 text"):
        load_config(path, env={})


# -- merge keys are supported ----------------------------------------------------------------
def test_merge_keys_share_defaults_and_a_checks_own_value_wins():
    config = parse_config(
        "x-fast: &fast {interval: 5s, timeout: 2s, fail_after: 2}\n"
        "checks:\n"
        "  - <<: *fast\n"
        "    name: a\n"
        "    tcp: {host: 127.0.0.1, port: 80}\n"
        "  - <<: [{fail_after: 7}, *fast]\n"
        "    name: b\n"
        "    interval: 10s\n"
        "    tcp: {host: 127.0.0.1, port: 81}\n",
        "checks.yaml", env={})
    a, b = config.checks
    assert (a.interval, a.timeout, a.fail_after) == (5.0, 2.0, 2)
    assert (b.interval, b.timeout, b.fail_after) == (10.0, 2.0, 7)


def test_a_merge_of_something_that_is_no_mapping_is_refused():
    refused("checks:\n  - <<: 5\n    name: a\n    tcp: " + LOCAL + "\n",
            "2:9: checks[a]", "a merge key (<<) takes a mapping")


def test_an_unknown_top_level_key_is_still_refused_unless_it_starts_with_x():
    refused("extra: 1\nchecks: []\n", "1:1: extra", "unknown key")
    assert parse_config("x-extra: 1\nchecks: []\n", "checks.yaml", env={}).checks == ()


# -- case 5: host names that pass validate but cannot be resolved -----------------------------
@pytest.mark.parametrize(("host", "message"), [
    ('"db..internal"', "invalid host name 'db..internal': empty label"),
    ("a" * 64 + ".example.go.id", "is longer than 63 characters"),
    ('"ü..x"', "empty label"),
    ('"-bad.example"', "may not start or end with '-'"),
    ('"xn--ü.example"', "no valid international name"),
    (("abcdefghi." * 26) + "id", "longer than 253 characters"),
])
def test_tcp_hosts_that_cannot_be_resolved_are_refused(host: str, message: str):
    refused(TCP_CHECK % host, "3:17: checks[a].tcp.host", message)


@pytest.mark.parametrize("kind", [
    "http: {url: 'http://db..internal/'}",
    "tls: {host: 'db..internal'}",
    "icmp: {host: 'db..internal'}",
    "tls: {host: 127.0.0.1, server_name: 'db..internal'}",
    "http: {url: 'https://127.0.0.1/', tls_server_name: 'db..internal'}",
    "dns: {name: 'db..internal'}",
])
def test_every_kind_that_takes_a_host_refuses_a_bad_one(kind: str):
    found = problems(f"checks:\n  - name: a\n    {kind}\n")
    assert len(found) == 1 and found[0].startswith("checks.yaml:3:"), found
    assert "db..internal" in found[0] or "label" in found[0].lower(), found


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "[::1]", "localhost", "db_1.internal",
                                  "bücher.example", "Portal.Example.GO.ID.", "a" * 63 + ".id"])
def test_good_hosts_are_accepted(host: str):
    config = parse_config(TCP_CHECK % f'"{host}"', "checks.yaml", env={})
    assert config.checks[0].spec.host == host


def test_a_bad_host_from_the_environment_is_refused_without_showing_it():
    found = problems("checks:\n  - name: a\n    http: {url: 'http://${H}/'}\n".replace(
        "${H}", "${HOST_SECRET_VALUE}"))  # not set: a different problem
    assert "HOST_SECRET_VALUE" in found[0]
    with pytest.raises(ConfigError) as info:
        parse_config("checks:\n  - name: a\n    http: {url: 'http://${H}/'}\n", "checks.yaml",
                     env={"H": "sekrit..value"})
    assert "sekrit" not in str(info.value)
    assert "invalid host name" in str(info.value)


@pytest.mark.parametrize(("kind", "spec"), [
    (TCP, TcpSpec(host="db..internal", port=1)),
    (TCP, TcpSpec(host="a" * 64 + ".x", port=1)),
    (TCP, TcpSpec(host="127.0.0.1", port=1, tls=True)),  # refused: a probe, not a host error
    (TLS, TlsSpec(host="ü..x", port=1)),
    (ICMP, IcmpSpec(host="db..internal")),
])
async def test_a_probe_reports_an_unresolvable_host_instead_of_raising(kind, spec):
    result = await kind.run(spec, 2.0, ProbeContext())
    assert not result.ok
    if "127.0.0.1" not in spec.host:
        assert result.reason.startswith("resolve: invalid host name"), result.reason


async def test_an_http_redirect_to_a_bad_host_fails_the_probe_instead_of_raising():
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://db..internal/")

    app = web.Application()
    app.router.add_get("/", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        spec, errors = check_schema(HTTP.schema, "http", f"url: http://127.0.0.1:{port}/")
        assert not errors
        result = await asyncio.wait_for(HTTP.run(spec, 2.0, ProbeContext()), 5)
    finally:
        await runner.cleanup()
    assert not result.ok
    assert "empty label" in result.reason


# -- case 7: NaN, infinity, huge numbers, ports ----------------------------------------------
CHECK_WITH = "checks:\n  - name: a\n    %s\n    tcp: {host: 127.0.0.1, port: 80}\n"


@pytest.mark.parametrize(("line", "where", "message"), [
    ("interval: .nan", "3:15: checks[a].interval", "got nan"),
    ("interval: .inf", "3:15: checks[a].interval", "got inf"),
    ("interval: -.inf", "3:15: checks[a].interval", "got -inf"),
    ("interval: 99999999w", "3:15: checks[a].interval", "must be at most 3660d"),
    ("interval: " + "9" * 400 + "s", "3:15: checks[a].interval", "expected a duration"),
    ("interval: 1" + "0" * 400, "3:15: checks[a].interval", "digits)"),
    ("slo: .nan", "3:10: checks[a].slo", "got nan"),
    ("flapping: {high: .inf}", "3:22: checks[a].flapping.high", "got inf"),
    ("flapping: {low: .nan}", "3:21: checks[a].flapping.low", "got nan"),
    ("fail_after: 1" + "0" * 30, "3:17: checks[a].fail_after", "expected an integer 1–100"),
])
def test_non_finite_and_huge_numbers_are_refused(line: str, where: str, message: str):
    refused(CHECK_WITH % line, where, message)


def test_maintenance_of_infinite_or_huge_duration_is_refused():
    base = "checks:\n  - name: a\n    tcp: " + LOCAL + "\nmaintenance:\n"
    refused(base + "  - {checks: [a], cron: '0 2 * * *', duration: .inf}\n",
            "5:48: maintenance[0].duration", "got inf")
    refused(base + "  - {checks: [a], cron: '0 2 * * *', duration: 99999999w}\n",
            "5:48: maintenance[0].duration", "must be at most")


def test_a_cron_window_spanning_more_than_a_thousand_repeats_is_refused():
    # Occurrences are searched from now - duration: ten years of minutes took 0.5 s a second.
    refused("checks: []\nmaintenance:\n  - {all: true, cron: '* * * * *', duration: 3660d}\n",
            "3:46: maintenance[0].duration", "lasts longer than 1000 of its cron repeats")


def test_a_rotation_that_never_hands_off_is_refused():
    refused(OFFICERS + "  rotations: [{name: r, every: .inf, officers: [budi]}]\n",
            "3:32: oncall.rotations[0].every", "got inf")


def test_a_body_limit_beyond_what_a_read_takes_is_refused():
    refused("checks:\n  - name: a\n    http: {url: 'http://127.0.0.1/', body_limit: 1"
            + "0" * 20 + "}\n", "3:50: checks[a].http.body_limit", "must be at most")


@pytest.mark.parametrize(("listen", "message"), [
    ("127.0.0.1:99999", "port must be 1–65535"),
    ("127.0.0.1:70000", "port must be 1–65535"),
    ("db..internal:80", "invalid host name"),
])
def test_a_listen_address_the_server_cannot_bind_is_refused(listen: str, message: str):
    refused(f"siaga: {{listen: '{listen}'}}\nchecks: []\n", "1:17: siaga.listen", message)


# -- cases 3 and 4, validate side: cron expressions that never fire -------------------------
@pytest.mark.parametrize("expr", ["0 2 31 4 *", "0 2 30 2 *", "0 0 31 11 *"])
def test_a_maintenance_cron_that_never_fires_is_refused(expr: str):
    refused("checks:\n  - name: archive\n    tcp: " + LOCAL + "\n"
            f"maintenance: [{{checks: [archive], cron: '{expr}', duration: 2h}}]\n",
            "4:41: maintenance[0].cron", "never fires")


def test_a_heartbeat_schedule_that_never_fires_is_refused():
    refused("checks:\n  - name: backup\n    heartbeat: {schedule: '0 2 30 2 *'}\n",
            "3:27: checks[backup].heartbeat.schedule", "never fires")


def test_rare_but_real_cron_dates_are_accepted():
    config = parse_config("checks:\n  - name: leap\n    heartbeat: {schedule: '0 2 29 2 *'}\n",
                          "checks.yaml", env={})
    assert config.checks[0].spec.schedule == "0 2 29 2 *"


# -- the command line ------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "checks: 5\n",
    "checks:\n  - name: !!python/str a\n",
    "checks: " + "[" * 1000 + "]" * 1000 + "\n",
    TCP_CHECK % '"db..internal"',
    CHECK_WITH % "interval: .nan",
])
def test_validate_exits_2_with_places_and_no_traceback(tmp_path: Path, capsys, text: str):
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    assert main(["validate", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:" in err and "Traceback" not in err
