"""Loading checks.yaml: parse with places, validate every section, resolve defaults, and
cross-check the whole (duplicate names, unknown or cyclic dependencies, interval vs timeout).

`load_config` returns a frozen `Config` or raises `ConfigError` carrying every problem.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yaml.nodes import MappingNode, Node

from monitor.config.document import compose
from monitor.config.hostnames import host_problem
from monitor.config.model import Check, Config, FlapPolicy, Settings, shared
from monitor.config.reuse import CheckList, Reused, Sources
from monitor.config.scalars import Bool, Duration, Enum, Float, Int, StoreUrl, Str, Url
from monitor.config.schema import INVALID, Ctx, Field, ListOf, Obj, contains_invalid
from monitor.errors import ConfigError, Problem
from monitor.fleet.slots import numbered_shard, parse_shard
from monitor.probes import KINDS
from monitor.process import gc_paused

NAME_PATTERN = r"[a-z0-9][a-z0-9._-]{0,62}"
NAME_HINT = "lowercase letters, digits, '.', '_' or '-' (at most 63), like 'portal-web'"


# What Indonesians write for their three zones (Waktu Indonesia Barat/Tengah/Timur).
ZONE_ABBREVIATIONS = {"WIB": "Asia/Jakarta", "WITA": "Asia/Makassar", "WIT": "Asia/Jayapura"}


def _settings(values: dict[str, Any], node: Node, path: str, ctx: Ctx) -> Any:
    ok = True
    zone = str(values["timezone"])
    values["timezone"] = ZONE_ABBREVIATIONS.get(zone.upper(), zone)
    try:
        ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        tz = values["timezone"]
        ctx.error_at(f"{path}.timezone", f"unknown time zone {tz!r}, e.g. Asia/Jakarta")
        ok = False
    for key in ("listen", "status_listen"):
        if values.get(key) is not None:
            ok = _address(str(values[key]), f"{path}.{key}", ctx) and ok
    if values.get("shard") is not None:
        try:
            parse_shard(str(values["shard"]))
        except ValueError as exc:
            ctx.error_at(f"{path}.shard", str(exc))
            ok = False
    if values.get("shards") is not None and values.get("instance") is not None:
        try:
            numbered_shard(str(values["instance"]), int(values["shards"]))
        except ValueError as exc:
            ctx.error_at(f"{path}.instance", str(exc))
            ok = False
    same = values.get("status_listen") == values["listen"]
    if same and not str(values["listen"]).endswith(":0"):  # two ":0"s get two free ports
        ctx.error_at(f"{path}.status_listen", "must differ from siaga.listen (the status page "
                     "is served there too; status_listen gives it a process of its own)")
        ok = False
    return Settings(**values) if ok else INVALID


def _address(text: str, where: str, ctx: Ctx) -> bool:
    host, _, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") else host
    if not 0 <= int(port) <= 65535:  # 0: the system picks a free port (tests use it)
        ctx.error_at(where, f"port must be 1–65535 (or 0: any free port), got {int(port)}")
        return False
    if host and host_problem(host):
        ctx.error_at(where, str(host_problem(host)))
        return False
    return True


SETTINGS = Obj(
    {
        "location": Str("Where this instance probes from (metric label)", default="local",
                        pattern=NAME_PATTERN, hint=NAME_HINT),
        "timezone": Str("IANA time zone for schedules, rosters and reports (WIB, WITA and "
                        "WIT are taken for Asia/Jakarta, Asia/Makassar and Asia/Jayapura)",
                        default="Asia/Jakarta"),
        "language": Enum(["id", "en"], "Language of messages and the status page", default="id"),
        "listen": Str("Address of the HTTP server (metrics, API, status page)",
                      default="127.0.0.1:9477", pattern=r"(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}",
                      hint="HOST:PORT like 127.0.0.1:9477"),
        "state_dir": Str("Directory for the SQLite store and keys (relative to this file)",
                         default="state"),
        "store": StoreUrl("Where state is kept: sqlite (state_dir/siaga.db) or "
                          "postgresql://USER:${PG_PASSWORD}@HOST:PORT/DB (a fleet's shared "
                          "store; the password from the environment)", default="sqlite"),
        "public_url": Str("URL people use to reach this server (links in pages)", default=""),
        "max_concurrency": Int("Probes in flight at once, in total", default=500, min=1,
                               max=100_000),
        "per_host_concurrency": Int("Probes in flight at once against one host", default=64,
                                    min=1, max=10_000),
        "body_limit": Int("Bytes of a response body read at most", default=1_048_576,
                          min=1024, max=64 * 1_048_576),
        "latency_histogram": Bool("Export a per-check latency histogram for every check",
                                  default=False),
        "api_token": Str("Token for state-changing API calls; use ${VAR}", default=None),
        "max_lateness": Duration("Scheduler lateness above which /healthz fails", default=5.0,
                                 min=0.01),
        "raw_retention": Duration("How long raw state transitions are kept once rolled up",
                                  default=35 * 86400.0, min=86400),
        "rollup_retention": Duration("How long hourly and daily uptime rollups are kept",
                                     default=400 * 86400.0, min=86400),
        "deadman_url": Url("Dead-man's switch: URL GET every deadman_every while healthy "
                           "(e.g. https://hc-ping.com/${UUID})", default=None),
        "deadman_every": Duration("How often the dead-man's switch URL is called", default=60.0,
                                  min=0.05),
        "status_listen": Str("Address of a separate process serving only the public status "
                             "page (/status, JSON, Atom), so a surge of citizens never slows "
                             "probing", default=None,
                             pattern=r"(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}",
                             hint="HOST:PORT like 0.0.0.0:8080"),
        "status_export": Str("Directory the status page (HTML, JSON, Atom) is written to on "
                             "every change (relative to this file)", default=None),
        "agency": Str("The agency's name, shown on the status page, dashboard and reports "
                      "(e.g. Diskominfo Kabupaten Contoh)", default=""),
        "logo": Str("The agency's logo (PNG, JPEG, SVG or WebP file, at most 256 KB, "
                    "relative to this file) shown on the status page", default=None),
        "instance": Str("This instance's name in a fleet sharing a PostgreSQL store "
                        "(default: the host name); unique in the fleet", default=None,
                        pattern=NAME_PATTERN, hint=NAME_HINT),
        "shard": Str("This instance's shard in a fleet, I/N (also `siaga run --shard I/N`); "
                     "without it the instance name is its slot", default=None,
                     pattern=r"\s*\d+\s*/\s*\d+\s*", hint="I/N like 1/3"),
        "shards": Int("In a fleet: N shards, each instance's number taken from the end of its "
                      "name (siaga-1 … siaga-N); instead of `shard`", default=None, min=1,
                      max=10_000),
        "lease_timeout": Duration("In a fleet: how soon another instance takes over paging "
                                  "(and a stopped instance's checks) after one dies",
                                  default=15.0, min=3.0, max=600.0),
    },
    "Settings of this Siaga instance",
    build=_settings,
    default=Settings(),
)

FLAPPING = Obj(
    {
        "enabled": Bool(default=True),
        "window": Int("Results considered", default=21, min=5, max=100),
        "high": Float("Start flapping at or above this percent of changes", default=30.0,
                      min=1, max=100),
        "low": Float("Stop flapping at or below this percent", default=20.0, min=0, max=100),
    },
    "Flap detection (Nagios method: weighted state changes with hysteresis)",
    build=lambda v, node, path, ctx: (
        ctx.error(node, path, "low must be below high") if v["low"] >= v["high"]
        else FlapPolicy(**v)
    ),
)

# Keys a check and `defaults:` share; a check's own value wins.
INHERITED: dict[str, Field] = {
    "interval": Duration("Time from one probe's start to the next", min=0.1),
    "timeout": Duration("Time a probe may take", min=0.01),
    "fail_after": Int("Consecutive failures before DOWN", min=1, max=100),
    "recover_after": Int("Consecutive successes before UP again", min=1, max=100),
    "slo": Float("Availability objective, e.g. 0.995", min=0.5, max=0.99999),
    "latency_histogram": Bool("Export a latency histogram for this check"),
    "flapping": FLAPPING,
    "escalation": Str("Name of the escalation policy"),
}

# Defaults a probe kind takes into its own spec when the check names none (the spec's
# `inherit(defaults, env)`): a forward proxy for every HTTP check.
KIND_DEFAULTS: dict[str, Field] = {
    "proxy": Str("Forward proxy for HTTP checks without their own: http://host:port, env "
                 "(HTTP(S)_PROXY, NO_PROXY) or none"),
}

DEFAULTS = Obj({**INHERITED, **KIND_DEFAULTS}, "Defaults for every check")

BUILTIN_DEFAULTS: dict[str, Any] = {
    "interval": 30.0, "timeout": 10.0, "fail_after": 3, "recover_after": 2, "slo": 0.995,
    "latency_histogram": False, "flapping": FlapPolicy(), "escalation": None,
}


def _check_fields() -> dict[str, Field]:
    fields: dict[str, Field] = {
        "name": Str("Unique name (metric label)", pattern=NAME_PATTERN, hint=NAME_HINT),
        "group": Str("Group shown together (status page, dashboards)", default="default"),
        "title": Str("Public name of the service", default=""),
        "description": Str("What this service is, for people", default=""),
        "public": Bool("Show on the public status page", default=False),
        "depends_on": ListOf(Str(pattern=NAME_PATTERN, hint=NAME_HINT),
                             "Checks this one needs; their outage silences this one",
                             default=[], single_ok=True),
        "connectivity": Bool("Reference target for Siaga's own network (connectivity guard)",
                             default=False),
        "locations": ListOf(Str(pattern=NAME_PATTERN, hint=NAME_HINT),
                            "In a fleet: the locations (siaga.location of its instances) that "
                            "each probe this check", default=[]),
        "quorum": Int("In a fleet: how many of `locations` must see the check down for it "
                      "to be DOWN (default: a majority)", default=None, min=1, max=100),
    }
    fields.update(INHERITED)
    for name, kind in KINDS.items():
        fields[name] = kind.schema
    fields.update(EXTRA_KINDS)
    return fields


# Check kinds that are not probes (e.g. heartbeat); registered by their modules.
EXTRA_KINDS: dict[str, Field] = {}
# Top-level sections beyond siaga/defaults/checks (oncall, maintenance, …), by their modules.
SECTIONS: dict[str, Field] = {}
# Whole-file checks of a section against the checks: section name → hook(value, checks, ctx).
CROSS_CHECKS: dict[str, Callable[[Any, list[tuple[str, Check]], Ctx], None]] = {}


def _draft_check(values: dict[str, Any], node: Node, path: str, ctx: Ctx) -> Any:
    kinds = [k for k in (*KINDS, *EXTRA_KINDS) if k in values]
    if len(kinds) != 1:
        known = ", ".join((*KINDS, *EXTRA_KINDS))
        msg = "has several kinds: " + ", ".join(kinds) if kinds else "has no kind"
        return ctx.error(node, path, f"{msg}; give exactly one of {known}")
    values["kind"] = kinds[0]
    values["spec"] = values.pop(kinds[0])
    values["__path"] = path
    return values


def check_schema() -> Obj:
    return Obj(_check_fields(), "One check", required=["name"], build=_draft_check)


def root_schema(sources: Sources | None = None) -> Obj:
    """The whole file's schema; with `sources`, `checks:` items whose lines a previous load
    validated are taken from it (monitor.config.reuse)."""
    fields: dict[str, Field] = {
        "siaga": SETTINGS,
        "defaults": DEFAULTS,
        "checks": CheckList(check_schema(), "The checks", sources),
    }
    fields.update(SECTIONS)
    # `x-…` keys hold what operators share through anchors and merge keys (`<<: *base`),
    # as in docker compose files.
    return Obj(fields, "Siaga configuration (checks.yaml)", partial=True, free_prefix="x-")


def resolve_check(
    draft: dict[str, Any], defaults: dict[str, Any], env: Mapping[str, str] | None = None,
    pool: dict[Any, Any] | None = None,
) -> Check:
    """The Check a validated draft makes; with `pool`, its frozen parts equal to another
    check's (spec parts, flapping policy) are that check's objects (model.shared)."""
    values = {k: v for k, v in draft.items() if k != "__path"}
    for key in INHERITED:
        if key not in values:
            values[key] = defaults.get(key, BUILTIN_DEFAULTS[key])
    inherit = getattr(values.get("spec"), "inherit", None)
    if inherit is not None:
        values["spec"] = inherit(defaults, os.environ if env is None else env)
    values["depends_on"] = tuple(values.get("depends_on", ()))
    values["locations"] = tuple(values.get("locations", ()))
    if values.get("quorum") is None:
        values["quorum"] = len(values["locations"]) // 2 + 1 if values["locations"] else 0
    if pool is not None:
        values["flapping"] = shared(values["flapping"], pool)
        _share_parts(values["spec"], pool)
    return Check(**values)


def _share_parts(spec: Any, pool: dict[Any, Any]) -> None:
    """Point a spec just built (no one else holds it yet) at shared equal parts: its
    fields that hold frozen dataclasses (an HTTP check's `expect`)."""
    if not is_dataclass(spec):
        return
    names = _FIELD_NAMES.get(type(spec))
    if names is None:
        names = _FIELD_NAMES[type(spec)] = tuple(f.name for f in fields(spec))
    for name in names:
        value = getattr(spec, name)
        frozen = _FROZEN.get(type(value))
        if frozen is None:  # once per type (a getattr that misses costs ~1 µs a field)
            params = getattr(value, "__dataclass_params__", None)
            frozen = _FROZEN[type(value)] = (params is not None and params.frozen
                                             and not isinstance(value, type))
        if frozen:
            object.__setattr__(spec, name, shared(value, pool))


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_FROZEN: dict[type, bool] = {}  # whether a value of this type is a frozen dataclass


def cross_check(checks: list[tuple[str, Check]], ctx: Ctx) -> None:
    """Whole-file rules: unique names, known dependencies, no cycles, interval ≥ timeout."""
    seen: dict[str, str] = {}
    for path, check in checks:
        if check.name in seen:
            first = (ctx.place(f"{seen[check.name]}.name") or (0, 0))[0]
            ctx.error_at(f"{path}.name",
                         f"duplicate check name {check.name!r} (first on line {first})")
        else:
            seen[check.name] = path
        if check.interval < check.timeout:
            ctx.error_at(
                f"{path}.interval" if ctx.place(f"{path}.interval") else path,
                f"interval ({check.interval:g}s) is shorter than timeout ({check.timeout:g}s)",
            )
        _votes(path, check, ctx)
        for i, dep in enumerate(check.depends_on):
            if dep not in seen and dep not in {c.name for _, c in checks}:
                ctx.error_at(f"{path}.depends_on[{i}]", f"depends on {dep!r}, which is no check")
            elif dep == check.name:
                ctx.error_at(f"{path}.depends_on[{i}]", "a check cannot depend on itself")
    _find_cycles(checks, ctx)


def _votes(path: str, check: Check, ctx: Ctx) -> None:
    """`locations` and `quorum` make sense together: a quorum its locations can reach."""
    if len(set(check.locations)) != len(check.locations):
        ctx.error_at(f"{path}.locations", "a location is listed twice")
    if check.locations and check.quorum > len(check.locations):
        ctx.error_at(f"{path}.quorum", f"quorum {check.quorum} is more than the "
                     f"{len(check.locations)} location(s) listed")
    if not check.locations and check.quorum:
        ctx.error_at(f"{path}.quorum", "quorum needs `locations`: the locations that vote")
    if check.locations and check.kind not in KINDS:
        ctx.error_at(f"{path}.locations", f"a {check.kind} check is not probed: it takes no "
                     "locations")
    if check.locations and check.connectivity:
        ctx.error_at(f"{path}.locations", "a connectivity guard is probed from every location "
                     "on its own: it takes no locations")


def _find_cycles(checks: list[tuple[str, Check]], ctx: Ctx) -> None:
    finder = _CycleFinder(checks, ctx)
    for name in finder.deps:
        if finder.state.get(name) is None:
            finder.visit(name, [name])


class _CycleFinder:
    """Depth-first search over `depends_on`. A class, not a recursive closure: a closure
    that calls itself is a reference cycle, and this one held the Ctx, so every parsed
    file stayed alive until the cyclic collector ran (a reload of 20,000 checks: a 0.5 s
    collection holding the GIL, the event loop stalled)."""

    def __init__(self, checks: list[tuple[str, Check]], ctx: Ctx) -> None:
        self.deps = {c.name: [d for d in c.depends_on if d != c.name] for _, c in checks}
        self.paths = {c.name: p for p, c in checks}
        self.state: dict[str, int] = {}  # 1 visiting, 2 done
        self.reported: set[frozenset[str]] = set()
        self.ctx = ctx

    def visit(self, name: str, trail: list[str]) -> None:
        self.state[name] = 1
        for dep in self.deps.get(name, []):
            if self.state.get(dep) == 1:
                cycle = [*trail[trail.index(dep):], dep]
                if frozenset(cycle) not in self.reported:
                    self.reported.add(frozenset(cycle))
                    self.ctx.error_at(f"{self.paths[name]}.depends_on",
                                      "dependency cycle: " + " → ".join(cycle))
            elif dep in self.deps and self.state.get(dep) is None:
                self.visit(dep, [*trail, dep])
        self.state[name] = 2


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None, *,
                previous: Config | None = None) -> Config:
    """Read, validate and build a config file; raise ConfigError with every problem.
    `previous` (the running config, on a reload) lends its checks whose lines did not
    change (monitor.config.reuse)."""
    file = str(path)
    return parse_bytes(read_file(file), file, env, previous=previous)


