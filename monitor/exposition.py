"""The fast text exposition of per-check series for `/metrics`.

One pass over the checks appends each sample line to its family's list, with the label
string built once per check; the generic prometheus-client path spends most of its time in
per-sample objects and escaping. `tests/test_metrics_api.py` keeps both paths equal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from monitor.config.model import Check
from monitor.engine import Runtime
from monitor.probes.base import PHASES

HELP = {
    "probe_success": "Whether the last probe succeeded",
    "probe_duration_seconds": "Duration of the last probe",
    "probe_http_status_code": "HTTP status code of the last probe",
    "probe_ssl_earliest_cert_expiry": "Unix time the earliest certificate expires",
    "probe_dns_lookup_time_seconds": "DNS lookup time of the last probe",
    "probe_icmp_duration_seconds": "ICMP round trip time of the last probe",
    "siaga_check_state": "State of the check: 0 unknown, 1 up, 2 degraded, 3 down, "
                         "4 flapping, 5 maintenance",
    "siaga_check_slo_objective": "Availability objective of the check",
    "probe_http_duration_seconds": "Duration of HTTP probe phases",
    "siaga_probes_total": "Probes run, by outcome",
    "siaga_check_state_changes_total": "State changes of the check",
}
ORDER = list(HELP)
COUNTERS = {"siaga_probes_total", "siaga_check_state_changes_total"}


def render(items: Iterable[tuple[Check, Runtime]], labels: Callable[[Check], str]) -> str:
    out: dict[str, list[str]] = {name: [] for name in ORDER}
    success, duration = out["probe_success"], out["probe_duration_seconds"]
    status, cert = out["probe_http_status_code"], out["probe_ssl_earliest_cert_expiry"]
    dns, icmp = out["probe_dns_lookup_time_seconds"], out["probe_icmp_duration_seconds"]
    state, slo = out["siaga_check_state"], out["siaga_check_slo_objective"]
    phases, probes = out["probe_http_duration_seconds"], out["siaga_probes_total"]
    changes = out["siaga_check_state_changes_total"]
    for check, rt in items:
        lab = labels(check)
        last = rt.last
        if last is not None:
            success.append(f"probe_success{{{lab}}} {1.0 if last.ok else 0.0}\n")
            duration.append(f"probe_duration_seconds{{{lab}}} {last.duration!r}\n")
            if last.status_code is not None:
                status.append(f"probe_http_status_code{{{lab}}} {float(last.status_code)}\n")
            if last.cert_expiry is not None:
                cert.append(f"probe_ssl_earliest_cert_expiry{{{lab}}} {last.cert_expiry!r}\n")
            ph = last.phases
            kind = check.kind
            if kind == "http":
                for phase in PHASES:
                    if phase in ph:
                        phases.append(f'probe_http_duration_seconds{{{lab},phase="{phase}"}} '
                                      f"{float(ph[phase])!r}\n")
            elif kind == "dns" and "resolve" in ph:
                dns.append(f"probe_dns_lookup_time_seconds{{{lab}}} {float(ph['resolve'])!r}\n")
            elif kind == "icmp" and "rtt" in ph:
                icmp.append(f'probe_icmp_duration_seconds{{{lab},phase="rtt"}} '
                            f"{float(ph['rtt'])!r}\n")
        state.append(f"siaga_check_state{{{lab}}} {float(rt.shown_state.value_code)}\n")
        slo.append(f"siaga_check_slo_objective{{{lab}}} {float(check.slo)!r}\n")
        probes.append(f'siaga_probes_total{{{lab},outcome="success"}} '
                      f'{float(rt.probes - rt.failures)}\n'
                      f'siaga_probes_total{{{lab},outcome="failure"}} {float(rt.failures)}\n')
        changes.append(f"siaga_check_state_changes_total{{{lab}}} {float(rt.changes)}\n")
    parts = []
    for name in ORDER:
        kind = "counter" if name in COUNTERS else "gauge"
        parts.append(f"# HELP {name} {HELP[name]}\n# TYPE {name} {kind}\n")
        parts.append("".join(out[name]))
    return "".join(parts)
