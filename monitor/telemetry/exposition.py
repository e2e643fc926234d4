"""The fast text exposition of per-check series for `/metrics`.

Each check's lines are rendered once per change and cached: a scrape re-renders only the
checks probed since the last one (with a 30 s interval and a 15 s scrape, about half) and
joins the rest, family by family. The label string is built once per check. The generic
prometheus-client path spends most of its time in per-sample objects and escaping;
`tests/test_metrics_api.py` keeps both paths equal; names, help texts and types come from
the one table in `monitor.telemetry.families`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from monitor.checking.engine import Runtime
from monitor.config.model import Check
from monitor.probes.base import PHASES
from monitor.telemetry.families import PER_CHECK

(_SUCCESS, _DURATION, _STATUS, _CERT, _DNS, _ICMP, _STATE, _SLO, _PHASES, _PROBES,
 _CHANGES) = (f.text_name for f in PER_CHECK)
Lines = tuple[str, ...]  # one (possibly empty) string per family, in PER_CHECK's order
CHUNK = 2000  # checks per piece of a scrape


def check_lines(check: Check, rt: Runtime, lab: str) -> Lines:
    """Every line of one check, grouped by family."""
    last = rt.last
    success = duration = status = cert = dns = icmp = phases = ""
    if last is not None:
        success = f"{_SUCCESS}{{{lab}}} {1.0 if last.ok else 0.0}\n"
        duration = f"{_DURATION}{{{lab}}} {last.duration!r}\n"
        if last.status_code is not None:
            status = f"{_STATUS}{{{lab}}} {float(last.status_code)}\n"
        if last.cert_expiry is not None:
            cert = f"{_CERT}{{{lab}}} {last.cert_expiry!r}\n"
        ph = last.phases
        if check.kind == "http":
            phases = "".join(f'{_PHASES}{{{lab},phase="{p}"}} {float(ph[p])!r}\n'
                             for p in PHASES if p in ph)
        elif check.kind == "dns" and "resolve" in ph:
            dns = f"{_DNS}{{{lab}}} {float(ph['resolve'])!r}\n"
        elif check.kind == "icmp" and "rtt" in ph:
            icmp = f'{_ICMP}{{{lab},phase="rtt"}} {float(ph["rtt"])!r}\n'
    return (
        success, duration, status, cert, dns, icmp,
        f"{_STATE}{{{lab}}} {float(rt.shown_state.value_code)}\n",
        f"{_SLO}{{{lab}}} {float(check.slo)!r}\n",
        phases,
        f'{_PROBES}{{{lab},outcome="success"}} {float(rt.probes - rt.failures)}\n'
        f'{_PROBES}{{{lab},outcome="failure"}} {float(rt.failures)}\n',
        f"{_CHANGES}{{{lab}}} {float(rt.changes)}\n",
    )


class Renderer:
    """Renders the per-check families, re-rendering only checks that changed."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[tuple[object, ...], Lines]] = {}

    def rows(self, items: Sequence[tuple[Check, Runtime]],
             labels: Callable[[Check], str], *, prune: bool = True) -> list[Lines]:
        """Every check's lines, re-rendering only the checks that changed (`prune`: `items`
        is every check, forget the others). The cache is
        updated in place, so a stale entry is freed as soon as it is replaced (a fresh dict
        would hold old and new lines of every check at once: ~50 MB at 20,000 checks)."""
        cache = self._cache
        rows = []
        for check, rt in items:
            key: tuple[object, ...] = (check, rt.last, rt.probes, rt.changes, rt.maintenance,
                                       rt.state.state)
            hit = cache.get(check.name)
            if hit is not None and hit[0] == key:
                lines = hit[1]
            else:
                lines = check_lines(check, rt, labels(check))
                cache[check.name] = (key, lines)
            rows.append(lines)
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


def family(rows: list[Lines], i: int) -> str:
    """One family's text: its header and every check's lines for it."""
    return "".join(family_parts(rows, i))


def family_parts(rows: list[Lines], i: int, size: int = CHUNK) -> Iterator[str]:
    """One family's text in pieces of `size` checks (a few hundred KB each), so a scrape of
    20,000 checks never holds a whole family (10 MB for the HTTP phases) at once."""
    head = PER_CHECK[i].header
    for start in range(0, max(len(rows), 1), size):
        text = "".join([row[i] for row in rows[start:start + size]])
        yield head + text if start == 0 else text
