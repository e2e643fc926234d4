"""The `oncall:` section of checks.yaml: what it builds, and errors that point at the place."""

from __future__ import annotations

import json
from datetime import date, datetime, time

import pytest

from monitor.config.loader import parse_config, root_schema
from monitor.errors import ConfigError
from monitor.paging.oncall.model import EscalationStep, OnCall, TimeRange

OFFICERS = """\
oncall:
  officers:
    budi: {notify: "json://127.0.0.1:9999/budi"}
    sari: {notify: "json://127.0.0.1:9999/sari"}
"""


def build(text: str, env: dict[str, str] | None = None) -> OnCall:
    section: OnCall = parse_config(text, "t.yaml", env=env or {}).sections["oncall"]
    return section


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.yaml", env={})
    return [str(p) for p in info.value.problems]


FULL = """\
oncall:
  officers:
    budi: {name: "Budi Santoso", notify: ["mailto://u:p@mail.example", "tgram://${TG_BOT}/42"],
           language: id, contact_hours: "07:00-22:00"}
    sari: {notify: ["json://127.0.0.1:9999/"]}
    andi: {notify: ["json://127.0.0.1:9999/"]}
    kasi: {name: "Kepala Seksi", notify: ["json://127.0.0.1:9999/"]}
  groups: {atasan: [kasi]}
  admins: [budi]
  rotations:
    - {name: piket, every: 1d, handoff: "08:00", start: "2026-11-02", officers: [budi, sari, andi]}
    - {name: akhir-pekan, every: 1w, handoff: "08:00", start: "2026-11-07", officers: [andi, sari],
       days: [sat, sun], hours: "17:00-08:00"}
  overrides:
    - {officer: sari, from: "2026-12-24 08:00", to: "2026-12-26 08:00", reason: "tukar jaga"}
  escalation:
    default:
      steps:
        - {notify: on_duty}
        - {after: 10m, notify: next}
        - {after: 30m, notify: [atasan]}
      repeat: 2
      remind_every: 1h
"""


def test_the_full_example_builds_typed_values():
    oncall = build(FULL, env={"TG_BOT": "bot-token-123"})
    budi = oncall.officers["budi"]
    assert (budi.name, budi.language, budi.contact_hours) == (
        "Budi Santoso", "id", TimeRange(time(7), time(22)))
    assert budi.notify[1] == "tgram://bot-token-123/42"
    assert "bot-token-123" not in repr(budi)
    assert oncall.officers["sari"].name == "sari"
    weekend = oncall.rotations[1]
    assert (weekend.every, weekend.handoff, weekend.start, weekend.days, weekend.hours) == (
        7 * 86400, time(8), date(2026, 11, 7), frozenset({5, 6}), TimeRange(time(17), time(8)))
    override = oncall.overrides[0]
    assert (override.start, override.end) == (datetime(2026, 12, 24, 8), datetime(2026, 12, 26, 8))
    policy = oncall.escalation["default"]
    assert policy.steps[2] == EscalationStep(1800, ("atasan",))
    assert (policy.repeat, policy.repeat_after, policy.remind_every) == (2, 3000, 3600)
    assert (oncall.groups, oncall.admins) == ({"atasan": ("kasi",)}, ("budi",))


def test_secrets_in_notify_urls_are_remembered_for_redaction():
    config = parse_config(OFFICERS.replace("json://127.0.0.1:9999/sari", "tgram://${BOT}/1"),
                          "t.yaml", env={"BOT": "s3cret-bot"})
    assert "s3cret-bot" in config.secrets


def test_without_an_oncall_section_there_is_none():
    config = parse_config("checks: []\n", "t.yaml", env={})
    assert "oncall" not in config.sections


def test_an_unquoted_handoff_is_read_as_a_time_not_yaml_sexagesimal():
    oncall = build(OFFICERS + "  rotations: [{name: piket, handoff: 8:30, officers: [budi]}]\n")
    assert oncall.rotations[0].handoff == time(8, 30)


def test_a_bare_list_of_steps_is_the_default_policy():
    oncall = build(OFFICERS + "  escalation: [{notify: on_duty}, {after: 10m, notify: sari}]\n")
    policy = oncall.escalation["default"]
    assert [s.notify for s in policy.steps] == [("on_duty",), ("sari",)]
    assert policy.repeat_after == 1200


def test_an_unknown_officer_is_reported_at_its_place_with_a_suggestion():
    assert problems(OFFICERS + "  rotations:\n    - {name: piket, officers: [budi, sary]}\n") == [
        "t.yaml:6:38: oncall.rotations[0].officers[1]: unknown officer 'sary'"
        " (did you mean 'sari'?)"]


