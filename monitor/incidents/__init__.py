"""Incidents: the lifecycle (`model`), the pure reconciliation that opens, joins and
resolves them (`reconcile`: dependencies, grouping, the connectivity guard), and what holds
pages back (`suppression`: maintenance windows and silences)."""
