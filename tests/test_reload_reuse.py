"""Reloads validate only the checks whose lines changed (monitor.config.reuse): an edit to
one check is applied and every other check keeps running as it was; anything outside a
check's lines that could change it turns reuse off; problems still point at their place."""

from __future__ import annotations

import gc
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.config.document import has_anchor_or_tag
from monitor.config.loader import load_config
from monitor.errors import ConfigError
from tests.daemons import start, until

HEAD = """\
siaga:
  listen: "127.0.0.1:0"
  state_dir: "{state}"
defaults:
  interval: 200ms
  timeout: 150ms
checks:
"""
CHECK = """\
  - name: {name}
    group: portals
    http:
      url: "{url}"
      expect:
        status: 200
"""


def checks_yaml(tmp_path, url: str, names: list[str], extra: dict[str, str] | None = None,
                head: str = HEAD) -> str:
    body = "".join(CHECK.format(name=n, url=url) + (extra or {}).get(n, "") for n in names)
    return head.format(state=tmp_path / "state") + body


def probes(daemon, name: str) -> int:
    return daemon.engine.runtime[name].probes


NAMES = ["portal", "perizinan", "pengaduan", "keuangan", "mail"]


async def test_an_edit_to_one_check_is_applied_and_every_other_check_keeps_probing(
        farm, tmp_path):
    text = checks_yaml(tmp_path, f"{farm.http_url}/ok", NAMES)
    daemon = await start(tmp_path, text)
    try:
        await until(lambda: all(probes(daemon, n) >= 2 for n in NAMES), 5, "first probes")
        before = {c.name: c for c in daemon.config.checks}
        edited = text.replace("  - name: pengaduan\n    group: portals\n",
                              "  - name: pengaduan\n    group: complaints\n")
        (tmp_path / "checks.yaml").write_text(edited)
        assert await daemon.reloader.reload("test")

        assert daemon.config.by_name["pengaduan"].group == "complaints"
        unchanged = [n for n in NAMES if n != "pengaduan"]
        assert all(daemon.config.by_name[n] is before[n] for n in unchanged)  # not re-made
        counts = {n: probes(daemon, n) for n in NAMES}
        await until(lambda: all(probes(daemon, n) >= counts[n] + 2 for n in NAMES), 5,
                    "every check probing after the reload")
    finally:
        await daemon.stop()


async def test_an_invalid_edit_is_refused_at_its_place_and_the_old_config_keeps_running(
        farm, tmp_path):
    text = checks_yaml(tmp_path, f"{farm.http_url}/ok", NAMES)
    daemon = await start(tmp_path, text)
    try:
        running = daemon.config
        broken = text.replace("  - name: keuangan\n    group: portals\n",
                              "  - name: keuangan\n    group: portals\n    interval: soon\n")
        path = tmp_path / "checks.yaml"
        path.write_text(broken)
        assert not await daemon.reloader.reload("test")

        line = broken.splitlines().index("    interval: soon") + 1
        assert daemon.last_reload_error is not None
        assert f"{path}:{line}:15: checks[keuangan].interval:" in daemon.last_reload_error
        assert daemon.config is running
        counts = {n: probes(daemon, n) for n in NAMES}
        await until(lambda: all(probes(daemon, n) >= counts[n] + 2 for n in NAMES), 5,
                    "the old config probing on")
    finally:
        await daemon.stop()


def test_a_reload_takes_the_unchanged_checks_and_builds_the_changed_one(tmp_path):
    path = tmp_path / "checks.yaml"
    path.write_text(checks_yaml(tmp_path, "http://127.0.0.1:9/", NAMES))
    first = load_config(path)
    path.write_text(checks_yaml(tmp_path, "http://127.0.0.1:9/", NAMES,
                                {"mail": "    title: Surat\n"}))
    second = load_config(path, previous=first)
    assert [c.name for c in second.checks] == NAMES
    assert second.by_name["mail"].title == "Surat"
    assert [a is b for a, b in zip(first.checks, second.checks, strict=True)] == [
        True, True, True, True, False]
    assert second == load_config(path)  # the same config a load from scratch builds


