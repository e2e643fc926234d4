"""Every metric family Siaga itself declares: name, help, type and labels, written once.

The prometheus-client collector (`monitor.telemetry.metrics`) and the fast text renderer
(`monitor.telemetry.exposition`) both read this table, so the two paths cannot disagree on
what a family is called or says. Names are prometheus-client's: a counter's samples and
text-format header add `_total`.

Per-check families carry the labels `check, group, location, kind` first. The blackbox
names are kept for its dashboards and rules even where the word is loose:
`probe_ssl_earliest_cert_expiry` is the expiry of the leaf certificate the target presents
(the earliest of the hops' leaves when an HTTP probe follows redirects); the chain behind it
is not read.
"""

from __future__ import annotations

from dataclasses import dataclass

CHECK_LABELS = ("check", "group", "location", "kind")


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    help: str
    type: str  # gauge | counter | histogram
    labels: tuple[str, ...] = ()  # after CHECK_LABELS for a per-check family

    @property
    def text_name(self) -> str:
        """The name in the text format's HELP and TYPE lines."""
        return f"{self.name}_total" if self.type == "counter" else self.name

    @property
    def header(self) -> str:
        return f"# HELP {self.text_name} {self.help}\n# TYPE {self.text_name} {self.type}\n"


def escape_label(value: str) -> str:
    """A label value as the text format writes it (backslash, newline and quote escaped)."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


# -- per check, rendered from the engine's runtime at scrape time (in this order) ---------------
SUCCESS = Family("probe_success", "Whether the last probe succeeded", "gauge")
DURATION = Family("probe_duration_seconds", "Duration of the last probe", "gauge")
HTTP_STATUS = Family("probe_http_status_code", "HTTP status code of the last probe", "gauge")
CERT_EXPIRY = Family("probe_ssl_earliest_cert_expiry",
                     "Unix time the leaf certificate expires", "gauge")
DNS_LOOKUP = Family("probe_dns_lookup_time_seconds", "DNS lookup time of the last probe",
                    "gauge")
ICMP_RTT = Family("probe_icmp_duration_seconds", "ICMP round trip time of the last probe",
                  "gauge", ("phase",))
STATE = Family("siaga_check_state", "State of the check: 0 unknown, 1 up, 2 degraded, 3 down, "
               "4 flapping, 5 maintenance", "gauge")
SLO = Family("siaga_check_slo_objective", "Availability objective of the check", "gauge")
HTTP_PHASES = Family("probe_http_duration_seconds", "Duration of HTTP probe phases", "gauge",
                     ("phase",))
PROBES = Family("siaga_probes", "Probes run, by outcome", "counter", ("outcome",))
STATE_CHANGES = Family("siaga_check_state_changes", "State changes of the check", "counter")
LATENCY = Family("siaga_probe_latency_seconds",
                 "Probe latency of the check (opt-in per check or globally)", "histogram")

# per check and window, from monitor.reporting.uptime_windows (its own cached text)
UPTIME_RATIO = Family("siaga_uptime_ratio",
                      "Time-weighted uptime of the last 7, 30 and 90 local days (today "
                      "included), maintenance left out: the figure of `siaga report` and the "
                      "status page", "gauge", ("check", "group", "window"))

PER_CHECK = (SUCCESS, DURATION, HTTP_STATUS, CERT_EXPIRY, DNS_LOOKUP, ICMP_RTT, STATE, SLO,
             HTTP_PHASES, PROBES, STATE_CHANGES)  # then LATENCY, rendered on its own

# -- Siaga's own, one series set per instance ---------------------------------------------------
LATENESS = Family("siaga_scheduler_lateness_seconds",
                  "How late probes start against their slot", "histogram")
MISSED = Family("siaga_scheduler_missed_slots", "Probe slots skipped because the previous "
                "probe of the check was still running or the loop was blocked", "counter")
KIND_DURATION = Family("siaga_probe_duration_by_kind_seconds", "Probe duration by kind",
                       "histogram", ("kind",))
RELOAD_OK = Family("siaga_config_last_reload_successful", "Whether the last config load worked",
                   "gauge")
RELOAD_TIME = Family("siaga_config_last_reload_success_timestamp_seconds",
                     "Unix time of the last successful config load", "gauge")
INCIDENTS_OPEN = Family("siaga_incidents_open", "Open incidents by group", "gauge", ("group",))
NOTIFICATIONS = Family("siaga_notifications", "Notifications by channel and outcome", "counter",
                       ("channel", "outcome"))
SUPPRESSED = Family("siaga_notifications_suppressed", "Notifications not sent, by reason",
                    "counter", ("reason",))
HEARTBEAT_REJECTED = Family("siaga_heartbeat_rejected", "Heartbeat pushes refused, by reason",
                            "counter", ("reason",))
AM_RECEIVED = Family("siaga_alertmanager_notifications",
                     "Webhook notifications the Alertmanager receiver got, by outcome "
                     "(accepted, unauthorized, invalid, too_large)", "counter", ("outcome",))
DEADMAN = Family("siaga_deadman_pings",
                 "Dead-man's switch rounds by outcome (sent, failed, skipped)", "counter",
                 ("outcome",))
BUILD_INFO = Family("siaga_build_info", "Siaga build information", "gauge",
                    ("version", "python"))

INSTANCE = (LATENESS, MISSED, KIND_DURATION, RELOAD_OK, RELOAD_TIME, INCIDENTS_OPEN,
            NOTIFICATIONS, SUPPRESSED, HEARTBEAT_REJECTED, AM_RECEIVED, DEADMAN, BUILD_INFO)
TABLE = (*PER_CHECK, LATENCY, *INSTANCE)
