"""Escalation: the timeline of pages for one incident, walked minute by minute.

The pager's part is played by `Pager` below: it sends what `due()` returns and persists
the keys, exactly as the real pager must.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor.config.loader import parse_config
from monitor.paging.oncall.escalation import (
    BUILTIN_POLICY,
    Plan,
    due,
    everyone_paged,
    plan,
    policy_for,
    recipients,
    roster_resolver,
    skip_to_next,
    unknown_policy,
)
from monitor.paging.oncall.model import OnCall

JAKARTA = ZoneInfo("Asia/Jakarta")
MINUTE = 60.0

CONFIG = """\
oncall:
  officers:
    budi: {notify: "json://127.0.0.1:9999/budi"}
    sari: {notify: "json://127.0.0.1:9999/sari"}
    andi: {notify: "json://127.0.0.1:9999/andi"}
    kasi: {notify: "json://127.0.0.1:9999/kasi"}
    kabid: {notify: "json://127.0.0.1:9999/kabid"}
  groups: {atasan: [kasi, kabid]}
  admins: [kasi]
  rotations:
    - {name: piket, every: 1d, handoff: "08:00", start: "2026-11-02", officers: [budi, sari, andi]}
  escalation:
    default:
      steps:
        - {notify: on_duty}
        - {after: 10m, notify: next}
        - {after: 30m, notify: [atasan]}
      repeat: 2
      remind_every: 1h
    tenang:
      steps: [{notify: [on_duty, budi]}]
