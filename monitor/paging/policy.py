"""The `alerting:` section: how pages are grouped (one page for many checks at once), when an
outage counts as a mass outage, and how many pages one channel of an officer gets an hour."""

from __future__ import annotations

from typing import Any

from yaml.nodes import Node

from monitor.config.scalars import Duration, Enum, Int, Url
from monitor.config.schema import Ctx, ListOf, Obj
from monitor.incidents.model import Grouping


def _build(v: dict[str, Any], node: Node, path: str, ctx: Ctx) -> Grouping:
    mass, cap = v["mass_outage"], v["rate_limit"]
    return Grouping(window=v["group_window"], by=v["group_by"], max_members=v["group_max"],
                    alertmanager=tuple(v["alertmanager"]), resend=v["alertmanager_resend"],
                    mass_share=mass["share"] / 100.0, mass_min=mass["min_checks"],
                    mass_within=mass["within"], per_hour=cap["per_hour"],
                    sms_per_hour=cap["sms_per_hour"])


MASS_OUTAGE = Obj(
    {
        "share": Int("Percent of all checks failing together that makes a mass outage",
                     default=30, min=1, max=100),
        "min_checks": Int("…and at least this many checks", default=10, min=2, max=1_000_000),
        "within": Duration("…beginning to fail within this time", default=60.0, min=1,
                           max=3600),
    },
    "One page for an outage too wide to page per group (officer on duty and admins)",
    default={"share": 30, "min_checks": 10, "within": 60.0},
)
RATE_LIMIT = Obj(
    {
        "per_hour": Int("Pages one channel of an officer gets an hour; beyond, one digest",
                        default=20, min=1, max=10_000),
        "sms_per_hour": Int("The same for SMS channels", default=10, min=1, max=10_000),
    },
    "Per-officer, per-channel cap (nothing is dropped: held updates stay in the incident "
    "history and the API)",
    default={"per_hour": 20, "sms_per_hour": 10},
)


ALERTING = Obj(
    {
        "group_window": Duration(
            "The first check of a group to go down is paged at once; checks of the group "
            "going down while its incident is open join it and are told in one digest this "
            "long after (0 = one page per check, no digests, no mass outage)",
            default=30.0, max=600),
        "group_by": Enum(["group", "all"], "Group pages per check group, or all together",
                         default="group"),
        "group_max": Int("Most checks one grouped page lists", default=100, min=2,
                         max=10_000),
        "alertmanager": ListOf(Url("Alertmanager base URL, e.g. http://127.0.0.1:9093"),
                               "Send incidents to these Alertmanagers (v2 API) instead of "
                               "paging through apprise", default=[], single_ok=True),
        "alertmanager_resend": Duration("How often firing alerts are posted again",
                                        default=60.0, min=1, max=3600),
        "mass_outage": MASS_OUTAGE,
        "rate_limit": RATE_LIMIT,
    },
    "How pages are grouped",
    build=_build,
)