@pytest.mark.parametrize("change", ["defaults", "anchor", "path"])
def test_reuse_is_off_when_something_outside_the_checks_lines_changes(tmp_path, change):
    path = tmp_path / "checks.yaml"
    path.write_text(checks_yaml(tmp_path, "http://127.0.0.1:9/", NAMES))
    first = load_config(path)
    text = checks_yaml(tmp_path, "http://127.0.0.1:9/", NAMES)
    if change == "defaults":
        text = text.replace("  timeout: 150ms\n", "  timeout: 150ms\n  fail_after: 5\n")
    elif change == "anchor":
        text = text.replace("defaults:\n", "x-base: &base {group: portals}\ndefaults:\n")
    else:
        path = tmp_path / "other.yaml"
    path.write_text(text)
    second = load_config(path, previous=first)
    assert not any(a is b for a, b in zip(first.checks, second.checks, strict=True))
    if change == "defaults":
        assert all(c.fail_after == 5 for c in second.checks)


def test_a_changed_proxy_variable_turns_reuse_off(tmp_path):
    path = tmp_path / "checks.yaml"
    path.write_text(checks_yaml(tmp_path, "http://127.0.0.1:9/", NAMES))
    first = load_config(path, env={"HTTP_PROXY": "http://proxy-a:3128"})
    second = load_config(path, env={"HTTP_PROXY": "http://proxy-b:3128"}, previous=first)
    assert not any(a is b for a, b in zip(first.checks, second.checks, strict=True))


def test_a_check_holding_a_variable_is_validated_again_and_its_secret_learned(tmp_path):
    path = tmp_path / "checks.yaml"
    text = checks_yaml(tmp_path, "http://127.0.0.1:9/?key=${PORTAL_KEY}", ["portal"])
    path.write_text(text)
    env = {"PORTAL_KEY": "s3cret-value"}
    first = load_config(path, env=env)
    second = load_config(path, env=env, previous=first)
    assert second.checks[0] is not first.checks[0]
    assert "s3cret-value" in second.secrets


def test_problems_inside_reused_checks_point_at_their_lines(tmp_path):
    path = tmp_path / "checks.yaml"
    deps = {"mail": "    depends_on: [keuangan]\n"}
    path.write_text(checks_yaml(tmp_path, "http://127.0.0.1:9/", NAMES, deps))
    first = load_config(path)
    # a check added at the top shifts every line; `keuangan` goes, which `mail` (reused,
    # unchanged) depends on; a second `portal` comes at the end
    names = ["baru", *[n for n in NAMES if n != "keuangan"], "portal"]
    text = checks_yaml(tmp_path, "http://127.0.0.1:9/", names, deps)
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_config(path, previous=first)
    lines = text.splitlines()
    by_path = {p.path: p for p in refused.value.problems}
    missing = by_path["checks[mail].depends_on[0]"]
    assert "'keuangan', which is no check" in missing.message
    assert (missing.line, missing.column) == (lines.index("    depends_on: [keuangan]") + 1, 18)
    duplicate = by_path["checks[5].name"]
    assert f"first on line {lines.index('  - name: portal') + 1})" in duplicate.message


def test_a_load_leaves_no_reference_cycles_behind(tmp_path):
    """The parsed file must go when the load returns: freed by the cyclic collector instead,
    20,000 checks' nodes made one collection hold the GIL for 0.5 s after each reload."""
    path = tmp_path / "checks.yaml"
    path.write_text(checks_yaml(tmp_path, "http://127.0.0.1:9/", NAMES,
                                {"mail": "    depends_on: [portal]\n"}))
    gc.collect()
    gc.disable()
    try:
        first = load_config(path)
        load_config(path, previous=first)
        assert gc.collect() == 0
    finally:
        gc.enable()


_WHOLE_RULE = re.compile(r"(?:^|[\s\[{,])[&!]\S", re.MULTILINE)


@given(st.text(alphabet=" \t\n\r[]{},&!*ab:-\u2028\x85", max_size=40))
def test_the_anchor_test_is_the_whole_rule(text):
    assert has_anchor_or_tag(text) == (_WHOLE_RULE.search(text) is not None)
