"""Process-wide settings are made in one visible place (monitor.process, called by `siaga
run`, the daemon and the reloader), never as a side effect of importing a module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import gc, json, logging, pkgutil, importlib, signal, sys, warnings
import monitor, monitor.i18n

def settings():
    return {
        "switch_interval": sys.getswitchinterval(),
        "gc_enabled": gc.isenabled(),
        "gc_frozen": gc.get_freeze_count(),
        "gc_threshold": gc.get_threshold(),
        "recursion_limit": sys.getrecursionlimit(),
        "root_handlers": len(logging.getLogger().handlers),
        "siaga_handlers": len(logging.getLogger("siaga").handlers),
        "root_level": logging.getLogger().level,
        "sigterm": str(signal.getsignal(signal.SIGTERM)),
        "sighup": str(signal.getsignal(signal.SIGHUP)),
        "texts": {lang: sorted(table.items()) for lang, table in monitor.i18n._TEXT.items()},
    }

before = settings()
names = [m.name for m in pkgutil.walk_packages(monitor.__path__, "monitor.")
         if m.name != "monitor.__main__"]  # that one runs the command
for name in names:
    importlib.import_module(name)
print(json.dumps({"before": before, "after": settings(), "imported": len(names)}))
"""


def run_probe(extra: str = "") -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", PROBE + extra], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_every_module_changes_no_process_wide_setting():
    seen = run_probe()
    assert seen["imported"] > 100
    assert seen["after"] == seen["before"]


def test_the_probe_sees_a_module_that_changes_a_setting_at_import():
    seen = run_probe("print(json.dumps({'before': before, 'after': (sys.setswitchinterval("
                     "0.001), settings())[1], 'imported': len(names)}))")
    assert seen["after"]["switch_interval"] != seen["before"]["switch_interval"]


async def test_a_lone_daemon_does_not_poll_for_forwarded_actions(tmp_path):
    """Only a fleet's members forward actions; alone, the poll was two hand-offs to the
    store's thread a second for nothing (part of the daemon's idle CPU)."""
    from tests.daemons import start

    daemon = await start(tmp_path, f"""
siaga: {{listen: "127.0.0.1:0", state_dir: "{tmp_path / 'state'}"}}
checks: [{{name: a, tcp: {{host: 127.0.0.1, port: 9}}}}]
""")
    try:
        names = {task.get_name() for task in daemon._tasks}
        assert "pager" in names and "forwarded-actions" not in names
    finally:
        await daemon.stop()