def read_file(file: str) -> bytes:
    """The file's bytes; ConfigError when it cannot be read."""
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(file, 1, 1, "", f"cannot read file: {exc.strerror}")]) from None


def parse_bytes(data: bytes, file: str, env: Mapping[str, str] | None = None, *,
                previous: Config | None = None) -> Config:
    """`parse_config` of a file's bytes, which must be UTF-8 (newlines read as `open()`
    reads text: CR LF and CR become LF)."""
    return parse_config(decode_text(data, file), file, env, previous=previous)


def decode_text(data: bytes, file: str) -> str:
    """A file's bytes as text, newlines read as `open()` reads them; ConfigError unless
    they are UTF-8."""
    try:
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError([Problem(file, line, 1, "", "not UTF-8 text: save the file as UTF-8")]
                          ) from None


def parse_config(text: str, file: str, env: Mapping[str, str] | None = None, *,
                 previous: Config | None = None) -> Config:
    """Validate and build; every problem at once in ConfigError."""
    with gc_paused():  # monitor.process says why
        return _parse(text, file, env, previous)


def _parse(text: str, file: str, env: Mapping[str, str] | None,
           previous: Config | None) -> Config:
    return build_config(compose_root(text, file), text, file, env, previous)


def compose_root(text: str, file: str) -> MappingNode:
    """The file's node tree, or ConfigError when it is no YAML mapping."""
    root = compose(text, file)
    if isinstance(root, Problem):
        raise ConfigError([root])
    if root is None or not isinstance(root, MappingNode):
        raise ConfigError([Problem(file, 1, 1, "", "expected a mapping with a 'checks' list")])
    return root


