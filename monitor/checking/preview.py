"""A big file's first checks, validated before the rest, so `siaga run` probes while the
whole file is still being validated.

A start spreads each check's first probe over its interval (monitor.checking.scheduler's
`first_offset`), so in the first seconds only a few checks are due: at 20,000 checks every
30 s, about 700 a second. The forked child that loads the file (monitor.config.isolated)
therefore validates, right after parsing, the `PREVIEW_CHECKS` items whose first probe
comes first, and sends them ahead of the whole Config; the parent probes them meanwhile
(monitor.checking.early), holding every result until the whole file is valid. Nothing is
recorded, paged or served before that; an invalid file stops the start as before, its
results dropped.

A preview check is built exactly as the whole file's load builds it (the same item
validation and `resolve_check` with the same defaults and environment), so it equals that
check. There is no preview, and the start waits for the whole file as before, when the
file is small (it validates in well under a second), when `siaga:` or `defaults:` has a
problem, when the instance is in a fleet (its share of the checks is known only once it
joins), or when the file holds an anchor, alias or tag (an item's text may then come from
elsewhere). An item with a problem, a duplicated name or no probe (a heartbeat) is left
out of the preview; the whole file's load reports it.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from monitor.checking.scheduler import first_offset
from monitor.config.document import has_anchor_or_tag
from monitor.config.loader import (
    BUILTIN_DEFAULTS,
    DEFAULTS,
    SETTINGS,
    check_schema,
    kind_defaults,
    resolve_check,
)
from monitor.config.model import Check, Settings
from monitor.config.schema import INVALID, Ctx, item_name
from monitor.probes import KINDS
from monitor.store.engine import is_postgresql

PREVIEW_FROM = 2_000  # items in `checks:`; a smaller file validates whole in < 0.1 s
PREVIEW_CHECKS = 1_000  # the items validated first: 1.5 s of first probes at 20,000 / 30 s


@dataclass(frozen=True)
class Preview:
    """What probing needs before the whole file is valid."""

    checks: tuple[Check, ...]
    max_concurrency: int
    per_host_concurrency: int
    body_limit: int


def preview(root: MappingNode, text: str, file: str, env: Mapping[str, str]) -> Preview | None:
    """The preview of the file `root` was composed from (`text`), or None (see above)."""
    if has_anchor_or_tag(text):
        return None
    sections: dict[str, Node] = {key.value: value for key, value in root.value
                                 if isinstance(key, ScalarNode)}
    items = sections.get("checks")
    if not isinstance(items, SequenceNode) or len(items.value) < PREVIEW_FROM:
        return None
    ctx = Ctx(file=file, env=env)
    settings = (SETTINGS.check(sections["siaga"], "siaga", ctx) if "siaga" in sections
                else SETTINGS.default)
    defaults = DEFAULTS.check(sections["defaults"], "defaults", ctx) if "defaults" in sections \
        else {}
    if ctx.problems or not isinstance(settings, Settings) or not isinstance(defaults, dict):
        return None
    if is_postgresql(settings.store) or settings.shard or settings.shards:
        return None
    defaults = kind_defaults(defaults, ctx)
    if ctx.problems:
        return None
    # Ordered by the default interval's first offsets: an item with an interval of its own
    # may come a little early or late in this order, never wrong (the rest follows soon).
    interval = defaults.get("interval", BUILTIN_DEFAULTS["interval"])
    named = [(first_offset(name, interval), i, name) for i, node in enumerate(items.value)
             if (name := item_name(node)) is not None]
    counts = Counter(name for _, _, name in named)
    schema, pool = check_schema(), dict[object, object]()
    checks = []
    for _, i, name in heapq.nsmallest(PREVIEW_CHECKS, named):
        if counts[name] > 1:
            continue
        item_ctx = Ctx(file=file, env=env)
        draft = schema.check(items.value[i], f"checks[{name}]", item_ctx)
        if item_ctx.problems or draft is INVALID:
            continue
        check = resolve_check(draft, defaults, env, pool)
        if check.kind in KINDS:
            checks.append(check)
    if not checks:
        return None
    return Preview(tuple(checks), settings.max_concurrency, settings.per_host_concurrency,
                   settings.body_limit)
