"""What holds a check's pages back right now: a maintenance window or a silence.

One rule, asked per check by the pager (`reason`) and the API, with a key that changes
whenever the answer could change for some check (`key`), so the pager rebuilds its views
only then. Broken maintenance windows are reported to `faults` (one bad window fails only
itself)."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from monitor.checking.faults import Faults
from monitor.config.model import Check, Config
from monitor.incidents.maintenance import ActiveNow
from monitor.incidents.silences import Silences


class Suppression:
    """The maintenance + silence rule over the live config and the active silences."""

    def __init__(self, config: Callable[[], Config], silences: Silences, faults: Faults) -> None:
        self._config = config
        self.silences = silences
        self.faults = faults
        self._active: ActiveNow | None = None

    def maintenance_now(self, now: float) -> ActiveNow:
        """The maintenance windows active at `now` (recomputed at most once a second)."""
        active = self._active
        if active is None or abs(active.at - now) >= 1.0:
            config = self._config()
            windows = config.sections.get("maintenance") or []
            active = self._active = ActiveNow(windows, now, config.settings.tz)
            broken = {f"maintenance[{i}]": why for i, why in active.broken.items()}
            for name, why in broken.items():
                self.faults.mark("maintenance", name, why)
            self.faults.keep_only("maintenance", set(broken))
        return active

    def reason(self, check: Check, now: float) -> str | None:
        """Why pages for `check` are held right now (maintenance, silence), or None."""
        if self.maintenance_now(now).covers(check.name, check.group):
            return "maintenance"
        if self.silences.items and self.silences.covers(check.name, check.group, now):
            return "silence"
        return None

    def key(self, now: float) -> Hashable:
        """Changes whenever `reason()` could answer differently for some check."""
        windows = tuple(id(w) for w in self.maintenance_now(now).windows)
        silences = tuple(s.id for s in self.silences.items if s.active(now))
        return windows, silences, id(self._config())

    def forget(self) -> None:
        """The config changed: compute the active windows again."""
        self._active = None
