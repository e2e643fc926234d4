"""The check state machine, walked through sequences with a hand-held clock."""

from __future__ import annotations

from collections import deque

import pytest

from monitor.checking.state import CheckState, State, Transition, flap_percent, observe
from monitor.config.model import FlapPolicy

NO_FLAP = FlapPolicy(enabled=False)


def walk(outcomes: str, *, fail_after: int = 3, recover_after: int = 2,
         flapping: FlapPolicy = NO_FLAP, cs: CheckState | None = None,
         start: float = 1000.0, step: float = 30.0) -> tuple[CheckState, list[Transition]]:
    """Feed outcomes ('+' ok, '-' failure, '~' ok but degraded), one every `step` seconds."""
    cs = cs or CheckState()
    transitions = []
    for i, mark in enumerate(outcomes):
        t = observe(cs, "portal", mark != "-", "status 503, expected 200" if mark == "-" else "ok",
                    start + i * step, fail_after=fail_after, recover_after=recover_after,
                    degraded="slow: took 2s (warning above 1s)" if mark == "~" else None,
                    flapping=flapping)
        if t:
            transitions.append(t)
    return cs, transitions


def states(transitions: list[Transition]) -> list[tuple[State, State]]:
    return [(t.old, t.new) for t in transitions]


def test_a_new_check_starts_unknown_and_its_first_success_is_not_a_recovery():
    _cs, ts = walk("+")
    assert states(ts) == [(State.UNKNOWN, State.UP)]
    assert ts[0].is_first


def test_it_goes_down_only_after_fail_after_consecutive_failures():
    _cs, ts = walk("++--+---", fail_after=3)
    assert states(ts) == [(State.UNKNOWN, State.UP), (State.UP, State.DOWN)]
    assert ts[-1].at == 1000.0 + 7 * 30
    assert ts[-1].reason == "status 503, expected 200"


def test_a_new_check_that_fails_goes_from_unknown_to_down():
    _cs, ts = walk("---", fail_after=3)
    assert states(ts) == [(State.UNKNOWN, State.DOWN)]


def test_it_recovers_only_after_recover_after_consecutive_successes():
    _cs, ts = walk("+---+-++", fail_after=3, recover_after=2)
    assert states(ts) == [(State.UNKNOWN, State.UP), (State.UP, State.DOWN),
                          (State.DOWN, State.UP)]
    assert ts[-1].at == 1000.0 + 7 * 30


def test_a_soft_miss_makes_it_degraded_and_a_clean_answer_up_again():
    _cs, ts = walk("+~~+")
    assert states(ts) == [(State.UNKNOWN, State.UP), (State.UP, State.DEGRADED),
                          (State.DEGRADED, State.UP)]
    assert ts[1].reason.startswith("slow:")


def test_failures_below_the_threshold_do_not_change_the_state():
    cs, ts = walk("+--+--+--+")
    assert states(ts) == [(State.UNKNOWN, State.UP)]
    assert cs.state is State.UP


def test_since_is_the_time_of_the_last_change():
    cs, _ = walk("+---+")
    assert cs.state is State.DOWN
    assert cs.since == 1000.0 + 3 * 30


def test_flap_percent_weights_recent_changes_more():
    old_changes = deque([True, False, True, False] + [True] * 17)
    new_changes = deque([True] * 17 + [False, True, False, True])
    assert flap_percent(new_changes) > flap_percent(old_changes)
    assert flap_percent(deque([True] * 21)) == 0.0
    assert flap_percent(deque([i % 2 == 0 for i in range(21)])) == pytest.approx(100.0)


def test_alternating_results_make_it_flapping_once_and_stable_once():
    policy = FlapPolicy(window=21, high=30, low=20)
    _cs, ts = walk("+" * 5 + "+-" * 30 + "+" * 40, fail_after=1, recover_after=1,
                  flapping=policy)
    news = [t.new for t in ts]
    assert news.count(State.FLAPPING) == 1
    flapping_at = news.index(State.FLAPPING)
    assert news[flapping_at + 1] is State.UP  # stable again, once
    assert len(ts) == flapping_at + 2
    assert ts[flapping_at + 1].reason.startswith("stable again")


def test_hysteresis_keeps_it_flapping_until_the_figure_drops_to_low():
    policy = FlapPolicy(window=21, high=30, low=20)
    cs, _ = walk("+-" * 15, fail_after=1, recover_after=1, flapping=policy)
    assert cs.flapping
    seen = []
    for i in range(25):  # steady successes: the weighted figure decays step by step
        walk("+", fail_after=1, recover_after=1, flapping=policy, cs=cs, start=5000 + i)
        seen.append((cs.flap_percent, cs.flapping))
    between = [flapping for pct, flapping in seen if 20 < pct < 30]
    assert between and all(between)  # below `high` but above `low`: still flapping
    assert all(not flapping for pct, flapping in seen if pct <= 20)
    assert not cs.flapping


def test_a_short_history_never_counts_as_flapping():
    policy = FlapPolicy(window=21, high=30, low=20)
    _cs, ts = walk("+-+-", fail_after=1, recover_after=1, flapping=policy)
    assert State.FLAPPING not in [t.new for t in ts]
