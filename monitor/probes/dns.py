"""DNS probe: ask one resolver or authoritative server one question and judge the answer."""

from __future__ import annotations

import asyncio
import functools
import importlib
import ipaddress
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from yaml.nodes import Node

from monitor.config.scalars import Bool, Enum, Int, Str
from monitor.config.schema import INVALID, Ctx, ListOf, Obj
from monitor.probes.base import ProbeContext, ProbeKind, ProbeResult
from monitor.probes.tcp import Attempt, Regex, os_error_text

if TYPE_CHECKING:
    import dns.message

RESOLV_CONF = "/etc/resolv.conf"
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "PTR", "SRV", "CAA")
# dnspython's names of the response codes below 16 (tests/test_probe_dns.py compares)
RCODES = ("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
          "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI")
MAX_ANSWERS = 10  # answers kept in details; a round-robin pool can be long
SHOWN_ANSWERS = 4  # answers quoted in a failure reason
_DNS_MODULES = ("asyncquery", "exception", "flags", "message", "name", "rcode", "rdatatype",
                "resolver", "reversename")


@functools.cache
def _dns() -> ModuleType:
    """dnspython, imported when a DNS check is validated or probed: ~50 ms of imports that
    a start from the compiled-config cache does without until then."""
    for name in _DNS_MODULES:
        importlib.import_module(f"dns.{name}")
    return importlib.import_module("dns")


@dataclass(frozen=True, slots=True)
class DnsExpect:
    rcode: str = "NOERROR"
    answers_contain: tuple[str, ...] = ()
    answers_regex: str | None = None
    min_answers: int | None = None  # None: 1 when rcode is NOERROR, else 0

    @property
    def least(self) -> int:
        if self.min_answers is not None:
            return self.min_answers
        return 1 if self.rcode == "NOERROR" else 0


@dataclass(frozen=True, slots=True)
class DnsSpec:
    name: str
    type: str = "A"
    server: str | None = None
    port: int = 53
    transport: str = "udp"
    recursion: bool = True
    expect: DnsExpect = field(default_factory=DnsExpect)


EXPECT = Obj(
    {
        "rcode": Enum(RCODES, "Response code the answer must carry", default="NOERROR"),
        "answers_contain": ListOf(
            Str(), "Answers (in text form, e.g. '10 mail.example.com.') that must all be there",
            default=[], single_ok=True,
        ),
        "answers_regex": Regex("Regular expression at least one answer must match",
                               default=None),
        "min_answers": Int("Fewest answers (default 1 when rcode is NOERROR, else 0)", min=0,
                           default=None),
    },
    "What the answer must look like",
    build=lambda v, node, path, ctx: DnsExpect(
        **{**v, "answers_contain": tuple(v["answers_contain"])}
    ),
    default=None,
)


class IpAddress(Str):
    """An IPv4 or IPv6 address, written as such (no name)."""

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        text = super().convert(value, node, path, ctx)
        if text is not INVALID and not _is_ip(text):
            return ctx.error(node, path, f"expected an IP address, got {text!r}")
        return text


class DnsName(Str):
    """A domain name dnspython can put in a question (or an address, for PTR)."""

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        text = super().convert(value, node, path, ctx)
        if text is INVALID or _is_ip(text):
            return text
        dnspy = _dns()
        try:
            dnspy.name.from_text(text)
        except dnspy.exception.DNSException as exc:
            return ctx.error(node, path, f"not a valid DNS name: {exc}")
        return text


SCHEMA = Obj(
    {
        "name": DnsName("Name to look up (an IP address for PTR)"),
        "type": Enum(RECORD_TYPES, "Record type", default="A"),
        "server": IpAddress("IP address of the DNS server (default: first nameserver in "
                      "/etc/resolv.conf)", default=None),
        "port": Int("Server port", min=1, max=65535, default=53),
        "transport": Enum(("udp", "tcp"), "udp (falls back to tcp when truncated) or tcp",
                          default="udp"),
        "recursion": Bool("Ask for recursion (RD flag)", default=True),
        "expect": EXPECT,
    },
    "Look a name up on a DNS server",
    required=["name"],
    build=lambda v, node, path, ctx: DnsSpec(**{**v, "expect": v["expect"] or DnsExpect()}),
)


def system_nameserver(path: str = RESOLV_CONF) -> str | None:
    """The first plain nameserver in resolv.conf, read now so edits are picked up."""
    dnspy = _dns()
    resolver = dnspy.resolver.Resolver(configure=False)
    try:
        resolver.read_resolv_conf(path)
    except (dnspy.resolver.NoResolverConfiguration, OSError):
        return None
    for server in resolver.nameservers:
        if isinstance(server, str):
            return server
    return None


