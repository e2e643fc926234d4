"""A big file's preview (monitor.checking.preview): the checks a start probes first, built
exactly as the whole file's load builds them, and none the whole load would refuse."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.checking.preview import PREVIEW_CHECKS, PREVIEW_FROM, preview
from monitor.checking.scheduler import Scheduler, first_offset
from monitor.config.loader import build_config, compose_root, decode_text
from monitor.errors import ConfigError

ROOT = Path(__file__).parent.parent

HEAD = """\
siaga:
  listen: "127.0.0.1:0"
  state_dir: state
defaults:
  interval: 30s
  timeout: 5s
  proxy: none
checks:
"""


def item(i: int) -> str:
    """A mix an agency writes: web pages, APIs with JSON, TCP ports, batch heartbeats,
    dependencies and a few own intervals."""
    name = f"svc-{i:05d}"
    if i % 10 == 3:
        return f"  - name: {name}\n    tcp: {{host: 127.0.0.1, port: {1000 + i % 50}}}\n"
    if i % 10 == 7:
        return f"  - name: {name}\n    heartbeat: {{every: 1h}}\n"
    extra = "    depends_on: [svc-00000]\n" if i % 25 == 1 else ""
    extra += "    interval: 10s\n" if i % 40 == 5 else ""
    expect = ("      expect: {status: 200, json: [{path: status, equals: ok}]}\n"
              if i % 10 == 5 else "      expect: {status: [200, 301]}\n")
    return (f"  - name: {name}\n    title: Layanan {i}\n    group: g{i % 7}\n{extra}"
            f"    http:\n      url: http://127.0.0.1:{2000 + i % 30}/p/{i}\n{expect}")


def big(n: int = PREVIEW_FROM + 500, extra: str = "", head: str = HEAD) -> str:
    return head + "".join(item(i) for i in range(n)) + extra


def both(text: str):
    root = compose_root(decode_text(text.encode(), "checks.yaml"), "checks.yaml")
    early = preview(root, text, "checks.yaml", {})
    try:
        whole = build_config(root, text, "checks.yaml", {})
    except ConfigError as exc:
        whole = exc
    return early, whole


def test_the_preview_holds_the_first_checks_due_each_equal_to_the_whole_files():
    early, whole = both(big())
    assert early is not None and not isinstance(whole, ConfigError)
    # the earliest first probes (by the default interval), heartbeats left out: not probed
    assert sorted(c.name for c in early.checks) == sorted(
        c.name for c in _earliest(whole) if c.kind != "heartbeat")
    for check in early.checks:
        assert check == whole.by_name[check.name]
    assert {c.kind for c in early.checks} == {"http", "tcp"}
    assert any(c.depends_on for c in early.checks)
    assert (early.max_concurrency, early.per_host_concurrency) == (500, 64)


def _earliest(config):
    return sorted(config.checks, key=lambda c: first_offset(c.name, 30.0))[:PREVIEW_CHECKS]


def test_an_item_the_whole_load_refuses_is_not_in_the_preview():
    text = big()
    # three of the first ones due: a bad URL, a duplicated name, an unknown key
    bad_url, dup, unknown = [c.name for c in _earliest(both(text)[1]) if c.kind == "http"][:3]
    i = int(bad_url[4:])
    text = text.replace(f"url: http://127.0.0.1:{2000 + i % 30}/p/{i}\n", "url: ftp://x/\n")
    text += f"  - name: {dup}\n    tcp: {{host: 127.0.0.1, port: 9}}\n"
    text = text.replace(f"  - name: {unknown}\n", f"  - name: {unknown}\n    colour: red\n")
    early, whole = both(text)
    assert isinstance(whole, ConfigError)
    assert {p.path for p in whole.problems} >= {f"checks[{bad_url}].http.url",
                                                f"checks[{unknown}].colour"}
    assert any("duplicate check name" in p.message for p in whole.problems)
    assert early is not None
    names = {c.name for c in early.checks}
    assert not names & {bad_url, dup, unknown}
    assert len(names) > PREVIEW_CHECKS // 2


@pytest.mark.parametrize("why, text", [
    ("a small file validates whole at once", big(PREVIEW_FROM - 1)),
    ("a fleet's share is known once it joins",
     big(head=HEAD.replace("  state_dir: state\n", "  state_dir: state\n  store: "
                           "postgresql://siaga@127.0.0.1:5432/siaga\n"))),
    ("a shard of a fleet", big(head=HEAD.replace("  state_dir: state\n",
                                                 "  state_dir: state\n  shard: 1/2\n"))),
    ("a problem in siaga:", big(head=HEAD.replace('listen: "127.0.0.1:0"', "listen: 9"))),
    ("a problem in defaults:", big(head=HEAD.replace("timeout: 5s", "timeout: soon"))),
    ("anchors and merge keys", big(extra="x-base: &base {interval: 1m}\n")),
])
def test_no_preview_when(why, text):
    assert both(text)[0] is None, why


async def test_a_start_spreads_first_runs_from_its_origin_and_catches_up_what_it_passed():
    loop = asyncio.get_running_loop()
    whole = both(big())[1]
    checks = [c for c in whole.checks if c.kind == "http"]
    scheduler = Scheduler(_never, lambda c: "h")
    try:
        now = loop.time()
        origin = now - 2.0  # probing began two seconds ago
        scheduler.set_checks(checks, initial=True, origin=origin)
        for c in checks:
            offset = first_offset(c.name, c.interval)
            due = scheduler.due(c.name)
            assert due is not None
            if origin + offset >= now:
                assert due == origin + offset  # as if the whole file had been there
            else:  # its time passed before the whole file was valid: within the next 2 s
                assert now <= due <= now + 2.0
    finally:
        await scheduler.stop()


async def _never(check) -> None:
    raise AssertionError("nothing is due in this test")


SCRIPT = """
import asyncio, sys, threading
from monitor.checking.preview import preview
from monitor.config.isolated import Loading
from monitor.config.loader import load_config
from monitor.errors import ConfigError
assert threading.active_count() == 1  # else Loading rightly parses in-process

async def main():
    loading = Loading(sys.argv[1], env={}, preview=preview)
    early = await loading.preview()
    try:
        whole = await loading.config()
    except ConfigError as exc:
        try:
            load_config(sys.argv[1], env={})
        except ConfigError as here:
            assert exc.problems == here.problems
            print(len(early.checks), "problems", len(exc.problems))
    else:
        assert whole == load_config(sys.argv[1], env={})
        assert all(whole.by_name[c.name] == c for c in early.checks)
        print(len(early.checks), "valid")

asyncio.run(main())
"""


def test_the_child_sends_the_preview_then_the_config_or_its_problems(tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(big())
    bad.write_text(big() + "  - name: svc-00001\n    tcp: {host: 127.0.0.1, port: 9}\n")
    said = []
    for path in (good, bad):
        done = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True,
                              text=True, timeout=60, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        said.append(done.stdout.split())
    assert int(said[0][0]) > PREVIEW_CHECKS * 0.8 and said[0][1] == "valid"
    assert int(said[1][0]) > PREVIEW_CHECKS * 0.8 and said[1][1:] == ["problems", "1"]