"""


def oncall() -> OnCall:
    section: OnCall = parse_config(CONFIG, "t.yaml", env={}).sections["oncall"]
    return section


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=JAKARTA).timestamp()


OPENED = at("2026-11-03 10:00")  # sari is on duty, andi is next


def incident_plan(opened: float = OPENED) -> Plan:
    section = oncall()
    return plan(policy_for(section, None), opened, roster_resolver(section, JAKARTA))


@dataclass
class Pager:
    """Plays the pager: sends what is due and remembers the keys it sent."""

    plan: Plan
    done: set[str] = field(default_factory=set)
    sent: list[tuple[float, str, tuple[str, ...]]] = field(default_factory=list)

    def tick(self, now: float, acked_at: float | None = None) -> None:
        result = due(self.plan, self.done, now, acked_at=acked_at)
        for step in result.steps:
            self.sent.append(((now - OPENED) / MINUTE, step.key, step.recipients))
        self.done.update(result.keys)

    def walk(self, minutes: int, acked_at: float | None = None) -> None:
        for minute in range(minutes + 1):
            self.tick(OPENED + minute * MINUTE, acked_at)


def test_it_pages_the_officer_on_duty_as_soon_as_the_incident_opens():
    result = due(incident_plan(), set(), OPENED)
    assert [(s.key, s.recipients) for s in result.steps] == [("page:0:0", ("sari",))]
    assert result.next_at == OPENED + 10 * MINUTE


def test_it_escalates_on_schedule_and_repeats_the_chain_without_double_pages():
    pager = Pager(incident_plan())
    pager.walk(180)
    assert pager.sent == [
        (0, "page:0:0", ("sari",)),
        (10, "page:0:1", ("andi",)),
        (30, "page:0:2", ("kasi", "kabid")),
        (50, "page:1:0", ("sari",)),  # round 2 starts one "last gap" (20m) after step 2
        (60, "page:1:1", ("andi",)),
        (80, "page:1:2", ("kasi", "kabid")),
    ]


def test_nothing_is_due_a_second_before_the_next_step():
    result = due(incident_plan(), {"page:0:0"}, OPENED + 10 * MINUTE - 1)
    assert result.steps == ()
    assert result.next_at == OPENED + 10 * MINUTE


def test_nothing_more_is_due_once_every_round_was_sent():
    steps = incident_plan()
    result = due(steps, {s.key for s in steps.steps}, OPENED + 600 * MINUTE)
    assert (result.steps, result.next_at) == ((), None)


def test_paging_stops_when_the_incident_is_acknowledged():
    pager = Pager(incident_plan())
    pager.walk(12)
    pager.walk(180, acked_at=OPENED + 12 * MINUTE)
    assert [key for _, key, _ in pager.sent if key.startswith("page")] == ["page:0:0",
                                                                           "page:0:1"]


def test_paging_stops_when_the_incident_resolves():
    result = due(incident_plan(), {"page:0:0"}, OPENED + 45 * MINUTE, resolved=True)
    assert (result.steps, result.next_at) == ((), None)


def test_reminders_come_every_hour_while_acknowledged_and_down():
    pager = Pager(incident_plan())
    pager.walk(12)
    acked = OPENED + 12 * MINUTE
    pager.walk(200, acked_at=acked)
    reminders = [(minute, key, who) for minute, key, who in pager.sent if key.startswith("rem")]
    assert reminders == [(72, "remind:1", ("sari", "andi")), (132, "remind:2", ("sari", "andi")),
                         (192, "remind:3", ("sari", "andi"))]
    assert due(pager.plan, pager.done, OPENED + 200 * MINUTE, acked_at=acked).next_at == (
        acked + 4 * 60 * MINUTE)


def test_reminders_go_to_whom_the_pager_names_and_stop_when_resolved():
    acked = OPENED + 5 * MINUTE
    result = due(incident_plan(), {"page:0:0"}, acked + 61 * MINUTE, acked_at=acked,
                 remind_to=["sari"])
    assert [(s.key, s.recipients) for s in result.steps] == [("remind:1", ("sari",))]
    assert due(incident_plan(), {"page:0:0"}, acked + 61 * MINUTE, acked_at=acked,
               resolved=True).steps == ()


def test_after_a_restart_the_first_overdue_step_comes_at_once_and_the_rest_keep_spacing():
    back = OPENED + 35 * MINUTE  # down from minute 1 to 35: steps at 10 and 30 overdue
    result = due(incident_plan(), {"page:0:0": OPENED}, back)
    assert result.keys == ("page:0:1",)
    assert result.recipients == ("andi",)
    assert result.next_at == back + 20 * MINUTE  # the 10 → 30 minute spacing, from now
    done = {"page:0:0": OPENED, "page:0:1": back}
    assert due(incident_plan(), done, back + 19 * MINUTE).steps == ()
    assert due(incident_plan(), done, back + 20 * MINUTE).keys == ("page:0:2",)


def test_a_held_step_goes_to_whoever_is_on_duty_when_it_is_sent():
    steps = incident_plan()
    handoff = OPENED + 23 * 3600  # the next day's 08:00: andi's shift after sari's
    resolver = roster_resolver(oncall(), JAKARTA)
    result = due(steps, {"page:0:0": OPENED}, handoff + 60, resolve=resolver)
    assert result.keys == ("page:0:1",)
    assert result.recipients == resolver(("next",), handoff + 60)
    assert result.recipients != steps.steps[1].recipients


def test_skipping_to_the_next_step_pages_it_now_and_not_again_later():
    steps = incident_plan()
    now = OPENED + 2 * MINUTE
    skipped = skip_to_next(steps, {"page:0:0"}, now)
    assert [(s.key, s.at, s.recipients) for s in skipped.steps] == [("page:0:1", now, ("andi",))]
    assert skipped.next_at == OPENED + 30 * MINUTE
    later = due(steps, {"page:0:0", *skipped.keys}, OPENED + 10 * MINUTE)
    assert later.steps == ()


def test_everyone_paged_lists_each_recipient_of_the_sent_steps_once():
    steps = incident_plan()
    assert everyone_paged(steps, {"page:0:0", "page:0:1", "page:1:0"}) == ("sari", "andi")
    assert everyone_paged(steps, set()) == ()


def test_on_duty_is_resolved_at_each_step_s_own_time():
    steps = incident_plan(at("2026-11-03 07:55"))  # budi until 08:00, then sari
    first, second = steps.steps[:2]
    assert (first.recipients, second.recipients) == (("budi",), ("andi",))


def test_a_step_lists_each_officer_once():
    section = oncall()
    assert recipients(section, ["on_duty", "budi", "atasan", "kasi"], at("2026-11-02 09:00"),
                      JAKARTA) == ("budi", "kasi", "kabid")


def test_a_step_that_resolves_to_nobody_goes_to_the_admins():
    section = oncall()
    assert recipients(section, ["on_duty"], at("2026-11-01 12:00"), JAKARTA) == ("kasi",)


def test_a_check_uses_its_policy_else_default_else_the_builtin_one():
    section = oncall()
    assert policy_for(section, "tenang").name == "tenang"
    assert policy_for(section, None).name == "default"
    assert policy_for(None, None) is BUILTIN_POLICY
    assert unknown_policy(section, "tenag") == (
        "unknown escalation policy 'tenag' (did you mean 'tenang'?)")
    assert unknown_policy(section, "tenang") is None
    assert "oncall" in (unknown_policy(None, "tenang") or "")
