"""Validate the Prometheus rules in alerts/ with promtool.

`promtool check rules` checks syntax; `promtool test rules` runs the unit
tests in alerts/tests/ (input series -> expected alerts, including negative
cases). CI installs promtool (Debian package `prometheus`).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "alerts"
RULE_FILES = sorted(ALERTS.glob("*.yml"))
TEST_FILES = sorted((ALERTS / "tests").glob("*.yml"))

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not on PATH (install the Debian/Ubuntu package 'prometheus')",
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROMTOOL, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_rule_and_test_files_exist() -> None:
    names = {p.name for p in RULE_FILES}
    assert {"siaga-alerts.yml", "siaga-slo.yml"} <= names
    assert TEST_FILES, "no promtool unit tests in alerts/tests/"


@needs_promtool
@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(rule_file: Path) -> None:
    res = _run("check", "rules", str(rule_file))
    assert res.returncode == 0, res.stdout + res.stderr


@needs_promtool
@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_test_rules(test_file: Path) -> None:
    res = _run("test", "rules", str(test_file))
    assert res.returncode == 0, res.stdout + res.stderr


def test_every_alert_has_a_unit_test() -> None:
    """Each alert name defined in alerts/*.yml appears in some alert_rule_test."""
    yaml = pytest.importorskip("yaml")
    alerts: set[str] = set()
    for f in RULE_FILES:
        for group in yaml.safe_load(f.read_text())["groups"]:
            alerts |= {r["alert"] for r in group["rules"] if "alert" in r}
    tested: set[str] = set()
    for f in TEST_FILES:
        for tg in yaml.safe_load(f.read_text())["tests"]:
            for case in tg.get("alert_rule_test") or []:
                if case.get("exp_alerts"):
                    tested.add(case["alertname"])
    assert alerts - tested == set(), "alerts without a positive unit test"


def test_alerts_have_required_annotations() -> None:
    yaml = pytest.importorskip("yaml")
    for f in RULE_FILES:
        for group in yaml.safe_load(f.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
                for key in ("summary", "description", "summary_id"):
                    assert rule["annotations"].get(key), f"{rule['alert']}: missing {key}"
