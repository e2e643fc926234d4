"""The `alerting:` section: how pages are grouped (one page for many checks at once)."""

from __future__ import annotations

from typing import Any

from yaml.nodes import Node

from monitor.config.scalars import Duration, Enum, Int, Url
from monitor.config.schema import Ctx, ListOf, Obj
from monitor.incidents import Grouping


def _build(v: dict[str, Any], node: Node, path: str, ctx: Ctx) -> Grouping:
    return Grouping(window=v["group_window"], by=v["group_by"], max_members=v["group_max"],
                    alertmanager=tuple(v["alertmanager"]), resend=v["alertmanager_resend"])


ALERTING = Obj(
    {
        "group_window": Duration(
            "Checks going down within this time of the first make one page (0 = off); "
            "the first page waits this long", default=0.0, max=600),
        "group_by": Enum(["group", "all"], "Group pages per check group, or all together",
                         default="group"),
        "group_max": Int("Most checks one grouped page lists", default=100, min=2,
                         max=10_000),
        "alertmanager": ListOf(Url("Alertmanager base URL, e.g. http://127.0.0.1:9093"),
                               "Send incidents to these Alertmanagers (v2 API) instead of "
                               "paging through apprise", default=[], single_ok=True),
        "alertmanager_resend": Duration("How often firing alerts are posted again",
                                        default=60.0, min=1, max=3600),
    },
    "How pages are grouped",
    build=_build,
)
