"""The daemon's first config load in a child process gives exactly what an in-process load
gives, errors included. Run in a fresh interpreter: with other threads running (the test
farm's), the loader rightly refuses to fork and loads in-process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent

SCRIPT = """
import os, sys, threading
from monitor.config.isolated import load_config_isolated
from monitor.config.loader import load_config
from monitor.errors import ConfigError
assert threading.active_count() == 1
forks = []
real_fork = os.fork
os.fork = lambda: forks.append(1) or real_fork()
real_waitpid = os.waitpid
def slow_waitpid(*args):  # a child slow to exit, as one that parsed 20,000 checks is
    import time
    time.sleep(0.5)
    return real_waitpid(*args)
os.waitpid = slow_waitpid
good, bad = sys.argv[1], sys.argv[2]
assert load_config_isolated(good, env={}) == load_config(good, env={})
assert threading.active_count() == 1  # the child reaped: the next load may fork too
try:
    load_config_isolated(bad, env={})
except ConfigError as child:
    try:
        load_config(bad, env={})
    except ConfigError as here:
        assert child.problems == here.problems, (child.problems, here.problems)
print("same", len(forks))
"""


def test_a_config_loaded_in_a_child_equals_one_loaded_in_process_errors_included():
    bad = ROOT / "tests" / "configs" / "broken" / "many_errors.yaml"
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "checks.yaml"), str(bad)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "same 2"  # both loads really went through a child
