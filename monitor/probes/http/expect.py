"""What an HTTP response must look like: the `expect:` section of an HTTP check, and
judging one response against it.

Hard expectations fail the probe; soft ones (`warn_latency`, `cert_days_warn`) leave it ok
but degraded. Everything that can be checked when the config is read (status syntax,
regular expressions, JSON paths) is checked then, so a probe never meets a bad pattern.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from yaml.nodes import Node, ScalarNode, SequenceNode

from monitor.config.model import quick_unpickle
from monitor.config.scalars import Bool, Duration, Int, Str, format_duration
from monitor.config.schema import (
    INVALID,
    Ctx,
    Field,
    ListOf,
    MapOf,
    Obj,
    Scalar,
    describe,
    scalar_value,
)
from monitor.probes.http.decode import body_text
from monitor.probes.http.wire import Response
from monitor.probes.tcp import Regex

DAY = 86400.0
_STATUS_HINT = "a status code 100–599, a range like 200-299 or a class like 2xx"
_STATUS_PATTERN = r"^([1-5]([0-9]{2}|xx|XX)|[1-5][0-9]{2}\s*-\s*[1-5][0-9]{2})$"
_HEADER_NAME = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PATH_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")
_PATH_HINT = "a path like db.up or items[0].name"


@quick_unpickle
@dataclass(frozen=True, slots=True)
class StatusSet:
    """The accepted status codes as inclusive ranges, and how the config wrote them."""

    ranges: tuple[tuple[int, int], ...]
    text: str

    def __contains__(self, code: int) -> bool:
        return any(lo <= code <= hi for lo, hi in self.ranges)


ANY_2XX = StatusSet(((200, 299),), "2xx")


def parse_status(value: Any) -> tuple[tuple[int, int], str] | None:
    """200 → (200, 200); '2xx' → (200, 299); '200-204' → (200, 204); None if unusable."""
    if isinstance(value, int) and not isinstance(value, bool):
        return ((value, value), str(value)) if 100 <= value <= 599 else None
    if not isinstance(value, str) or not re.fullmatch(_STATUS_PATTERN, value.strip()):
        return None
    text = value.strip().lower()
    if text.endswith("xx"):
        base = int(text[0]) * 100
        return (base, base + 99), text
    lo, _, hi = text.partition("-")
    pair = (int(lo), int(hi or lo))
    return (pair, text.replace(" ", "")) if pair[0] <= pair[1] else None


class Status(Field):
    """Accepted status codes: 200, "2xx", "200-299", or a list of those."""

    def check(self, node: Node, path: str, ctx: Ctx) -> Any:
        items = node.value if isinstance(node, SequenceNode) else [node]
        if not items:
            return ctx.error(node, path, f"expected {_STATUS_HINT}, got an empty list")
        ranges, texts = [], []
        for i, item in enumerate(items):
            where = f"{path}[{i}]" if isinstance(node, SequenceNode) else path
            value = scalar_value(item) if isinstance(item, ScalarNode) else None
            parsed = parse_status(value)
            if parsed is None:
                got = repr(value) if isinstance(item, ScalarNode) else describe(item)
                ctx.error(item, where, f"expected {_STATUS_HINT}, got {got}")
                continue
            ranges.append(parsed[0])
            texts.append(parsed[1])
        if len(texts) != len(items):
            return INVALID
        return StatusSet(tuple(ranges), " or ".join(texts))

    def json_schema(self) -> dict[str, Any]:
        one = {
            "oneOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "string", "pattern": _STATUS_PATTERN},
            ]
        }
        schema = self._doc({"anyOf": [one, {"type": "array", "items": one, "minItems": 1}]})
        if isinstance(self.default, StatusSet):
            schema["default"] = self.default.text
        return schema


@dataclass(frozen=True, slots=True)
class JsonPath:
    text: str
    steps: tuple[str | int, ...]


class JsonPathField(Str):
    """A dotted path into a JSON document, with list indexes: items[0].name."""

    def __init__(self, description: str = "") -> None:
        super().__init__(description, env=False)

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        text = super().convert(value, node, path, ctx)
        if text is INVALID:
            return INVALID
        steps = parse_json_path(text)
        if steps is None:
            return ctx.error(node, path, f"expected {_PATH_HINT}, got {text!r}")
        return JsonPath(text, steps)


def parse_json_path(text: str) -> tuple[str | int, ...] | None:
    """'items[0].name' → ('items', 0, 'name'); None when it is not such a path."""
    steps: list[str | int] = []
    pos = 0
    for match in _PATH_STEP.finditer(text):
        if match.start() != pos or (match.group(0).startswith(".") and not steps):
            return None
        key, index = match.groups()
        steps.append(int(index) if index is not None else key.strip())
        pos = match.end()
    return tuple(steps) if steps and pos == len(text) else None


class JsonScalar(Scalar):
    """Any single YAML value (string, number, boolean, null) to compare a JSON value to."""

    expected = "a string, number, true, false or null"

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        if value is None or isinstance(value, str | int | float | bool):
            return value
        return str(node.value)  # a date or a timestamp: compare it as written

    def json_schema(self) -> dict[str, Any]:
        return self._doc({"type": ["string", "number", "boolean", "null"]})


@dataclass(frozen=True, slots=True)
class JsonCheck:
    path: JsonPath
    equals: Any = None
    exists: bool | None = None  # None: this check compares with `equals`


def _build_json_check(v: dict[str, Any], node: Node, path: str, ctx: Ctx) -> Any:
    if ("equals" in v) == ("exists" in v):
        return ctx.error(node, path, "expected exactly one of equals or exists")
    return JsonCheck(v["path"], v.get("equals"), v.get("exists"))


JSON_CHECK = Obj(
    {
        "path": JsonPathField("Where in the JSON body: db.up, items[0].name"),
        "equals": JsonScalar("The value found there must equal this"),
        "exists": Bool("true: the path must be present; false: it must be absent"),
    },
    "One check on the JSON body",
    required=["path"],
    build=_build_json_check,
)


@quick_unpickle
@dataclass(frozen=True, slots=True)
class Expect:
    status: StatusSet = ANY_2XX
    body_contains: tuple[str, ...] = ()
    body_not_contains: tuple[str, ...] = ()
    body_regex: re.Pattern[str] | None = None
    json: tuple[JsonCheck, ...] = ()
    headers: tuple[tuple[str, re.Pattern[str]], ...] = ()
    max_latency: float | None = None
    warn_latency: float | None = None
    cert_days_min: int | None = None
    cert_days_warn: int | None = None

    @property
    def reads_body(self) -> bool:
        return bool(self.body_contains or self.body_not_contains or self.body_regex or self.json)


def _build_expect(v: dict[str, Any], node: Node, path: str, ctx: Ctx) -> Expect:
    regex = v["body_regex"]
    return Expect(
        status=v["status"],
        body_contains=tuple(v["body_contains"]),
        body_not_contains=tuple(v["body_not_contains"]),
        body_regex=re.compile(regex) if regex else None,
        json=tuple(v["json"]),
        headers=tuple((name, re.compile(rx)) for name, rx in v["headers"].items()),
        max_latency=v["max_latency"],
        warn_latency=v["warn_latency"],
        cert_days_min=v["cert_days_min"],
        cert_days_warn=v["cert_days_warn"],
    )


EXPECT = Obj(
    {
        "status": Status("Accepted status: 200, 2xx, 200-299 or a list", default=ANY_2XX),
        "body_contains": ListOf(Str(), "Text(s) the body must contain", default=(), single_ok=True),
        "body_not_contains": ListOf(
            Str(), "Text(s) the body must not contain", default=(), single_ok=True
        ),
        "body_regex": Regex("Regular expression the body must match", default=None),
        "json": ListOf(JSON_CHECK, "Checks on the JSON body", default=()),
        "headers": MapOf(
            Regex(),
            "Response header → regular expression it must match",
            default={},
            key_pattern=_HEADER_NAME,
            key_hint="a header name",
        ),
        "max_latency": Duration("Slower than this fails", default=None),
        "warn_latency": Duration("Slower than this is degraded", default=None),
        "cert_days_min": Int("Fewer days of certificate left fails", default=None, min=0),
        "cert_days_warn": Int("Fewer days of certificate left is degraded", default=None, min=0),
    },
    "What the response must look like",
    build=_build_expect,
    default=Expect(),
)


def judge(
    expect: Expect, resp: Response, duration: float, cert_expiry: float | None, now: float
) -> tuple[str | None, str | None]:
    """(why the response fails, or None; why it is degraded, or None)."""
    if resp.status not in expect.status:
        return f"status {resp.status}, expected {expect.status.text}", None
    failure = _header_failure(expect, resp)
    if failure is None and expect.reads_body:
        failure = _body_failure(expect, resp)
    if failure is not None:
        return failure, None
    if expect.max_latency is not None and duration > expect.max_latency:
        limit = format_duration(expect.max_latency)
        return f"took {took(duration)}, expected at most {limit}", None
    days = None if cert_expiry is None else math.floor((cert_expiry - now) / DAY)
    if days is not None and expect.cert_days_min is not None and days < expect.cert_days_min:
        return f"{_cert_left(days)} (minimum {expect.cert_days_min})", None
    return None, _degraded(expect, duration, days)


def _degraded(expect: Expect, duration: float, days: int | None) -> str | None:
    if expect.warn_latency is not None and duration > expect.warn_latency:
        limit = format_duration(expect.warn_latency)
        return f"slow: took {took(duration)} (warning above {limit})"
    if days is not None and expect.cert_days_warn is not None and days < expect.cert_days_warn:
        return f"{_cert_left(days)} (warning below {expect.cert_days_warn})"
    return None


def took(seconds: float) -> str:
    """1.4 → '1.4s', 0.25 → '250ms': one decimal, since '1s' would hide a slow 1.4s."""
    return f"{round(seconds * 1000)}ms" if seconds < 1 else f"{seconds:.1f}s"


def _cert_left(days: int) -> str:
    if days < 0:
        return f"certificate expired {_days(-days)} ago"
    return f"certificate expires in {_days(days)}"


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def _header_failure(expect: Expect, resp: Response) -> str | None:
    for name, pattern in expect.headers:
        value = resp.headers.get(name.lower())
        if value is None:
            return f"header {name} missing"
        if not pattern.search(value):
            return f"header {name} is {value[:60]!r}, expected to match {pattern.pattern!r}"
    return None


def _body_failure(expect: Expect, resp: Response) -> str | None:
    text = body_text(resp.body, resp.headers.get("content-type"))
    for needle in expect.body_contains:
        if needle not in text:
            return f"body does not contain {needle!r}"
    for needle in expect.body_not_contains:
        if needle in text:
            return f"body contains {needle!r}"
    if expect.body_regex is not None and not expect.body_regex.search(text):
        return f"body does not match {expect.body_regex.pattern!r}"
    return _json_failure(expect.json, text) if expect.json else None


_MISSING = object()


def _json_failure(checks: tuple[JsonCheck, ...], text: str) -> str | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return "body is not JSON"
    for check in checks:
        found = _lookup(doc, check.path.steps)
        where = check.path.text
        if check.exists is not None:
            if check.exists and found is _MISSING:
                return f"json {where} missing"
            if not check.exists and found is not _MISSING:
                return f"json {where} present, expected it to be absent"
        elif found is _MISSING:
            return f"json {where} missing"
        elif not _same(found, check.equals):
            return f"json {where} is {_show(found)}, expected {_show(check.equals)}"
    return None


def _lookup(doc: Any, steps: tuple[str | int, ...]) -> Any:
    for step in steps:
        in_list = isinstance(step, int) and isinstance(doc, list) and step < len(doc)
        in_dict = isinstance(step, str) and isinstance(doc, dict) and step in doc
        if not (in_list or in_dict):
            return _MISSING
        doc = doc[step]
    return doc


def _same(found: Any, wanted: Any) -> bool:
    """JSON equality, where true is not 1 (Python would say it is)."""
    if isinstance(found, bool) or isinstance(wanted, bool):
        return found is wanted
    return bool(found == wanted)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:60] + "…"
