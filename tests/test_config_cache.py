"""The compiled-config cache (monitor.config.cache) as `siaga run` uses it: a second start
of the same file skips parsing, and anything that could change the outcome (an edit, the
environment, a broken entry) makes it parse the file again."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.config.cache import ConfigCache
from monitor.config.isolated import load_config_isolated
from monitor.config.loader import load_config

CONFIG = """
siaga: {{listen: "127.0.0.1:0", state_dir: "{state}"}}
defaults: {{interval: 5s, timeout: 1s}}
checks:
  - {{name: web, group: "{group}", http: {{url: "{url}/ok"}}}}
  - {{name: gw, tcp: {{host: 127.0.0.1, port: {port}}}}}
oncall:
  officers: {{budi: {{notify: ["json://127.0.0.1:9/${{SIAGA_TEST_CHAT}}"]}}}}
  rotations: [{{name: piket, every: 1d, handoff: "08:00", officers: [budi]}}]
"""


def write(tmp_path: Path, farm, group: str = "Layanan") -> Path:
    path = tmp_path / "checks.yaml"
    path.write_text(CONFIG.format(state=tmp_path / "state", url=farm.http_url, group=group,
                                  port=farm.refused_port))
    return path


def run_until_started(path: Path, **env: str) -> str:
    """`siaga run` until it logs that it started; its log."""
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "-c", str(path), "run"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "SIAGA_TEST_CHAT": "chat-1", **env})
    lines = []
    try:
        deadline = time.monotonic() + 20
        assert proc.stderr is not None
        for line in iter(proc.stderr.readline, b""):
            lines.append(line.decode())
            if "event=started" in lines[-1] or time.monotonic() > deadline:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()
    log = "".join(lines)
    assert "event=started" in log, log
    return log


def test_a_second_start_of_the_same_file_uses_the_cache_and_an_edit_is_applied(
        tmp_path, farm):
    path = write(tmp_path, farm)
    first = run_until_started(path)
    assert "config_cache_used" not in first
    assert "config_cache_used" in run_until_started(path)
    write(tmp_path, farm, group="Keuangan")  # an edit
    edited = run_until_started(path)
    assert "config_cache_used" not in edited
    assert "config_cache_used" in run_until_started(path)


def test_a_start_on_an_edited_file_takes_its_unchanged_checks_from_the_last_load(
        tmp_path, farm):
    path = write(tmp_path, farm)
    assert "how=child reused=0" in run_until_started(path)
    write(tmp_path, farm, group="Keuangan")  # `web` edited, `gw` as it was
    assert "how=child reused=1" in run_until_started(path)
    assert "how=cache" in run_until_started(path)
    (tmp_path / "checks.yaml").write_text(path.read_text().replace("interval: 5s",
                                                                   "interval: 6s"))
    assert "how=child reused=0" in run_until_started(path)  # `defaults:` changed: none


def test_an_edited_file_loads_as_a_fresh_parse_does_and_not_from_other_code(tmp_path, farm):
    path, env = write(tmp_path, farm), {"SIAGA_TEST_CHAT": "chat-1"}
    load(path, tmp_path, env)
    write(tmp_path, farm, group="Keuangan")
    edited = load(path, tmp_path, env)
    assert edited == load_config(path, env) and edited.by_name["web"].group == "Keuangan"
    cache = cache_of(path, tmp_path)
    assert cache.previous() == edited
    cache.code = "another version of Siaga"
    assert cache.previous() is None


def test_an_edited_file_takes_no_check_built_with_another_value_of_a_defaults_variable(
        tmp_path, farm):
    """Found by attacking the edited-file start: `defaults: {proxy: ${PX}}` read the same
    as text, so 2,999 of 3,000 checks kept the proxy the operator had just replaced."""
    path = tmp_path / "checks.yaml"
    text = (CONFIG.format(state=tmp_path / "state", url=farm.http_url, group="Layanan",
                          port=farm.refused_port)
            .replace("defaults: {interval: 5s, timeout: 1s}",
                     "defaults: {interval: 5s, timeout: 1s, proxy: \"${PX}\"}")
            .replace("checks:\n", f"checks:\n  - {{name: portal, http: {{url: \"{farm.http_url}/"
                     "ok\"}}\n"))
    path.write_text(text)
    old = {"SIAGA_TEST_CHAT": "chat-1", "PX": "http://127.0.0.1:18081"}
    new = {**old, "PX": "http://127.0.0.1:18082"}
    assert load(path, tmp_path, old).by_name["web"].spec.proxy == old["PX"]
    path.write_text(text.replace("group: \"Layanan\"", "group: \"Keuangan\""))  # web edited
    edited = load(path, tmp_path, new)
    assert edited == load_config(path, new)
    assert {c.spec.proxy for c in edited.checks if c.kind == "http"} == {new["PX"]}


def cache_of(path: Path, tmp_path: Path) -> ConfigCache:
    cache = ConfigCache.for_file(str(path), tmp_path / "cache")
    assert cache is not None
    return cache


def load(path: Path, tmp_path: Path, env: dict[str, str]):
    return load_config_isolated(str(path), env, cache=cache_of(path, tmp_path))


def test_the_cached_config_is_the_parsed_one(tmp_path, farm, caplog):
    path, env = write(tmp_path, farm), {"SIAGA_TEST_CHAT": "chat-1"}
    parsed = load(path, tmp_path, env)
    with caplog.at_level(logging.INFO, logger="siaga"):
        cached = load(path, tmp_path, env)
    assert "event=config_cache_used" in caplog.text
    assert cached == parsed == load_config(path, env)


def test_an_edit_is_applied(tmp_path, farm):
    path, env = write(tmp_path, farm), {"SIAGA_TEST_CHAT": "chat-1"}
    load(path, tmp_path, env)
    write(tmp_path, farm, group="Keuangan")
    assert load(path, tmp_path, env).by_name["web"].group == "Keuangan"


def test_a_changed_environment_variable_is_applied(tmp_path, farm):
    path = write(tmp_path, farm)
    load(path, tmp_path, {"SIAGA_TEST_CHAT": "chat-1"})
    config = load(path, tmp_path, {"SIAGA_TEST_CHAT": "chat-2"})
    assert config.sections["oncall"].officers["budi"].notify == ("json://127.0.0.1:9/chat-2",)


def test_a_vanished_environment_variable_is_an_error_again(tmp_path, farm):
    from monitor.errors import ConfigError

    path = write(tmp_path, farm)
    load(path, tmp_path, {"SIAGA_TEST_CHAT": "chat-1"})
    with pytest.raises(ConfigError, match="SIAGA_TEST_CHAT"):
        load(path, tmp_path, {})


@pytest.mark.parametrize("damage", [
    lambda data: data[: len(data) // 2],  # truncated
    lambda data: data[:-10] + b"0123456789",  # payload changed
    lambda data: b"junk",
    lambda data: data.replace(b'"payload"', b'"other"', 1),  # a header without a field
])
def test_a_broken_entry_is_ignored_with_a_log_line(tmp_path, farm, caplog, damage):
    path, env = write(tmp_path, farm), {"SIAGA_TEST_CHAT": "chat-1"}
    load(path, tmp_path, env)
    entry = cache_of(path, tmp_path).entry
    entry.write_bytes(damage(entry.read_bytes()))
    with caplog.at_level(logging.INFO, logger="siaga"):
        config = load(path, tmp_path, env)
    assert config == load_config(path, env)
    assert "event=config_cache_ignored" in caplog.text
    assert "config_cache_used" not in caplog.text
    assert load(path, tmp_path, env) == config  # rewritten: good again


def test_an_unwritable_cache_directory_does_not_stop_the_load(tmp_path, farm, caplog):
    path, env = write(tmp_path, farm), {"SIAGA_TEST_CHAT": "chat-1"}
    (tmp_path / "cache").write_text("a file where the directory should be")
    with caplog.at_level(logging.WARNING, logger="siaga"):
        config = load(path, tmp_path, env)
    assert config.by_name["gw"].kind == "tcp"
    assert "event=config_cache_not_written" in caplog.text


def test_entries_are_private_to_their_owner(tmp_path, farm):
    path = write(tmp_path, farm)
    load(path, tmp_path, {"SIAGA_TEST_CHAT": "chat-1"})
    entry = cache_of(path, tmp_path).entry
    assert entry.stat().st_mode & 0o077 == 0
    assert entry.parent.stat().st_mode & 0o077 == 0
