"""The house rules of ARCHITECTURE.md, read from the source: pure parts import no I/O, and
only the wiring imports the daemon."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MONITOR = Path(__file__).resolve().parent.parent / "monitor"
PURE = ["checking/state.py", "incidents/model.py", "incidents/reconcile.py",
        "paging/oncall/roster.py", "paging/oncall/escalation.py", "paging/plans.py",
        "paging/digests.py", "paging/context.py"]
IO = ("asyncio", "aiohttp", "sqlite3", "socket", "ssl", "apprise", "subprocess", "threading",
      "urllib", "http", "smtplib", "monitor.store", "monitor.web", "monitor.delivery",
      "monitor.daemon", "monitor.probes", "monitor.cli")
MAY_IMPORT_DAEMON = {"daemon.py", "__main__.py", "demo.py", "cli/__init__.py"}


def imports(path: Path) -> set[str]:
    """Every module `path` imports, type-checking-only imports included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def imports_any(names: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize("module", PURE)
def test_pure_parts_import_no_io(module):
    assert imports_any(imports(MONITOR / module), IO) == []


def test_only_the_wiring_imports_the_daemon():
    offenders = [str(p.relative_to(MONITOR)) for p in MONITOR.rglob("*.py")
                 if str(p.relative_to(MONITOR)) not in MAY_IMPORT_DAEMON
                 and imports_any(imports(p), ("monitor.daemon",))]
    assert offenders == []


def test_the_rules_see_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("if TYPE_CHECKING:\n    from monitor.daemon import Daemon\nimport asyncio\n")
    assert imports_any(imports(bad), IO) == ["asyncio", "monitor.daemon", "monitor.daemon.Daemon"]
