"""The typed, frozen configuration that the rest of Siaga reads.

`Config` is built once per load by `monitor.config.loader` and never mutated; a reload
builds a new one. Runtime state (check state, incidents) lives elsewhere, keyed by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

T = TypeVar("T")


def quick_unpickle(cls: type[T]) -> type[T]:
    """Give a slotted dataclass a `__getstate__` and a `__setstate__` that know its field
    names: those `dataclass(slots=True)` makes call `dataclasses.fields()` for every object,
    which was half the time of loading 20,000 cached checks (monitor.config.cache) and 80 %
    of pickling them (0.25 of 0.32 s, the child's last step on a cache miss). Same state:
    the field values in field order, as a list like dataclasses' own (a tuple loaded 8 MB
    more into the daemon's resident memory from the cache: bench/README.md). Written out per
    class like dataclasses' own methods (one unpacking and one store per field: 30 % faster
    than a loop over the names)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    targets = "".join(f"_{i}, " for i in range(len(names)))
    stores = "".join(f"    set_(self, {n!r}, _{i})\n" for i, n in enumerate(names))
    values = "".join(f"self.{n}, " for n in names)
    source = (f"def __setstate__(self, state):\n    {targets}= state\n{stores}"
              f"def __getstate__(self):\n    return [{values}]\n")
    namespace: dict[str, Any] = {"set_": object.__setattr__}
    exec(source, namespace)  # the source holds only our own dataclasses' field names
    cls.__setstate__ = namespace["__setstate__"]  # type: ignore[attr-defined]
    cls.__getstate__ = namespace["__getstate__"]  # type: ignore[method-assign]
    return cls


def shared(value: T, pool: dict[Any, Any]) -> T:
    """`value`, or an equal one met before (frozen parts many checks write alike: the same
    `expect:`, flapping policy): one object instead of 20,000 in memory and in the cache."""
    try:
        return pool.setdefault(value, value)  # type: ignore[no-any-return]
    except TypeError:  # unhashable (a spec holding a dict): kept as it is
        return value


@dataclass(frozen=True, slots=True)
class FlapPolicy:
    """Nagios-style flap detection: percent of weighted state changes over a window."""

    window: int = 21
    high: float = 30.0  # start flapping at or above this percent
    low: float = 20.0  # stop flapping at or below this percent
    enabled: bool = True


@quick_unpickle
@dataclass(frozen=True, slots=True)
class Check:
    """One thing Siaga watches. `spec` is the kind's own frozen spec object."""

    name: str
    kind: str
    spec: Any
    group: str = "default"
    title: str = ""
    description: str = ""
    public: bool = False
    interval: float = 30.0
    timeout: float = 10.0
    fail_after: int = 3
    recover_after: int = 2
    depends_on: tuple[str, ...] = ()
    slo: float = 0.995
    latency_histogram: bool = False
    flapping: FlapPolicy = FlapPolicy()
    escalation: str | None = None
    connectivity: bool = False  # a reference target telling whether Siaga's own network works
    # In a fleet: probed from each of these locations, DOWN when `quorum` of them see it down
    locations: tuple[str, ...] = ()
    quorum: int = 0  # 0 without locations

    @property
    def voted(self) -> bool:
        """Judged by several locations (monitor.fleet.quorum), not by one probe."""
        return bool(self.locations)

    @property
    def display_name(self) -> str:
        return self.title or self.name

    def same_target(self, other: Check) -> bool:
        """True when a reload changed nothing about what is probed (state may be kept)."""
        return self.kind == other.kind and self.spec == other.spec


@dataclass(frozen=True, slots=True)
class Settings:
    """The `siaga:` section."""

    location: str = "local"
    timezone: str = "Asia/Jakarta"
    language: str = "id"
    listen: str = "127.0.0.1:9477"
    state_dir: str = "state"
    # "sqlite" (state_dir/siaga.db) or a postgresql:// URL; its password comes from ${VAR}
    store: str = field(default="sqlite", repr=False)
    public_url: str = ""
    max_concurrency: int = 500
    per_host_concurrency: int = 64
    body_limit: int = 1_048_576
    latency_histogram: bool = False
    api_token: str | None = None
    max_lateness: float = 5.0  # /healthz turns 503 when p99 lateness exceeds this
    raw_retention: float = 35 * 86400.0  # raw transitions kept (once rolled up)
    rollup_retention: float = 400 * 86400.0  # hourly/daily uptime rollups kept
    deadman_url: str | None = None  # GET every deadman_every while healthy (telemetry.deadman)
    deadman_every: float = 60.0
    status_listen: str | None = None  # the public status page's own process (web.status_server)
    status_export: str | None = None  # directory the status page is written to on each change
    agency: str = ""  # the agency's name on the status page, dashboard and reports
    logo: str | None = None  # image file shown with it (resolved against the config file)
    instance: str | None = None  # this instance's name in a fleet (default: the host name)
    shard: str | None = None  # "I/N": this instance's slot in a fleet (monitor.fleet)
    shards: int | None = None  # N: the shard is the number that ends the instance's name
    lease_timeout: float = 15.0  # a fleet's pager is replaced within this after it dies

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def listen_host(self) -> str:
        host, _, _ = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1"

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.listen}").rstrip("/")


@dataclass(frozen=True, slots=True)
class Config:
    """A whole, valid checks.yaml."""

    path: str
    settings: Settings
    checks: tuple[Check, ...]
    sections: dict[str, Any] = field(default_factory=dict)  # oncall, maintenance, … by name
    secrets: frozenset[str] = frozenset()
    # checks by name, built once: check() was a scan, called per check and window by the
    # uptime windows (20,000 checks: 60,000 scans of 20,000, tens of seconds each refresh)
    _index: dict[str, Check] = field(init=False, repr=False, compare=False)
    # per check, a digest of its lines in the file, and of what else decided it: the next
    # load reuses the checks whose lines are unchanged (monitor.config.reuse)
    sources: tuple[bytes, ...] = field(default=(), repr=False, compare=False)
    source_context: bytes = field(default=b"", repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, Check] = {}
        for c in self.checks:
            index.setdefault(c.name, c)  # the first of duplicates, as the scan found it
        object.__setattr__(self, "_index", index)

    def check(self, name: str) -> Check | None:
        return self._index.get(name)

    @property
    def by_name(self) -> dict[str, Check]:
        """The checks by name: the index built once with the config (read it, never change
        it; a valid config has no duplicate names)."""
        return self._index
