"""The TLS probe against the farm's certificates: good, expired, wrong host, untrusted,
expiring."""

from __future__ import annotations

import time
from typing import Any

import pytest

from monitor.probes.base import ProbeContext
from monitor.probes.tls import SCHEMA, TlsSpec, run, target
from tests.farm import Farm
from tests.probe_helpers import cancel_soon, check_schema

DAY = 86400


@pytest.fixture
def ctx() -> ProbeContext:
    return ProbeContext()


def spec(farm: Farm, name: str, **kw: Any) -> TlsSpec:
    kw.setdefault("ca_file", farm.ca_pem)
    return TlsSpec(farm.host, farm.tls_ports[name], **kw)


async def test_it_accepts_a_good_certificate_and_reports_it(
    farm: Farm, ctx: ProbeContext
) -> None:
    result = await run(spec(farm, "good"), 1, ctx)
    assert (result.ok, result.reason, result.degraded) == (True, "ok", None)
    assert result.cert_expiry is not None
    assert 59 * DAY < result.cert_expiry - time.time() < 61 * DAY
    assert result.details["sans"] == ["127.0.0.1", "localhost"]
    assert result.details["tls_version"].startswith("TLSv1.")
    assert int(result.details["days_left"]) == 60
    assert set(result.phases) == {"resolve", "connect", "tls"}


async def test_it_reports_an_expired_certificate(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(spec(farm, "expired"), 1, ctx)
    assert (result.ok, result.reason) == (False, "tls: certificate has expired")


async def test_it_reports_a_certificate_for_another_host(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(spec(farm, "wrong_host"), 1, ctx)
    assert (result.ok, result.reason) == (False, "tls: certificate is not valid for 127.0.0.1")


async def test_it_checks_the_certificate_against_server_name(
    farm: Farm, ctx: ProbeContext
) -> None:
    result = await run(spec(farm, "wrong_host", server_name="wrong.example.test"), 1, ctx)
    assert (result.ok, result.reason) == (True, "ok")
    assert result.details["sans"] == ["wrong.example.test"]


async def test_it_reports_an_untrusted_certificate(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(spec(farm, "untrusted"), 1, ctx)
    assert (result.ok, result.reason) == (
        False,
        "tls: untrusted certificate (self-signed or unknown CA)",
    )


async def test_it_distrusts_the_farm_ca_without_ca_file(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(spec(farm, "good", ca_file=None), 1, ctx)
    assert (result.ok, result.reason) == (
        False,
        "tls: untrusted certificate (self-signed or unknown CA)",
    )


async def test_it_reads_the_expiry_without_verification(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(spec(farm, "expired", verify=False, ca_file=None), 1, ctx)
    assert (result.ok, result.reason) == (True, "ok")
    assert result.cert_expiry is not None and result.cert_expiry < time.time()


async def test_it_fails_a_certificate_expiring_before_the_minimum(
    farm: Farm, ctx: ProbeContext
) -> None:
    result = await run(spec(farm, "expiring", cert_days_min=14), 1, ctx)
    assert (result.ok, result.reason) == (False, "certificate expires in 3 days (minimum 14)")
    assert result.cert_expiry is not None


async def test_it_degrades_a_certificate_expiring_before_the_warning(
    farm: Farm, ctx: ProbeContext
) -> None:
    result = await run(spec(farm, "expiring", cert_days_min=2, cert_days_warn=14), 1, ctx)
    assert (result.ok, result.reason) == (True, "ok")
    assert result.degraded == "certificate expires in 3 days (warning at 14)"


async def test_it_fails_an_expired_certificate_with_a_minimum_even_unverified(
    farm: Farm, ctx: ProbeContext
) -> None:
    result = await run(spec(farm, "expired", verify=False, cert_days_min=1), 1, ctx)
    assert (result.ok, result.reason) == (False, "certificate has expired (minimum 1)")


async def test_it_names_the_handshake_when_it_times_out(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(TlsSpec(farm.host, farm.hang_port, ca_file=farm.ca_pem), 0.5, ctx)
    assert (result.ok, result.reason) == (False, "timeout after 500ms (tls handshake)")


async def test_it_reports_connection_refused(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(TlsSpec(farm.host, farm.refused_port), 1, ctx)
    assert (result.ok, result.reason) == (False, "connect: connection refused")


async def test_cancelling_propagates_and_closes_the_connection(
    farm: Farm, ctx: ProbeContext
) -> None:
    await cancel_soon(run(TlsSpec(farm.host, farm.hang_port), 5, ctx))




def _check(text: str) -> tuple[Any, list[str]]:
    return check_schema(SCHEMA, "tls", text)


def test_schema_builds_a_spec_with_defaults() -> None:
    value, problems = _check("host: portal.example.test\ncert_days_min: 14\n")
    assert problems == []
    assert value == TlsSpec("portal.example.test", 443, cert_days_min=14)
    assert target(value) == "portal.example.test:443"


def test_schema_wants_the_warning_before_the_minimum() -> None:
    _, problems = _check("host: portal.example.test\ncert_days_min: 14\ncert_days_warn: 7\n")
    assert problems == [
        "checks.yaml:3:17: checks[0].tls.cert_days_warn: must be more than cert_days_min (14), "
        "got 7"
    ]


def test_schema_rejects_a_url_as_host() -> None:
    _, problems = _check("host: https://portal.example.test\n")
    assert problems == [
        "checks.yaml:1:7: checks[0].tls.host: expected a host name or IP address "
        "(no scheme, no path), got 'https://portal.example.test'"
    ]
