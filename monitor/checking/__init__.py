"""Running checks: the scheduler's slots (`scheduler`), probing and evaluating (`engine`),
the pure state machine with flapping (`state`), heartbeats pushed by jobs (`heartbeats`), and
the never-blind guards (`watchdog` for stale checks, `faults` for broken items, `liveness`
for time Siaga was not running)."""
