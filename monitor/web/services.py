"""What the web layer may use of the running Siaga: the door between `web/` and the wiring.

Handlers and the status page see this protocol, never the daemon class; the daemon satisfies
it structurally (mypy checks that where `build_app` is called). Adding a field here is a
decision to widen the door."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from monitor.checking.engine import Engine
    from monitor.checking.heartbeats import Heartbeats
    from monitor.config.model import Config
    from monitor.config.reloader import Reloader
    from monitor.incidents.alerts import Alerts
    from monitor.incidents.suppression import Suppression
    from monitor.paging.acktoken import AckSigner
    from monitor.paging.actions import Actions
    from monitor.paging.pager import Pager
    from monitor.reporting.uptime_windows import UptimeWindows
    from monitor.store.sqlite import Store
    from monitor.telemetry.metrics import Metrics
    from monitor.web.push import RateLimit
    from monitor.web.status_cache import StatusCache


class Services(Protocol):
    config: Config  # the live config (swapped on reload)
    engine: Engine
    store: Store
    metrics: Metrics
    pager: Pager
    actions: Actions
    alerts: Alerts
    signer: AckSigner
    suppression: Suppression
    heartbeats: Heartbeats
    reloader: Reloader
    push_limit: RateLimit
    status_pages: StatusCache
    uptime: UptimeWindows
    api_token: str
    instance_id: str
    last_reload_error: str | None
    restart_needed: tuple[str, ...]
    on_reload: list[Callable[[Config], None]]

    def health_problems(self) -> list[str]: ...

    async def refresh_silences(self) -> None: ...
