"""What the web layer may use of the running Siaga: one typed `AppKey` per service.

Each handler reads only the keys it needs (`request.app[STORE]`), never the daemon:
`monitor/daemon.py` puts a value under every key (`build_app` refuses to start without one),
and `tests/test_architecture.py` checks that handlers read nothing else. Live values that a
reload swaps (the config, the API token) are given as functions, so a handler always sees the
current one. Adding a key here is a decision to widen the door.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from monitor.checking.engine import Engine
    from monitor.checking.heartbeats import Heartbeats
    from monitor.config.model import Check, Config
    from monitor.incidents.am_webhook import Notification
    from monitor.incidents.model import Incident
    from monitor.paging.acktoken import AckSigner
    from monitor.paging.actions import Actions
    from monitor.reporting.uptime_windows import Figures
    from monitor.store.engine import Store
    from monitor.web.ratelimit import RateLimit
    from monitor.web.status_cache import StatusCache

Write = Callable[[bytes], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Reloading:
    """What `POST /api/v1/reload` needs: the reload itself and what it left behind."""

    reload: Callable[[str], Awaitable[bool]]  # reason → whether the new config is in use
    last_error: Callable[[], str | None]
    restart_needed: Callable[[], tuple[str, ...]]


CONFIG: web.AppKey[Callable[[], Config]] = web.AppKey("config")  # the live config
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("clock")  # the pager's clock
STORE: web.AppKey[Store] = web.AppKey("store")
ENGINE: web.AppKey[Engine] = web.AppKey("engine")  # checks and their runtime state (read)
OPEN_INCIDENTS: web.AppKey[Callable[[], Mapping[int, Incident]]] = web.AppKey("open_incidents")
ACTIONS: web.AppKey[Actions] = web.AppKey("actions")  # acknowledge / resolve
SIGNER: web.AppKey[AckSigner] = web.AppKey("signer")
SUPPRESSED: web.AppKey[Callable[[Check, float], str | None]] = web.AppKey("suppressed")
HEARTBEATS: web.AppKey[Heartbeats] = web.AppKey("heartbeats")
PUSH_LIMIT: web.AppKey[RateLimit] = web.AppKey("push_limit")
PUSH_REFUSED: web.AppKey[Callable[[str], None]] = web.AppKey("push_refused")  # reason → count
SCRAPE: web.AppKey[Callable[[Write], Awaitable[None]]] = web.AppKey("scrape")  # /metrics text
HEALTH: web.AppKey[Callable[[], list[str]]] = web.AppKey("health")  # /healthz problems
STATUS_PAGES: web.AppKey[StatusCache] = web.AppKey("status_pages")
UPTIME: web.AppKey[Callable[[], Figures]] = web.AppKey("uptime")  # 7/30/90-day figures
REFRESH_SILENCES: web.AppKey[Callable[[], Awaitable[None]]] = web.AppKey("refresh_silences")
RELOADING: web.AppKey[Reloading] = web.AppKey("reloading")
API_TOKEN: web.AppKey[Callable[[], str]] = web.AppKey("api_token")  # follows reloads
INSTANCE_ID: web.AppKey[str] = web.AppKey("instance_id")
# Alertmanager's webhook: a parsed notification → what became of its alerts
ALERTS_IN: web.AppKey[Callable[[Notification], Awaitable[dict[str, int]]]] = web.AppKey(
    "alerts_in")
ALERTS_COUNT: web.AppKey[Callable[[str], None]] = web.AppKey("alerts_count")  # outcome → count

KEYS: tuple[web.AppKey[Any], ...] = (
    CONFIG, CLOCK, STORE, ENGINE, OPEN_INCIDENTS, ACTIONS, SIGNER, SUPPRESSED, HEARTBEATS,
    PUSH_LIMIT, PUSH_REFUSED, SCRAPE, HEALTH, STATUS_PAGES, UPTIME, REFRESH_SILENCES,
    RELOADING, API_TOKEN, INSTANCE_ID, ALERTS_IN, ALERTS_COUNT)


def missing(app: web.Application) -> list[str]:
    """The keys nobody gave a value (each would fail its handlers at the first request)."""
    return [repr(key) for key in KEYS if key not in app]
