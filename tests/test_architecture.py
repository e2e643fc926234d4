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


# -- the web layer's door: handlers read only the keys of monitor/web/services.py -------------
WEB_KEYS = {"CONFIG", "CLOCK", "STORE", "ENGINE", "OPEN_INCIDENTS", "ACTIONS", "SIGNER",
            "SUPPRESSED", "HEARTBEATS", "PUSH_LIMIT", "PUSH_REFUSED", "SCRAPE", "HEALTH",
            "STATUS_PAGES", "UPTIME", "REFRESH_SILENCES", "RELOADING", "API_TOKEN",
            "INSTANCE_ID", "ALERTS_IN", "ALERTS_COUNT"}
GOD_OBJECTS = {"DAEMON", "Daemon", "Services", "daemon"}


def web_reaches(source: str) -> list[str]:
    """What a web module takes from the app other than a declared service key, and every
    mention of the daemon or a whole-daemon protocol."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Subscript) and _is_app(node.value):
            key = node.slice
            if not (isinstance(key, ast.Name) and key.id in WEB_KEYS):
                found.append(ast.unparse(node))
        elif isinstance(node, ast.Name) and node.id in GOD_OBJECTS:
            found.append(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in GOD_OBJECTS:
            found.append(ast.unparse(node))
        elif isinstance(node, ast.alias) and node.name.split(".")[-1] in GOD_OBJECTS | {
                "monitor.daemon"}:
            found.append(node.name)
        elif isinstance(node, ast.ImportFrom) and node.module == "monitor.daemon":
            found.append(node.module)
    return found


def _is_app(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "app") or (
        isinstance(node, ast.Attribute) and node.attr == "app")


def test_the_declared_web_keys_are_the_ones_services_defines():
    from monitor.web import services

    assert {name for name in WEB_KEYS if getattr(services, name) in services.KEYS} == WEB_KEYS
    assert len(services.KEYS) == len(WEB_KEYS)


@pytest.mark.parametrize("module", sorted(str(p.relative_to(MONITOR))
                                          for p in (MONITOR / "web").rglob("*.py")))
def test_web_modules_reach_only_the_services_given_to_them(module):
    assert web_reaches((MONITOR / module).read_text()) == []


def test_the_web_rule_sees_an_offender():
    bad = ("from monitor.web.app import DAEMON\n"
           "async def h(request):\n"
           "    d = request.app[DAEMON]\n"
           "    request.app['pager'].incidents\n"
           "    return request.app[STORE]\n")
    assert web_reaches(bad) == ["DAEMON", "request.app[DAEMON]", "DAEMON",
                                "request.app['pager']"]


def test_the_daemon_gives_the_web_every_service_it_declares(tmp_path):
    from prometheus_client import CollectorRegistry

    from monitor.config.loader import parse_config
    from monitor.daemon import Daemon
    from monitor.web import services
    from monitor.web.app import build_app

    text = (f'siaga: {{listen: "127.0.0.1:0", state_dir: "{tmp_path}"}}\n'
            "checks:\n  - {name: a, tcp: {host: 127.0.0.1, port: 9}}\n")
    daemon = Daemon(parse_config(text, "checks.yaml"), registry=CollectorRegistry(),
                    serve=False)
    try:
        assert services.missing(build_app(daemon.provide_web)) == []
    finally:
        daemon.store.close()


def test_an_app_missing_a_service_does_not_start():
    from aiohttp import web

    from monitor.web import services
    from monitor.web.app import build_app

    def provide(app: web.Application) -> None:
        app[services.INSTANCE_ID] = "x"

    with pytest.raises(RuntimeError, match="not provided"):
        build_app(provide)
