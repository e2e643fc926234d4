"""On-call: who is on duty (`roster`), who is paged when (`escalation`), and the `oncall:`
section of checks.yaml (`model`). All pure: the clock and the time zone are passed in."""

from monitor.paging.oncall.escalation import (
    Due,
    Plan,
    Step,
    due,
    everyone_paged,
    plan,
    policy_for,
    recipients,
    roster_resolver,
    skip_to_next,
)
from monitor.paging.oncall.model import Officer, OnCall, Policy
from monitor.paging.oncall.roster import Duty, Shift, admins, next_officer, on_duty, schedule

__all__ = [
    "Due",
    "Duty",
    "Officer",
    "OnCall",
    "Plan",
    "Policy",
    "Shift",
    "Step",
    "admins",
    "due",
    "everyone_paged",
    "next_officer",
    "on_duty",
    "plan",
    "policy_for",
    "recipients",
    "roster_resolver",
    "schedule",
    "skip_to_next",
]
