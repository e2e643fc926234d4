"""The DNS probe against the farm's zone siaga.test (UDP and TCP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.probes.base import ProbeContext
from monitor.probes.dns import SCHEMA, DnsExpect, DnsSpec, run, system_nameserver, target
from tests.farm import Farm
from tests.probe_helpers import cancel_soon, check_schema


@pytest.fixture
def ctx() -> ProbeContext:
    return ProbeContext()


def spec(farm: Farm, name: str, type: str = "A", **kw: Any) -> DnsSpec:
    kw.setdefault("port", farm.dns_port)
    return DnsSpec(name, type, server=farm.host, **kw)


async def test_it_looks_up_a_records(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(spec(farm, "www.siaga.test"), 1, ctx)
    assert (result.ok, result.reason) == (True, "ok")
    assert result.details["rcode"] == "NOERROR"
    assert sorted(result.details["answers"]) == ["192.0.2.10", "192.0.2.11"]
    assert result.details["lookup_time"] == result.phases["resolve"] > 0


async def test_it_finds_an_expected_answer(farm: Farm, ctx: ProbeContext) -> None:
    expect = DnsExpect(answers_contain=("192.0.2.10",), min_answers=2)
    result = await run(spec(farm, "www.siaga.test", expect=expect), 1, ctx)
    assert (result.ok, result.reason) == (True, "ok")


async def test_it_reports_a_missing_answer_and_what_it_got(farm: Farm, ctx: ProbeContext) -> None:
    expect = DnsExpect(answers_contain=("192.0.2.99",))
    result = await run(spec(farm, "www.siaga.test", expect=expect), 1, ctx)
    assert not result.ok
    assert result.reason in (
        "no answer contains 192.0.2.99 (got 192.0.2.10, 192.0.2.11)",
        "no answer contains 192.0.2.99 (got 192.0.2.11, 192.0.2.10)",
    )


async def test_it_reports_too_few_answers(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(spec(farm, "www.siaga.test", expect=DnsExpect(min_answers=3)), 1, ctx)
    assert not result.ok
    assert result.reason.startswith("2 answers, expected at least 3 (got 192.0.2.1")


async def test_it_looks_up_aaaa_and_compares_addresses_as_addresses(
    farm: Farm, ctx: ProbeContext
) -> None:
    expect = DnsExpect(answers_contain=("2001:0db8:0::10",))
    result = await run(spec(farm, "www.siaga.test", "AAAA", expect=expect), 1, ctx)
    assert (result.ok, result.details["answers"]) == (True, ["2001:db8::10"])


async def test_it_looks_up_a_cname(farm: Farm, ctx: ProbeContext) -> None:
    expect = DnsExpect(answers_contain=("www.siaga.test.",))
    result = await run(spec(farm, "portal.siaga.test", "CNAME", expect=expect), 1, ctx)
    assert (result.ok, result.details["answers"]) == (True, ["www.siaga.test."])


async def test_it_follows_a_cname_to_the_addresses(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(spec(farm, "portal.siaga.test"), 1, ctx)
    assert result.ok
    assert sorted(result.details["answers"]) == ["192.0.2.10", "192.0.2.11"]
    assert result.details["via"] == ["www.siaga.test."]


async def test_it_looks_up_mx(farm: Farm, ctx: ProbeContext) -> None:
    expect = DnsExpect(answers_contain=("10 mail.siaga.test.",))
    result = await run(spec(farm, "siaga.test", "MX", expect=expect), 1, ctx)
    assert (result.ok, result.details["answers"]) == (True, ["10 mail.siaga.test."])


async def test_it_looks_up_txt_with_a_regex(farm: Farm, ctx: ProbeContext) -> None:
    expect = DnsExpect(answers_regex=r"v=spf1 .*all", answers_contain=("v=spf1 -all",))
    result = await run(spec(farm, "siaga.test", "TXT", expect=expect), 1, ctx)
    assert (result.ok, result.details["answers"]) == (True, ['"v=spf1 -all"'])


async def test_it_reports_a_regex_no_answer_matches(farm: Farm, ctx: ProbeContext) -> None:
    expect = DnsExpect(answers_regex=r"v=DMARC1")
    result = await run(spec(farm, "siaga.test", "TXT", expect=expect), 1, ctx)
    assert (result.ok, result.reason) == (
        False,
        "no answer matches /v=DMARC1/ (got \"v=spf1 -all\")",
    )


async def test_it_looks_up_soa(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(spec(farm, "siaga.test", "SOA"), 1, ctx)
    assert result.ok
    assert result.details["answers"][0].startswith("ns1.siaga.test. admin.siaga.test. ")


async def test_it_reports_an_empty_answer(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(spec(farm, "siaga.test", "AAAA"), 1, ctx)
    assert (result.ok, result.reason) == (False, "empty answer, expected at least 1")


async def test_it_reports_nxdomain_when_noerror_is_expected(
    farm: Farm, ctx: ProbeContext
) -> None:
    result = await run(spec(farm, "nope.siaga.test"), 1, ctx)
    assert (result.ok, result.reason) == (False, "rcode NXDOMAIN, expected NOERROR")
    assert result.details["rcode"] == "NXDOMAIN"


async def test_it_accepts_nxdomain_when_expected(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(spec(farm, "nope.siaga.test", expect=DnsExpect(rcode="NXDOMAIN")), 1, ctx)
    assert (result.ok, result.reason) == (True, "ok")


async def test_it_reports_servfail(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(spec(farm, "servfail.siaga.test"), 1, ctx)
    assert (result.ok, result.reason) == (False, "rcode SERVFAIL, expected NOERROR")


async def test_it_names_the_server_when_no_answer_comes(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(spec(farm, "www.siaga.test", port=farm.dns_timeout_port), 0.5, ctx)
    assert (result.ok, result.reason) == (
        False,
        f"timeout after 500ms (no DNS answer from 127.0.0.1:{farm.dns_timeout_port})",
    )
    assert result.duration < 1.5


async def test_it_asks_over_tcp(farm: Farm, ctx: ProbeContext) -> None:
    expect = DnsExpect(answers_contain=("192.0.2.11",))
    result = await run(spec(farm, "www.siaga.test", transport="tcp", expect=expect), 1, ctx)
    assert (result.ok, result.reason) == (True, "ok")


async def test_it_times_out_over_tcp_too(farm: Farm, ctx: ProbeContext) -> None:
    kw: dict[str, Any] = {"port": farm.dns_timeout_port, "transport": "tcp"}
    result = await run(spec(farm, "www.siaga.test", **kw), 0.5, ctx)
    assert result.reason.startswith("timeout after 500ms (no DNS answer from 127.0.0.1:")


async def test_it_reports_a_refused_tcp_connection(farm: Farm, ctx: ProbeContext) -> None:
    kw: dict[str, Any] = {"port": farm.refused_port, "transport": "tcp"}
    result = await run(spec(farm, "www.siaga.test", **kw), 1, ctx)
    assert (result.ok, result.reason) == (False, "dns: connection refused")


def test_it_reads_the_first_nameserver_from_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example.test\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n")
    assert system_nameserver(str(conf)) == "192.0.2.53"


def test_it_finds_no_nameserver_in_an_empty_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# nothing here\n")
    assert system_nameserver(str(conf)) is None
    assert system_nameserver(str(tmp_path / "missing")) is None


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_cancelling_propagates_and_closes_the_socket(
    farm: Farm, ctx: ProbeContext, transport: str
) -> None:
    kw: dict[str, Any] = {"port": farm.dns_timeout_port, "transport": transport}
    await cancel_soon(run(spec(farm, "www.siaga.test", **kw), 5, ctx))




def _check(text: str) -> tuple[Any, list[str]]:
    return check_schema(SCHEMA, "dns", text)


def test_schema_builds_a_spec_with_defaults() -> None:
    value, problems = _check(
        "name: siaga.test\ntype: mx\nserver: 192.0.2.53\n"
        "expect:\n  answers_contain: 10 mail.siaga.test.\n"
    )
    assert problems == []
    assert value == DnsSpec(
        "siaga.test", "MX", "192.0.2.53",
        expect=DnsExpect(answers_contain=("10 mail.siaga.test.",)),
    )
    assert target(value) == "192.0.2.53"


def test_schema_rejects_a_name_with_an_empty_label() -> None:
    _, problems = _check("name: www..siaga.test\n")
    assert problems == [
        "checks.yaml:1:7: checks[0].dns.name: not a valid DNS name: "
        "A DNS label is empty."
    ]


def test_schema_suggests_the_record_type_meant() -> None:
    _, problems = _check("name: siaga.test\ntype: AAA\n")
    assert len(problems) == 1
    assert problems[0].startswith("checks.yaml:2:7: checks[0].dns.type: expected one of A, AAAA,")
    assert problems[0].endswith("got 'AAA' (did you mean 'AAAA'?)")


def test_schema_wants_an_ip_address_as_server_and_a_known_rcode() -> None:
    _, problems = _check("name: siaga.test\nserver: ns1.example.test\nexpect:\n  rcode: NXDOMIAN\n")
    assert problems[1].startswith("checks.yaml:4:10: checks[0].dns.expect.rcode: expected one of")
    assert problems[1].endswith("(did you mean 'NXDOMAIN'?)")
    assert problems[0] == (
        "checks.yaml:2:9: checks[0].dns.server: expected an IP address, got 'ns1.example.test'"
    )


def test_the_rcode_names_are_dnspythons() -> None:
    import dns.rcode

    from monitor.probes.dns import RCODES

    assert tuple(dns.rcode.to_text(code) for code in dns.rcode.Rcode if code < 16) == RCODES