def build_config(root: MappingNode, text: str, file: str, env: Mapping[str, str] | None,
                 previous: Config | None = None) -> Config:
    """Validate and build the Config of `root` (composed from `text`)."""
    ctx = Ctx(file=file, env=dict(os.environ) if env is None else env)
    sources = Sources(text, file, root, ctx.env, previous)
    values = root_schema(sources).check(root, "", ctx)
    config = INVALID if values is INVALID else _build(values, file, ctx, sources)
    if ctx.problems or not isinstance(config, Config):
        raise ConfigError(ctx.problems or [Problem(file, 1, 1, "", "invalid configuration")],
                          ctx.secrets)
    return config


def kind_defaults(defaults: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    """Defaults with an unusable `proxy` reported at its place (and dropped)."""
    from monitor.probes.http.probe import proxy_choice

    if defaults.get("proxy") is None:
        return defaults
    try:
        proxy_choice(defaults["proxy"], ctx.env)
    except ValueError as exc:
        ctx.error_at("defaults.proxy", str(exc))
        return {k: v for k, v in defaults.items() if k != "proxy"}
    return defaults


def _build(values: dict[str, Any], file: str, ctx: Ctx, sources: Sources) -> Any:
    defaults = values.get("defaults")
    defaults = defaults if isinstance(defaults, dict) and not contains_invalid(defaults) else {}
    listed = values.get("checks")
    drafts = [d for d in listed if d is not INVALID] if isinstance(listed, list) else []
    defaults = kind_defaults(defaults, ctx)
    pool: dict[Any, Any] = {}
    checks = [(d.path, d.check) if isinstance(d, Reused)
              else (d["__path"], resolve_check(d, defaults, ctx.env, pool)) for d in drafts]
    cross_check(checks, ctx)
    _check_policies(checks, values.get("oncall"), ctx)
    _check_receiver_policy(values.get("alertmanager_receiver"), values.get("oncall"), ctx)
    for name, hook in CROSS_CHECKS.items():
        hook(values.get(name), checks, ctx)
    settings = values["siaga"] if isinstance(values["siaga"], Settings) else Settings()
    state_dir = Path(settings.state_dir)
    if not state_dir.is_absolute():
        state_dir = Path(file).resolve().parent / state_dir
    settings = _replace(settings, state_dir=str(state_dir))
    if settings.logo:
        settings = _replace(settings, logo=_logo(settings.logo, file, ctx))
    sections = {k: values[k] for k in SECTIONS if k in values and values[k] is not INVALID}
    # a valid file has no invalid item, so the keys are those of `checks`, in order
    keys = tuple(sources.keys) if len(sources.keys) == len(checks) else ()
    return Config(path=file, settings=settings, checks=tuple(c for _, c in checks),
                  sections=sections, secrets=frozenset(ctx.secrets), sources=keys,
                  source_context=sources.context)


LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".svg": "image/svg+xml", ".webp": "image/webp"}
LOGO_MAX_BYTES = 256 * 1024


