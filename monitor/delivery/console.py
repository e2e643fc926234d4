"""The console channel: every transition printed to the terminal in the configured language.

It is the default channel when no other is configured, so `siaga run` on a fresh config
shows what happens.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape

from monitor.checking.state import State, Transition
from monitor.config.model import Check
from monitor.i18n import reason, state_word, text
from monitor.probes.base import ProbeResult
from monitor.telemetry.logs import timestamp

STYLE = {
    State.UP: "green", State.DEGRADED: "yellow", State.DOWN: "bold red",
    State.FLAPPING: "magenta", State.MAINTENANCE: "blue", State.UNKNOWN: "dim",
}


class ConsoleChannel:
    """A transition listener that prints one line per change."""

    def __init__(self, console: Console, language: str, tz: ZoneInfo, *,
                 show_new: bool = True) -> None:
        self.console = console
        self.show_new = show_new
        self.language = language
        self.tz = tz

    def __call__(self, check: Check, t: Transition, result: ProbeResult | None) -> None:
        if t.is_first and t.new is State.UP and not self.show_new:
            return  # with many checks, each new one answering is noise, not news
        when = timestamp(t.at, self.tz)  # the log's format and zone: one timeline to read
        line = text(
            self.language, "transition",
            state_upper=state_word(self.language, t.new).upper(),
            title=check.display_name,
            old=state_word(self.language, t.old),
            new=state_word(self.language, t.new),
            reason=reason(self.language, t.reason),
        )
        self.console.print(f"[dim]{when}[/dim] [{STYLE[t.new]}]{escape(line)}[/]", highlight=False,
                           markup=True, soft_wrap=True)
