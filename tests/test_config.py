"""Config validation: a folder of broken files, each naming the problems it must produce."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config.loader import load_config, parse_config
from monitor.errors import ConfigError

HERE = Path(__file__).parent
BROKEN = sorted((HERE / "configs" / "broken").glob("*.yaml"))
ROOT = HERE.parent
EXPECT = re.compile(r"^# expect: (?:(\d+):(\d+): )?(.*)$")


def expectations(path: Path) -> list[tuple[int | None, int | None, str]]:
    found = []
    for line in path.read_text().splitlines():
        m = EXPECT.match(line)
        if m:
            found.append((int(m[1]) if m[1] else None, int(m[2]) if m[2] else None, m[3]))
    return found


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_each_broken_config_reports_every_expected_problem_at_its_place(path: Path):
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    problems = info.value.problems
    wanted = expectations(path)
    assert wanted, f"{path.name} names no expected problem"
    for line, col, text in wanted:
        matches = [p for p in problems if text in str(p)]
        assert matches, f"{path.name}: no problem like {text!r} in {[str(p) for p in problems]}"
        if line is not None:
            assert (matches[0].line, matches[0].column) == (line, col), str(matches[0])
        assert matches[0].file == str(path)
    assert len(problems) == len(wanted), [str(p) for p in problems]


def test_the_shipped_checks_yaml_is_valid():
    config = load_config(ROOT / "checks.yaml", env={})
    assert len(config.checks) >= 8
    assert {c.kind for c in config.checks} >= {"http", "tcp", "dns", "tls", "icmp"}


def test_defaults_apply_and_a_checks_own_value_wins():
    config = parse_config(
        "defaults: {interval: 1m, timeout: 5s, fail_after: 4}\n"
        "checks:\n"
        "  - {name: a, tcp: {host: 127.0.0.1, port: 80}}\n"
        "  - {name: b, interval: 10s, tcp: {host: 127.0.0.1, port: 80}}\n",
        "t.yaml", env={})
    a, b = config.checks
    assert (a.interval, a.timeout, a.fail_after, a.recover_after) == (60, 5, 4, 2)
    assert b.interval == 10


def test_durations_accept_compound_units():
    config = parse_config("checks:\n  - {name: a, interval: 1h30m, timeout: 1500ms,"
                          " tcp: {host: 127.0.0.1, port: 80}}\n", "t.yaml", env={})
    assert (config.checks[0].interval, config.checks[0].timeout) == (5400, 1.5)


def test_env_values_are_substituted_and_remembered_as_secrets():
    config = parse_config(
        "checks:\n  - name: api\n    http: {url: 'http://127.0.0.1/', "
        "bearer_token: '${API_TOKEN}'}\n", "t.yaml", env={"API_TOKEN": "s3cr3t-token"})
    assert config.checks[0].spec.bearer_token == "s3cr3t-token"
    assert "s3cr3t-token" in config.secrets


def test_env_default_is_used_when_the_variable_is_unset():
    config = parse_config(
        "checks:\n  - name: api\n    http: {url: 'http://127.0.0.1/', "
        "bearer_token: '${API_TOKEN:-fallback}'}\n", "t.yaml", env={})
    assert config.checks[0].spec.bearer_token == "fallback"


def test_validate_prints_file_line_col_errors_and_exits_2(capsys):
    path = HERE / "configs" / "broken" / "many_errors.yaml"
    assert main(["validate", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:10:15: defaults.fail_after: expected an integer 1–100, got 0" in err
    assert "6 errors" in err


def test_validate_exits_0_with_a_one_line_summary(capsys):
    assert main(["validate", "-c", str(ROOT / "checks.yaml")]) == 0
    out = capsys.readouterr().out.strip()
    # the shipped file says `language: id`: the summary is in Indonesian
    assert out.count("\n") == 0 and ": sah — " in out and "pemeriksaan" in out


def test_validate_never_prints_a_secret(tmp_path, capsys, monkeypatch):
    # Both values from the environment are wrong, so both are reported — without the values.
    monkeypatch.setenv("SIAGA_SECRET_URL", "htp://user:hunter22@127.0.0.1:1/x")
    monkeypatch.setenv("SIAGA_SECRET_NAME", "Rahasia Sekali")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("checks:\n  - name: '${SIAGA_SECRET_NAME}'\n"
                   "    http: {url: '${SIAGA_SECRET_URL}', method: PUTT}\n")
    assert main(["validate", "-c", str(cfg)]) == 2
    captured = capsys.readouterr()
    assert "hunter22" not in captured.out + captured.err
    assert "Rahasia" not in captured.out + captured.err
    assert "checks[0].http.url: expected a URL" in captured.err
    assert "checks[0].name: expected lowercase" in captured.err
    assert "method" in captured.err


def test_schema_is_json_schema_covering_every_section(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    props = schema["properties"]
    assert {"siaga", "defaults", "checks"} <= props.keys()
    check = props["checks"]["items"]["properties"]
    assert {"http", "tcp", "dns", "tls", "icmp", "depends_on"} <= check.keys()
    assert schema["properties"]["checks"]["items"]["additionalProperties"] is False


def test_a_missing_file_is_a_config_error_not_a_traceback(capsys):
    assert main(["validate", "-c", "/nonexistent/checks.yaml"]) == 2
    assert "/nonexistent/checks.yaml:1:1: cannot read file" in capsys.readouterr().err