def make_query(spec: DnsSpec) -> dns.message.Message:
    dnspy = _dns()
    if spec.type == "PTR" and _is_ip(spec.name):
        qname = dnspy.reversename.from_address(spec.name)
    else:
        qname = dnspy.name.from_text(spec.name)
    query: dns.message.Message = dnspy.message.make_query(qname, spec.type)
    if not spec.recursion:
        query.flags &= ~dnspy.flags.RD
    return query


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


async def ask(spec: DnsSpec, server: str) -> dns.message.Message:
    """Send the query; the caller's deadline bounds it, so dnspython gets no timeout."""
    dnspy = _dns()
    query = make_query(spec)
    response: dns.message.Message
    if spec.transport == "tcp":
        response = await dnspy.asyncquery.tcp(query, server, port=spec.port)
        return response
    response, _ = await dnspy.asyncquery.udp_with_fallback(
        query, server, port=spec.port, ignore_unexpected=True
    )
    return response


def answers_of(response: dns.message.Message, rdtype: str) -> tuple[list[str], list[str]]:
    """(answers of the asked type, CNAMEs followed to reach them), in text form."""
    dnspy = _dns()
    wanted = dnspy.rdatatype.from_text(rdtype)
    answers: list[str] = []
    via: list[str] = []
    for rrset in response.answer:
        texts = [rdata.to_text() for rdata in rrset]
        if rrset.rdtype == wanted:
            answers.extend(texts)
        elif rrset.rdtype == dnspy.rdatatype.CNAME:
            via.extend(texts)
    return answers, via


def normalize(text: str) -> str:
    """Compare answers as people write them: no quotes, no trailing dots, short IPv6."""
    words = [w.strip('"').rstrip(".") for w in text.split()]
    if len(words) == 1 and _is_ip(words[0]):
        return str(ipaddress.ip_address(words[0]))
    return " ".join(words)


def judge(expect: DnsExpect, rcode: str, answers: list[str]) -> str | None:
    """Why the answer misses the expectation, or None."""
    if rcode != expect.rcode:
        return f"rcode {rcode}, expected {expect.rcode}"
    got = ", ".join(answers[:SHOWN_ANSWERS]) + (", …" if len(answers) > SHOWN_ANSWERS else "")
    if len(answers) < expect.least:
        if not answers:
            return f"empty answer, expected at least {expect.least}"
        return f"{len(answers)} answers, expected at least {expect.least} (got {got})"
    present = {normalize(a) for a in answers}
    for want in expect.answers_contain:
        if normalize(want) not in present:
            return f"no answer contains {want} (got {got or 'no answers'})"
    if expect.answers_regex and not any(re.search(expect.answers_regex, a) for a in answers):
        return f"no answer matches /{expect.answers_regex}/ (got {got or 'no answers'})"
    return None


def _where(server: str, port: int) -> str:
    return f"[{server}]:{port}" if ":" in server else f"{server}:{port}"


async def run(spec: DnsSpec, timeout: float, ctx: ProbeContext) -> ProbeResult:
    dnspy = _dns()
    attempt = Attempt()
    server = spec.server or await asyncio.to_thread(system_nameserver)
    if server is None:
        reason = f"dns: no server given and no nameserver in {RESOLV_CONF}"
        return attempt.result(False, reason)
    where = _where(server, spec.port)
    attempt.begin(f"no DNS answer from {where}", "dns")
    details: dict[str, Any] = {"server": where}
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            response = await ask(spec, server)
    except TimeoutError as exc:
        expired = deadline.expired()
        reason = attempt.timeout_reason(timeout) if expired else attempt.error_reason(exc)
        return attempt.result(False, reason, details=details)
    except OSError as exc:
        return attempt.result(False, f"dns: {os_error_text(exc)}", details=details)
    except dnspy.exception.DNSException as exc:
        return attempt.result(False, f"dns: bad response ({exc})", details=details)
    details["lookup_time"] = attempt.lap("resolve")
    return _verdict(spec, response, attempt, details)


def _verdict(
    spec: DnsSpec, response: dns.message.Message, attempt: Attempt, details: dict[str, Any]
) -> ProbeResult:
    dnspy = _dns()
    rcode = dnspy.rcode.to_text(response.rcode())
    answers, via = answers_of(response, spec.type)
    details.update(rcode=rcode, answers=answers[:MAX_ANSWERS])
    if via:
        details["via"] = via[:MAX_ANSWERS]
    failure = judge(spec.expect, rcode, answers)
    return attempt.result(failure is None, failure or "ok", details=details)


def target(spec: DnsSpec) -> str:
    """The server asked: that is the host a DNS check loads, not the name looked up."""
    if spec.server is None:
        return "system-resolver"
    return _where(spec.server, spec.port) if spec.port != 53 else spec.server


KIND = ProbeKind("dns", SCHEMA, run, target)
