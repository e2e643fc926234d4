"""`siaga status`'s words (monitor.cli.status)."""

ID: dict[str, str] = {
    "cli.status.group": "grup", "cli.status.check": "layanan", "cli.status.state": "kondisi",
    "cli.status.since": "sejak", "cli.status.latency": "latensi", "cli.status.reason": "keterangan",
    "cli.status.incident": "insiden",
    "cli.status.checks": "{n} layanan",
    "cli.status.acked": "#{id} ditangani oleh {who}",
    "cli.status.open": "#{id} belum ditangani",
    "cli.status.suppressed": "#{id} ({why})",
}
EN: dict[str, str] = {
    "cli.status.group": "group", "cli.status.check": "check", "cli.status.state": "state",
    "cli.status.since": "since", "cli.status.latency": "latency", "cli.status.reason": "reason",
    "cli.status.incident": "incident",
    "cli.status.checks": "{n} checks",
    "cli.status.acked": "#{id} handled by {who}",
    "cli.status.open": "#{id} not acknowledged",
    "cli.status.suppressed": "#{id} ({why})",
}