def test_a_handoff_that_is_not_hh_mm_is_reported_at_its_place():
    assert problems(OFFICERS + "  rotations:\n"
                    "    - {name: piket, handoff: 8am, officers: [budi]}\n") == [
        't.yaml:6:30: oncall.rotations[0].handoff: expected a time of day "HH:MM" like "08:00",'
        " got '8am'"]


def test_an_override_must_end_after_it_starts():
    assert problems(OFFICERS + "  overrides:\n    - officer: sari\n"
                    '      from: "2026-12-26 08:00"\n      to: "2026-12-24 08:00"\n') == [
        "t.yaml:8:11: oncall.overrides[0].to: must be after `from` (2026-12-26 08:00)"]


def test_every_wrong_reference_is_reported_at_once():
    found = problems(OFFICERS + """\
  groups: {atasan: [kasi]}
  admins: [budy]
  overrides: [{officer: andi, from: "2026-12-24 08:00", to: "2026-12-25 08:00"}]
  escalation:
    default:
      steps: [{notify: on_dutty}, {after: 5m, notify: [atasan, bos]}]
""")
    assert found == [
        "t.yaml:5:21: oncall.groups.atasan[0]: unknown officer 'kasi'",
        "t.yaml:6:12: oncall.admins[0]: unknown officer or group 'budy' (did you mean 'budi'?)",
        "t.yaml:7:25: oncall.overrides[0].officer: unknown officer 'andi'",
        "t.yaml:10:24: oncall.escalation.default.steps[0].notify: unknown officer or group"
        " 'on_dutty' (did you mean 'on_duty'?)",
        "t.yaml:10:64: oncall.escalation.default.steps[1].notify[1]: unknown officer or group"
        " 'bos'",
    ]


@pytest.mark.parametrize(("line", "message"), [
    ("  rotations: [{name: a, every: 0s, officers: [budi]}]",
     "oncall.rotations[0].every: must be at least 1m"),
    ("  rotations: [{name: a, days: [sat, caturday], officers: [budi]}]",
     "oncall.rotations[0].days[1]: expected a weekday"),
    ("  rotations: [{name: a, hours: '17:00', officers: [budi]}]",
     "oncall.rotations[0].hours: expected a daily window"),
    ("  rotations: [{name: a, start: '2026-02-30', officers: [budi]}]",
     "oncall.rotations[0].start: expected a date"),
    ("  rotations: [{name: a, officers: [budi]}, {name: a, officers: [sari]}]",
     "oncall.rotations[1].name: duplicate name"),
    ("  overrides: [{officer: budi, from: '2026-12-24 25:00', to: '2026-12-25 08:00'}]",
     "oncall.overrides[0].from: expected a local time"),
    ("  groups: {budi: [sari]}", "oncall.groups.budi: group name 'budi' is taken"),
    ("  groups: {a: [sari], b: [a]}", "oncall.groups.b[0]: 'a' is a group; list officers"),
    ("  escalation: [{after: 10m, notify: budi}, {after: 5m, notify: sari}]",
     "oncall.escalation[1].after: steps must be in time order"),
    ("  escalation: {p: {steps: [{after: 30m, notify: budi}], repeat_after: 10m}}",
     "oncall.escalation.p.repeat_after: must be longer than the last step's `after`"),
])
def test_invalid_values_are_reported(line: str, message: str):
    found = problems(OFFICERS + line + "\n")
    assert len(found) == 1 and message in found[0], found


def test_bad_contact_hours_are_reported_at_their_place():
    text = OFFICERS.replace('budi: {notify: "json://127.0.0.1:9999/budi"}',
                            'budi: {notify: "json://127.0.0.1:9999/budi", '
                            'contact_hours: "07:00-24:00"}')
    text = text.replace('sari: {notify: "json://127.0.0.1:9999/sari"}',
                        'sari: {notify: "json://127.0.0.1:9999/sari", contact_hours: ~}')
    assert problems(text) == [
        't.yaml:3:65: oncall.officers.budi.contact_hours: expected a daily window '
        '"HH:MM-HH:MM" like "07:00-22:00", got \'07:00-24:00\'',
        "t.yaml:4:65: oncall.officers.sari.contact_hours: expected a daily window "
        '"HH:MM-HH:MM" like "07:00-22:00", got nothing']


def test_notify_urls_must_look_like_apprise_urls():
    found = problems(OFFICERS.replace('"json://127.0.0.1:9999/sari"', '"08123456789"'))
    assert found == ["t.yaml:4:20: oncall.officers.sari.notify: expected an apprise URL like"
                     " \"tgram://BOT/CHAT\", got '08123456789'"]


def test_the_section_exports_json_schema():
    schema = root_schema().json_schema()["properties"]["oncall"]
    text = json.dumps(schema)
    assert '"08:00"' in text and "rotations" in schema["properties"]
