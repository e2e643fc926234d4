"""The daemon's lifecycle: build the parts from a Config, run until a signal, stop cleanly.

`Daemon` wires engine → scheduler → listeners (console, metrics, store, pager) and the HTTP
server. SIGTERM/SIGINT cancel in-flight probes and return within two seconds; SIGHUP reloads.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
import os
import secrets
import signal
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from rich.console import Console

from monitor.checking import liveness
from monitor.checking.engine import Engine, ReloadSummary
from monitor.checking.faults import Faults
from monitor.checking.heartbeats import Heartbeats, Tokens
from monitor.checking.scheduler import Scheduler
from monitor.checking.state import State
from monitor.checking.watchdog import Watchdog
from monitor.config.loader import load_config
from monitor.config.model import Check, Config
from monitor.config.reloader import Reloader
from monitor.delivery.console import ConsoleChannel
from monitor.delivery.notifiers import AppriseNotifier, Notifier
from monitor.delivery.notifiers import preload as preload_apprise
from monitor.delivery.outbox import Outbox
from monitor.errors import ConfigError, Problem
from monitor.fleet.membership import Fleet
from monitor.fleet.slots import numbered_shard, parse_shard
from monitor.incidents import silences as silence_records
from monitor.incidents.alerts import Alerts
from monitor.incidents.silences import Silences
from monitor.incidents.suppression import Suppression
from monitor.paging import messages, templates
from monitor.paging.acktoken import ENV_KEY, AckSigner, load_or_create_key
from monitor.paging.actions import Actions
from monitor.paging.oncall.roster import contact_opens
from monitor.paging.pager import Pager
from monitor.paging.templates import is_sms_url
from monitor.probes import KINDS, host_of
from monitor.probes.base import ProbeContext
from monitor.process import freeze_heap, short_switch_interval
from monitor.reporting.latency import LatencyLog
from monitor.reporting.rollup import run as rollup_run
from monitor.reporting.uptime_windows import UptimeWindows
from monitor.secretfile import read_or_create
from monitor.store.engine import Store
from monitor.telemetry import logs
from monitor.telemetry.deadman import StoreHealth
from monitor.telemetry.deadman import run as deadman_run
from monitor.telemetry.logs import event
from monitor.telemetry.metrics import Metrics
from monitor.web.ratelimit import RateLimit
from monitor.web.status_pages import status_cache

if TYPE_CHECKING:  # the web layer is imported once probing runs (Daemon._start_server)
    from aiohttp import web

    from monitor.checking.early import EarlyProbes
    from monitor.web.app import Server
    from monitor.web.status_server import StatusProcess

log = logging.getLogger("siaga.daemon")
LATENESS_WINDOW = 2000  # recent probe starts /healthz judges lateness over
START_GRACE = 1.0  # s from start to the bulk work over every check (Daemon._later)


def load_or_create_api_token(state_dir: Path) -> str:
    """The token state-changing API calls need: from SIAGA_API_TOKEN, else a file made once
    (mode 0600) in the state directory, which `siaga ack` on the same machine reads."""
    if os.environ.get("SIAGA_API_TOKEN"):
        return os.environ["SIAGA_API_TOKEN"]
    made = read_or_create(state_dir / "api.token", lambda: secrets.token_urlsafe(32).encode())
    return made.decode().strip()


def load_or_create_instance_id(state_dir: Path) -> str:
    """This daemon's identity, kept beside its store: every HTTP answer carries it, and the
    CLI, reading the same state directory, refuses answers from anything else on the port."""
    path = state_dir / "instance.id"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(8) + "\n")
    return path.read_text().strip()


# Settings read once at start (sockets, files, label sets, semaphores, routes); every other
# setting, the API token and push tokens included, takes effect on reload.
RESTART_SETTINGS = ("listen", "state_dir", "store", "location", "max_concurrency",
                    "per_host_concurrency", "latency_histogram", "status_listen", "instance",
                    "shard", "shards", "lease_timeout")


def restart_needed(running: Config, loaded: Config) -> tuple[str, ...]:
    """Settings whose new value waits for a restart (`siaga reload` and the log say which);
    `running` is the config the daemon started with."""
    names = [n for n in RESTART_SETTINGS
             if getattr(running.settings, n) != getattr(loaded.settings, n)]
    old_am = getattr(running.sections.get("alerting"), "alertmanager", ())
    new_am = getattr(loaded.sections.get("alerting"), "alertmanager", ())
    if old_am != new_am:
        names.append("alerting.alertmanager")
    return tuple(names)


class Daemon:
    """One running Siaga instance."""

    def __init__(
        self,
        config: Config,
        *,
        console: Console | None = None,
        registry: CollectorRegistry | None = None,
        serve: bool = True,
        notifier: Notifier | None = None,
        shard: str | None = None,
        early: EarlyProbes | None = None,
    ) -> None:
        self.config = config
        self.early = early  # probing that began before the whole config was valid
        self.console = console
        self.registry = registry or CollectorRegistry()
        self.faults = Faults()
        self.engine = Engine(config, ProbeContext(body_limit=config.settings.body_limit),
                             faults=self.faults)
        self.watchdog = Watchdog(self.engine, owns=lambda name: self.fleet.owns(name))
        self.metrics = Metrics(self.registry, self.engine, config.settings.location,
                               latency_histogram=config.settings.latency_histogram)
        self.engine.on_result.append(self.metrics.on_result)
        for gauge in (self.faults.gauge, self.watchdog.per_check, self.watchdog.total):
            self.metrics.add(gauge)
        self.scheduler: Scheduler | None = None
        self.server: Server | None = None
        self.status_process: StatusProcess | None = None  # siaga.status_listen
        self.serve = serve
        self.recent_lateness: deque[float] = deque(maxlen=LATENESS_WINDOW)
        self.last_reload_error: str | None = None
        self.started_with = config
        self.restart_needed: tuple[str, ...] = ()  # changed settings that wait for a restart
        self.started_at = time.time()
        self._stop = asyncio.Event()
        self.on_reload: list[Callable[[Config], None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.silences = Silences()
        self.suppression = Suppression(lambda: self.config, self.silences, self.faults)
        self.store = Store(config.settings.state_dir, url=config.settings.store)
        self._build_fleet(config, shard or config.settings.shard)
        self._build_paging(config, notifier)
        self._build_operations(config)
        # the public page, rebuilt on changes
        self.status_pages = status_cache(lambda: self.config, self.engine, self.store)
        self.pager.on_change.append(self.status_pages.changed)
        self.on_reload.append(self.status_pages.changed)
        self.uptime = UptimeWindows(self.store, lambda: self.config)  # 7/30/90-day figures
        self.metrics.add_text(self.uptime.collector())
        self.engine.on_transition.append(lambda check, *_: self.uptime.changed(check.name))
        self.latency = LatencyLog(self.store)  # hourly latency for /dashboard's charts
        self.engine.on_result.append(self.latency.on_result)
        if console is not None:
            # Every new check answering is worth a line for a few checks, noise for thousands.
            channel = ConsoleChannel(console, config.settings.language, config.settings.tz,
                                     show_new=len(config.checks) <= 100)
            self.engine.on_transition.append(channel)
            self.on_reload.append(lambda c: setattr(channel, "tz", c.settings.tz))

    def _build_fleet(self, config: Config, shard: str | None) -> None:
        """This instance's part in a fleet on PostgreSQL (monitor.fleet); with SQLite the
        one instance is the pager and probes every check."""
        s = config.settings
        instance = s.instance or socket.gethostname()
        if shard is None and s.shards:
            try:
                shard = numbered_shard(instance, s.shards)
            except ValueError as exc:
                raise ConfigError([Problem(config.path, 0, 0, "siaga.instance",
                                           str(exc))]) from None
        self.fleet = Fleet(self.store, self.engine, instance=instance,
                           location=s.location, shard=parse_shard(shard) if shard else None,
                           lease_timeout=s.lease_timeout, listen=s.listen,
                           lateness=self.lateness_p99, blind=self.blind)
        self.engine.voting = self.fleet.enabled
        self._guards = [c.name for c in config.checks if c.connectivity]
        self.on_reload.append(lambda c: setattr(
            self, "_guards", [x.name for x in c.checks if x.connectivity]))
        self.engine.on_result.append(self.fleet.note_result)
        self.fleet.on_owned.append(self._reschedule)
        self.fleet.on_role.append(self._role_changed)
        for gauge in self.fleet.gauges():
            self.metrics.add(gauge)

    def blind(self) -> bool:
        """This instance's own network fails (a connectivity guard is DOWN): in a fleet its
        location does not vote on checks with `locations`."""
        runtime = self.engine.runtime
        return any(name in runtime and runtime[name].state.state is State.DOWN
                   for name in self._guards)

    def _reschedule(self) -> None:
        """The fleet gave this instance another share of the checks."""
        if self.scheduler is not None:
            self.scheduler.set_checks(self.probed(self.config), changed=frozenset())

    def _role_changed(self, pager: bool) -> None:
        if pager:  # carry on from the store: incidents, steps sent, the outbox
            self._tasks.append(asyncio.create_task(self.pager.take_over(), name="take-over"))
        else:
            self.pager.stand_by()
        self.pager.wake()
        self.outbox.wake()

    def lateness_p99(self) -> float:
        if not self.recent_lateness:
            return 0.0
        ordered = sorted(self.recent_lateness)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    def _build_paging(self, config: Config, notifier: Notifier | None) -> None:
        """Pager, outbox and the people's actions, wired to the engine."""
        state_dir = Path(config.settings.state_dir)
        if self.fleet.enabled and ENV_KEY not in os.environ:  # one key for the fleet's links
            key = bytes.fromhex(self.fleet.secret("ack_key", lambda: secrets.token_hex(32)))
        else:
            key = load_or_create_key(state_dir, os.environ)
        self.signer = AckSigner(key)
        self.api_token = config.settings.api_token or load_or_create_api_token(state_dir)
        self.instance_id = load_or_create_instance_id(state_dir)
        self.on_reload.append(lambda c: setattr(self, "api_token", c.settings.api_token or (
            load_or_create_api_token(Path(c.settings.state_dir)))))  # web reads it per request
        self.notifier = notifier or AppriseNotifier()
        # Alerts from Alertmanager's webhook: views the pager reconciles like checks'.
        self.alerts = Alerts(self.store, wake=lambda: self.pager.wake())
        self.alerts.configure(config)
        self.on_reload.append(self.alerts.configure)
        self.outbox = Outbox(self.store, self.notifier, self.channels, self.metrics,
                             on_exhausted=lambda row: self.pager.escalate_now(row.incident_id),
                             limit=self.rate_limit, capped_text=self.capped_text,
                             is_open=lambda incident_id: incident_id in self.pager.incidents,
                             instance=self.instance_id, active=self.fleet.is_pager,
                             contact_opens=self.contact_opens)
        self.on_reload.append(lambda c: self.outbox.contact_hours_changed())
        self.pager = Pager(store=self.store, engine=self.engine, config=config,
                           signer=self.signer, metrics=self.metrics,
                           suppression=self.suppression.reason,
                           suppression_key=self.suppression.key,
                           wake_outbox=self.outbox.wake, probe_now=self.probe_now,
                           blind_spots=self.blind_spots, alerts=self.alerts.views,
                           active=self.fleet.is_pager)
        self.fleet.on_adopted.append(self.pager.note_result)
        self.fleet.on_verdict.append(  # the pager records a verdict's change, once
            lambda check, change: self.pager.on_transition(check, change, None)
            if self.fleet.is_pager() else None)
        self.fleet.on_adopted.append(lambda check, *_: self.uptime.changed(check.name))
        self.pager.on_resolved.append(self.alerts.on_resolved)
        self.watchdog.on_change.append(lambda stale: self.pager.wake())
        self.engine.on_view.append(self.pager.note_result)
        self.engine.on_transition.append(self.pager.on_transition)
        self.on_reload.append(self.pager.apply_config)
        self.actions = Actions(self.pager, fleet=self.fleet.enabled)

    def _build_operations(self, config: Config) -> None:
        """Reloads, heartbeats, push rate limits and store health."""
        self.reloader = Reloader(lambda: self.config.path, self.reload,
                                 prepare=self.engine.diff,  # compared off the loop
                                 running=lambda: self.config)
        self.heartbeats = Heartbeats(self.engine, self.store,
                                     Tokens(Path(config.settings.state_dir),
                                            self.fleet.secret if self.fleet.enabled else None),
                                     config.settings.tz, owns=self.fleet.owns,
                                     fleet=self.fleet.enabled)
        self.on_reload.append(lambda c: setattr(self.heartbeats, "tz", c.settings.tz))
        self.push_limit = RateLimit()
        self.store_health = StoreHealth(self.store)

    def provide_web(self, app: web.Application) -> None:
        """Give the web layer the few services its handlers use (monitor.web.services)."""
        from monitor.web import services

        app[services.CONFIG] = lambda: self.config
        app[services.CLOCK] = self.pager.clock
        app[services.STORE] = self.store
        app[services.ENGINE] = self.engine
        app[services.OPEN_INCIDENTS] = lambda: self.pager.incidents
        app[services.ACTIONS] = self.actions
        app[services.SIGNER] = self.signer
        app[services.SUPPRESSED] = self.suppression.reason
        app[services.HEARTBEATS] = self.heartbeats
        app[services.PUSH_LIMIT] = self.push_limit
        app[services.PUSH_REFUSED] = lambda reason: self.metrics.heartbeat_rejected.labels(
            reason).inc()
        app[services.SCRAPE] = self.metrics.stream
        app[services.HEALTH] = self.health_problems
        app[services.STATUS_PAGES] = self.status_pages
        app[services.UPTIME] = lambda: self.uptime.figures
        app[services.REFRESH_SILENCES] = self.refresh_silences
        app[services.RELOADING] = services.Reloading(
            self.reloader.reload, lambda: self.last_reload_error, lambda: self.restart_needed)
        app[services.API_TOKEN] = lambda: self.api_token
        app[services.INSTANCE_ID] = self.instance_id
        app[services.ALERTS_IN] = self.alerts.receive
        app[services.ALERTS_COUNT] = lambda outcome: self.metrics.am_received.labels(
            outcome).inc()

    def rate_limit(self, url: str) -> int:
        """Messages an hour one channel of an officer may get (alerting.rate_limit)."""
        grouping = self.pager.grouping
        return grouping.sms_per_hour if is_sms_url(url) else grouping.per_hour

    def capped_text(self, officer: str, count: int, limit: int, since: float) -> tuple[str, str]:
        lang = messages.language(self.pager.context, officer)
        moment = dt.datetime.fromtimestamp(since, self.config.settings.tz)
        url = f"{self.config.settings.base_url}/status"
        return templates.capped(lang, count, limit, moment, url)

    def contact_opens(self, officer: str, now: float) -> dt.datetime | None:
        """When `officer`'s contact hours begin, in the configured zone; None: they are on."""
        oncall = self.config.sections.get("oncall")
        tz = self.config.settings.tz
        opens = contact_opens(oncall, officer, now, tz) if oncall is not None else None
        return None if opens is None else dt.datetime.fromtimestamp(opens, tz)

    def channels(self, officer: str) -> tuple[str, ...]:
        oncall = self.config.sections.get("oncall")
        person = oncall.officers.get(officer) if oncall else None
        return tuple(person.notify) if person else ()

    def probe_now(self, name: str) -> bool:
        """An on-demand probe (a dependent's page waits for its ancestors)."""
        return self.scheduler is not None and self.scheduler.run_now(name)

    def blind_spots(self) -> tuple[str, ...]:
        """What Siaga cannot watch right now: stale checks and broken items (the admins
        hear of them through one self-monitoring incident)."""
        return (*self.watchdog.problems(), *self.faults.problems())

    async def refresh_silences(self) -> None:
        self.silences.replace(await self.store.run(silence_records.current, time.time()))
        self.pager.wake()

    def probed(self, config: Config) -> list[Check]:
        """The checks this instance probes (in a fleet, its share)."""
        owns = self.fleet.owns
        return [c for c in config.checks if c.kind in KINDS and owns(c.name)]

    async def start(self) -> None:
        s = self.config.settings
        early = self.early
        self.scheduler = early.scheduler if early is not None else Scheduler(
            self.engine.run_check, host_of,
            max_concurrency=s.max_concurrency, per_host=s.per_host_concurrency,
        )
        stats = self.scheduler.stats
        stats.on_lateness.append(self.metrics.lateness.observe)
        stats.on_lateness.append(self.recent_lateness.append)
        stats.on_missed.append(lambda check: self.metrics.missed.inc())
        await self._close_gap()
        await self.fleet.join()  # takes its share and, when free, the pager's lease
        await self.alerts.load()
        await self.pager.load()
        # Probing starts now, before the rest of the start-up: the pager's task (it steps
        # only once its task runs, below) and the HTTP server have nothing to do before the
        # first results, and the awaits below let the first probes connect meanwhile.
        self.scheduler.set_checks(self.probed(self.config), initial=True,
                                  origin=early.origin if early is not None else None)
        if early is not None:  # what it found is recorded now, past the gap closed above
            held = early.hand_over(self.engine)
            event(log, "early_probes_recorded", checks=early.checks, results=held,
                  seconds=f"{asyncio.get_running_loop().time() - early.origin:.2f}")
            self.early = None
        await self.refresh_silences()
        await self.heartbeats.load()
        if self.serve:
            await self._start_server(s.listen_host, s.listen_port)
        # The pager's views of every check (20,000: 60 ms, 40,000 objects), made before the
        # heap is frozen below; left to its task's first pass, they were outside the frozen
        # heap and every full collection walked them again (a 0.13 s stall at 20,000).
        self.pager.views(self.pager.clock())
        self._tasks += [asyncio.create_task(self.pager.run(), name="pager"),
                        asyncio.create_task(self.outbox.run(), name="outbox"),
                        asyncio.create_task(self.fleet.run(), name="fleet")]
        if self.fleet.enabled:  # Alertmanager may post to any member
            self._tasks.append(asyncio.create_task(self.alerts.follow(), name="alerts"))
            # Actions other members forward (alone, nobody can: no store poll twice a
            # second, each a hand-off to the store's thread and back)
            self._tasks.append(asyncio.create_task(self.actions.serve(),
                                                   name="forwarded-actions"))
        if isinstance(self.notifier, AppriseNotifier):  # on a thread, before a page needs it
            self._tasks.append(asyncio.create_task(preload_apprise(), name="apprise-import"))
        self._tasks += [asyncio.create_task(self.reloader.watch(), name="config-watcher"),
                        asyncio.create_task(self.heartbeats.run(), name="heartbeats"),
                        asyncio.create_task(deadman_run(lambda: self.config.settings,
                                                        self.health_problems, self.metrics),
                                            name="deadman"),
                        asyncio.create_task(self.watchdog.run(), name="watchdog"),
                        asyncio.create_task(liveness.keep_marking(s.state_dir), name="mark")]
        # Bulk work over every check waits a moment, so that probing starts first
        self._later(lambda: rollup_run(self.store, lambda: self.config), "rollups")  # + pruning
        self._later(self.uptime.run, "uptime-windows")
        self._later(self.latency.run, "latency")
        if self.serve and s.status_listen:
            await self._start_status_process(s.status_listen)
        if self.serve or s.status_export:
            self._later(self.status_pages.run, "status-page")
        alerting = self.pager.grouping
        if alerting.alertmanager:  # changing these URLs takes a restart
            from monitor.delivery.am_route import AlertmanagerRoute

            route = AlertmanagerRoute(alerting.alertmanager, s.location, s.base_url,
                                      self.metrics, lambda: list(self.pager.incidents.values()),
                                      resend=alerting.resend, active=self.fleet.is_pager)
            self.pager.on_change.append(route.changed)  # the pager's decisions, not transitions
            self._tasks.append(asyncio.create_task(route.run(), name="alertmanager"))
        freeze_heap()  # the daemon's start-up heap (monitor.process says why)
        event(log, "started", checks=len(self.config.checks), location=s.location,
              probing=len(self.probed(self.config)),
              role="pager" if self.fleet.is_pager() else "prober",
              listen=f"{s.listen_host}:{self.server.port}" if self.server else "-")

    async def _start_server(self, host: str, port: int) -> None:
        """The HTTP server. Its code (aiohttp and the web layer: ~0.1 s of imports at a
        start) is imported on a worker thread while the first probes run; a port in use
        raises ListenError (`siaga run` says so and exits 2) before the pager has stepped."""
        with short_switch_interval():
            web_app = await asyncio.to_thread(importlib.import_module, "monitor.web.app")
        self.server = web_app.Server(web_app.build_app(self.provide_web), host, port)
        await self.server.start()

    def _later(self, work: Callable[[], Awaitable[None]], name: str) -> None:
        """Run `work()` as a task after START_GRACE seconds (at 20,000 checks the uptime
        windows, rollups and status page each hold the loop or the store for a while)."""
        async def later() -> None:
            await asyncio.sleep(START_GRACE)
            await work()

        self._tasks.append(asyncio.create_task(later(), name=name))

    async def _start_status_process(self, address: str) -> None:
        """The public status page in a process of its own (monitor.web.status_server)."""
        from monitor.web.status_server import StatusProcess

        host, _, port = address.rpartition(":")
        process = StatusProcess(host.strip("[]") or "0.0.0.0", int(port))
        await process.start()  # ListenError: `siaga run` says why and exits
        self.status_process = process
        self.status_pages.on_build.append(
            lambda bodies: process.publish(bodies, self.config.settings.language))
        self._tasks.append(asyncio.create_task(process.run(), name="status-process"))
        event(log, "status_server_started", listen=f"{process.host}:{process.port}",
              pid=process.pid)

    async def _close_gap(self, at: float | None = None) -> None:
        """Time Siaga was not watching is "no data" (monitor.checking.liveness): at start, from the
        mark a crashed run left; at stop, from now."""
        state_dir = self.config.settings.state_dir
        at = liveness.read_mark(state_dir) if at is None else at
        if at is not None:
            await self.store.run(liveness.close_watch, list(self.config.by_name), at)

    def reload(self, loaded: Config | ConfigError | None = None,
               plan: ReloadSummary | None = None) -> bool:
        """Load the file again; keep running on the old config if the new one is invalid.

        `loaded` is the outcome of a load already done off the loop (monitor.config.reloader),
        `plan` the engine's diff against it, also made there."""
        try:
            if isinstance(loaded, ConfigError):
                raise loaded
            config = loaded or load_config(self.config.path, previous=self.config)
        except ConfigError as exc:
            logs.learn_secrets(exc.secrets)  # its problems may quote them
            for problem in exc.problems:
                event(log, "reload_failed", logging.ERROR, problem=str(problem))
            self.last_reload_error = f"{len(exc.problems)} error(s), first: {exc.problems[0]}"
            self.metrics.config_loaded(False)
            return False
        logs.learn_secrets(config.secrets)
        logs.set_zone(config.settings.tz)
        summary = self.engine.apply(config, plan)
        self.fleet.reassign(config.checks)
        self.restart_needed = restart_needed(self.started_with, config)
        self.engine.ctx.body_limit = config.settings.body_limit  # read by each probe
        self.config = config
        names = set(config.by_name)
        for kind in ("check", "heartbeat"):
            self.faults.keep_only(kind, names)
        self.last_reload_error = None
        if self.scheduler is not None:
            self.scheduler.set_checks(self.probed(config),
                                      changed=frozenset(summary.changed))
        self.metrics.config_loaded(True)
        self.suppression.forget()
        for hook in self.on_reload:
            hook(config)
        self.pager.views(self.pager.clock())  # rebuilt now: inside the heap frozen after this
        event(log, "reloaded", added=len(summary.added), removed=len(summary.removed),
              changed=len(summary.changed), reset=len(summary.reset),
              unchanged=summary.unchanged,
              restart_needed=",".join(self.restart_needed) or "-")
        return True

    def health_problems(self) -> list[str]:
        """Why /healthz should fail; empty while the scheduler keeps up."""
        problems = []
        limit = self.config.settings.max_lateness
        if self.recent_lateness:
            p99 = self.lateness_p99()
            if p99 > limit:
                problems.append(f"scheduler is behind: p99 lateness {p99:.2f}s "
                                f"(limit {limit:g}s)")
        if self.last_reload_error:
            problems.append("config reload failed: see the log")  # public: no config text
        problems += self.store_health.problems()
        problems += self.watchdog.problems()
        problems += self.faults.problems()
        return problems

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Run until SIGTERM/SIGINT (or request_stop)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.reloader.on_sighup)
        try:
            await self.start()
            await self._stop.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            await self.stop()

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.outbox is not None:
            await self.outbox.stop()
        await self.fleet.leave()  # the others take the lease and the share at once
        if self.status_process is not None:
            await self.status_process.stop()
        if self.server is not None:
            await self.server.stop()
        await self._close_gap(time.time())
        liveness.clear_mark(self.config.settings.state_dir)
        self.store.close()
        event(log, "stopped")