def _logo(given: str, file: str, ctx: Ctx) -> str:
    """The logo's absolute path; a missing, huge or unknown file is a config error (the
    status page embeds it, so it must be small and of a type browsers show)."""
    path = Path(given)
    if not path.is_absolute():
        path = Path(file).resolve().parent / path
    if path.suffix.lower() not in LOGO_TYPES:
        ctx.error_at("siaga.logo", f"{given}: expected a .png, .jpg, .svg or .webp file")
    elif not path.is_file():
        ctx.error_at("siaga.logo", f"{given}: no such file ({path})")
    elif path.stat().st_size > LOGO_MAX_BYTES:
        ctx.error_at("siaga.logo", f"{given}: {path.stat().st_size:,} bytes; at most "
                     f"{LOGO_MAX_BYTES // 1024} KB (it is embedded in every page)")
    return str(path)


def _check_policies(checks: list[tuple[str, Check]], oncall: Any, ctx: Ctx) -> None:
    from monitor.paging.oncall.escalation import unknown_policy

    for path, check in checks:
        message = unknown_policy(oncall if oncall is not INVALID else None, check.escalation)
        if message:
            ctx.error_at(f"{path}.escalation", message)


def _check_receiver_policy(receiver: Any, oncall: Any, ctx: Ctx) -> None:
    from monitor.paging.oncall.escalation import unknown_policy

    name = getattr(receiver, "escalation", "default")
    message = None if name == "default" else unknown_policy(
        oncall if oncall is not INVALID else None, name)
    if message:
        ctx.error_at("alertmanager_receiver.escalation", message)


def _replace(settings: Settings, **changes: Any) -> Settings:
    from dataclasses import replace

    return replace(settings, **changes)


from monitor.paging.oncall.model import ONCALL  # noqa: E402

SECTIONS["oncall"] = ONCALL

from monitor.checking.heartbeats import SCHEMA as HEARTBEAT  # noqa: E402

EXTRA_KINDS["heartbeat"] = HEARTBEAT

from monitor.incidents.maintenance import MAINTENANCE  # noqa: E402
from monitor.incidents.maintenance import cross_check as maintenance_cross_check  # noqa: E402
from monitor.paging.policy import ALERTING  # noqa: E402

SECTIONS["maintenance"] = MAINTENANCE
SECTIONS["alerting"] = ALERTING

from monitor.incidents.alerts import RECEIVER  # noqa: E402

SECTIONS["alertmanager_receiver"] = RECEIVER
CROSS_CHECKS["maintenance"] = maintenance_cross_check
