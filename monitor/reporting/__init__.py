"""What is derived from the stored history: time-weighted uptime (`uptime`), hourly and daily
rollups (`rollup`), and SLA reports (`report`)."""
