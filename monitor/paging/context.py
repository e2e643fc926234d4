"""What planning a page and wording it read of the running config: a small frozen context the
pager rebuilds on every reload, instead of handing the whole pager around."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from monitor.config.model import Check
from monitor.paging.oncall.model import OnCall


@dataclass(frozen=True, slots=True)
class PagingContext:
    oncall: OnCall | None
    tz: ZoneInfo
    language: str  # the site's default (an officer may choose another)
    base_url: str
    sign: Callable[[int, str, float], str]  # (incident, officer, expires) → ack token
    check: Callable[[str], Check | None]  # the live check of that name, if any
