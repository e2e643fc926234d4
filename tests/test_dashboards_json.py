"""Structural checks of the Grafana dashboards in dashboards/."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))
DS_REF = "${datasource}"
# Grafana built-ins a real Siaga scrape test substitutes, plus dashboard variables.
BUILTIN_VARS = {"__rate_interval", "__range", "__interval"}
VAR_RE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
# Test substitution used to parse every query (mirrors Grafana's interpolation).
SUBST = {"check": "api", "group": "web", "__rate_interval": "1m", "__range": "1h",
         "__interval": "15s"}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _panels(dash: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dash.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # panels nested in collapsed rows


def _datasource_refs(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            else:
                yield from _datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datasource_refs(item)


def _var_names(expr: str) -> set[str]:
    return {a or b for a, b in VAR_RE.findall(expr)}


def _substitute(expr: str) -> str:
    return VAR_RE.sub(lambda m: SUBST[m.group(1) or m.group(2)], expr)


def _exprs(dash: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in _panels(dash) for t in p.get("targets", [])]


def test_expected_dashboards_exist() -> None:
    names = {p.name for p in DASHBOARDS}
    assert {"siaga-overview.json", "siaga-check.json", "siaga-health.json"} <= names


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_structure(path: Path) -> None:
    dash = _load(path)  # valid JSON
    assert dash["title"] and dash["uid"]
    assert dash["schemaVersion"] >= 36
    assert "id" not in dash or dash["id"] is None, "exported with an instance-specific id"

    variables = {v["name"]: v for v in dash["templating"]["list"]}
    ds = variables.get("datasource")
    assert ds is not None, "missing datasource variable"
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"

    # No hard-coded datasource anywhere: every reference is the variable.
    for ref in _datasource_refs({k: v for k, v in dash.items() if k != "templating"}):
        assert isinstance(ref, dict) and ref.get("uid") == DS_REF, ref
    for var in variables.values():
        if var["type"] == "query":
            assert var["datasource"]["uid"] == DS_REF

    ids = [p["id"] for p in _panels(dash)]
    assert len(ids) == len(set(ids)), "duplicate panel ids"

    for panel in _panels(dash):
        assert "gridPos" in panel and panel.get("title"), panel.get("id")
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == DS_REF, panel["title"]
        targets = panel.get("targets")
        assert targets, f"panel {panel['title']!r} has no targets"
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in targets:
            assert target.get("expr", "").strip(), f"panel {panel['title']!r}: empty expr"
            used = _var_names(target["expr"])
            unknown = used - BUILTIN_VARS - set(variables)
            assert not unknown, f"panel {panel['title']!r} uses undefined variables {unknown}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not on PATH")
def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """Every query, with template variables substituted, is valid PromQL.

    promtool has no "parse expression" command, so the queries are wrapped as
    recording rules and checked with `promtool check rules`.
    """
    rules = []
    for path in DASHBOARDS:
        for i, expr in enumerate(_exprs(_load(path))):
            rules.append({"record": f"dashboard_query_{path.stem.replace('-', '_')}_{i}",
                          "expr": _substitute(expr)})
    rule_file = tmp_path / "dashboard-queries.yml"
    # JSON is valid YAML, so no YAML library is needed.
    rule_file.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}))
    res = subprocess.run(["promtool", "check", "rules", str(rule_file)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_uptime_panels_show_the_reports_time_weighted_figure() -> None:
    """Uptime, SLO and budget panels read siaga_uptime_ratio (the report's number), never a
    long average of probe samples that needs months of Prometheus retention."""
    long_average = re.compile(r"avg_over_time\(probe_success[^\]]*\[(24h|\d+d)\]")
    for path in DASHBOARDS:
        for expr in _exprs(_load(path)):
            assert not long_average.search(expr), (path.name, expr)
    overview = _exprs(_load(ROOT / "dashboards" / "siaga-overview.json"))
    for window in ("7d", "30d", "90d"):
        assert any(f'siaga_uptime_ratio{{group=~"$group",window="{window}"}}' in e
                   for e in overview), window


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_titles_read_in_indonesian_and_english(path: Path) -> None:
    dash = _load(path)
    titles = [dash["title"], *(p["title"] for p in _panels(dash))]
    titles += [v["label"] for v in dash["templating"]["list"] if v.get("label")]
    for title in titles:
        indonesian, _, english = title.partition(" · ")
        assert indonesian and english, f"{path.name}: {title!r} is not in both languages"
