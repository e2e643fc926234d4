"""The fast text exposition of per-check series for `/metrics`.

Each check's lines are rendered once per change and cached: a scrape re-renders only the
checks probed since the last one (with a 30 s interval and a 15 s scrape, about half) and
joins the rest, family by family. The label string is built once per check, and a cached
line holds only what follows it (`check_row`); a scrape writes prefix, labels and that. The generic
prometheus-client path spends most of its time in per-sample objects and escaping;
`tests/test_metrics_api.py` keeps both paths equal; names, help texts and types come from
the one table in `monitor.telemetry.families`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from monitor.checking.engine import Runtime
from monitor.config.model import Check
from monitor.probes.base import PHASES
from monitor.telemetry import families as F
from monitor.telemetry.families import PER_CHECK

# One check's cached lines: its label string, then per family in PER_CHECK's order the part
# of its line after the labels ("" for none; for the families in _MULTI, their lines with
# LAB where the prefix and labels go), then what they were rendered from (_KEY onwards).
Row = tuple[Any, ...]
LAB = "\x00"  # never in a rendered line: labels are put in, not written into the cache
_KEY = 1 + len(PER_CHECK)
CHUNK = 2000  # checks per piece of a scrape
_PREFIXES = tuple(f"{f.text_name}{{" for f in PER_CHECK)  # each line: prefix, labels, part
_MULTI = frozenset(i for i, f in enumerate(PER_CHECK) if f in (F.HTTP_PHASES, F.PROBES))
# Parts many checks share ("} 1.0\n" of an UP state, "} 0.995\n" of an SLO): one object each
_SHARED: dict[str, str] = {}
_SHARED_MAX = 10_000


def _shared(part: str) -> str:
    found = _SHARED.get(part)
    if found is None:
        if len(_SHARED) >= _SHARED_MAX:
            return part
        found = _SHARED[part] = part
    return found


def check_row(check: Check, rt: Runtime, lab: str) -> Row:
    """Every line of one check, grouped by family, without the labels (`lab`): a line is
    written as its family's prefix, `lab` and its part, so the cache holds each check's
    labels once instead of in each of its 13 lines (40 MB → 15 MB at 20,000 checks)."""
    last = rt.last
    success = duration = status = cert = dns = icmp = ""
    phases = ""
    if last is not None:
        success = _shared(f"}} {1.0 if last.ok else 0.0}\n")
        duration = f"}} {last.duration!r}\n"
        if last.status_code is not None:
            status = _shared(f"}} {float(last.status_code)}\n")
        if last.cert_expiry is not None:
            cert = f"}} {last.cert_expiry!r}\n"
        ph = last.phases
        if check.kind == "http":
            phases = "".join(f'{LAB},phase="{p}"}} {float(ph[p])!r}\n' for p in PHASES
                             if p in ph)
        elif check.kind == "dns" and "resolve" in ph:
            dns = f"}} {float(ph['resolve'])!r}\n"
        elif check.kind == "icmp" and "rtt" in ph:
            icmp = f',phase="rtt"}} {float(ph["rtt"])!r}\n'
    return (
        lab, success, duration, status, cert, dns, icmp,
        _shared(f"}} {float(rt.shown_state.value_code)}\n"),
        _shared(f"}} {float(check.slo)!r}\n"),
        phases,
        f'{LAB},outcome="success"}} {float(rt.probes - rt.failures)}\n'
        f'{LAB},outcome="failure"}} {float(rt.failures)}\n',
        _shared(f"}} {float(rt.changes)}\n"),
        check, rt.probes, rt.changes, rt.maintenance, rt.state.state,  # what it shows (_KEY)
    )


class Renderer:
    """Renders the per-check families, re-rendering only checks that changed."""

    def __init__(self) -> None:
        self._cache: dict[str, Row] = {}

    def rows(self, items: Sequence[tuple[Check, Runtime]],
             labels: Callable[[Check], str], *, prune: bool = True) -> list[Row]:
        """Every check's lines, re-rendering only the checks that changed (`prune`: `items`
        is every check, forget the others). The cache is
        updated in place, so a stale entry is freed as soon as it is replaced (a fresh dict
        would hold old and new lines of every check at once: ~50 MB at 20,000 checks)."""
        cache = self._cache
        rows = []
        for check, rt in items:
            row = cache.get(check.name)
            # rt.probes counts every new result: the result itself is not kept alive here
            if row is None or row[_KEY] is not check:
                row = cache[check.name] = check_row(check, rt, labels(check))
            elif row[_KEY + 1:] != (rt.probes, rt.changes, rt.maintenance, rt.state.state):
                row = cache[check.name] = check_row(check, rt, row[0])
            rows.append(row)
        if prune:
            self.prune(items)
        return rows

    def prune(self, items: Sequence[tuple[Check, Runtime]]) -> None:
        """Forget the lines of checks not in `items` (removed by a reload)."""
        cache = self._cache
        if len(cache) > len(items):
            keep = {check.name for check, _ in items}
            for name in [n for n in cache if n not in keep]:
                del cache[name]

    def render(self, items: Sequence[tuple[Check, Runtime]],
               labels: Callable[[Check], str]) -> str:
        rows = self.rows(items, labels)
        return "".join(family(rows, i) for i in range(len(PER_CHECK)))


def family(rows: list[Row], i: int) -> str:
    """One family's text: its header and every check's lines for it."""
    return "".join(family_parts(rows, i))


def family_parts(rows: list[Row], i: int, size: int = CHUNK) -> Iterator[str]:
    """One family's text in pieces of `size` checks (a few hundred KB each), so a scrape of
    20,000 checks never holds a whole family (10 MB for the HTTP phases) at once."""
    head, prefix, at = PER_CHECK[i].header, _PREFIXES[i], i + 1
    for start in range(0, max(len(rows), 1), size):
        chunk = rows[start:start + size]
        if i in _MULTI:
            text = "".join([row[at].replace(LAB, prefix + row[0]) for row in chunk if row[at]])
        else:
            text = "".join([prefix + row[0] + row[at] for row in chunk if row[at]])
        yield head + text if start == 0 else text
