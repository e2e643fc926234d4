"""What `siaga` prints is the target's and the config's text shown as text: never read as
rich markup, never with a secret from the environment in it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor.cli import main


class Odd(BaseHTTPRequestHandler):
    """Answers every path with markup-like text in a header and in its JSON."""

    def do_GET(self) -> None:
        body = b'{"state": "[/x] [bold]"}'
        self.send_response(200)
        self.send_header("X-Note", "[/x]")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def odd_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Odd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def write(tmp_path, check: str) -> str:
    path = tmp_path / "checks.yaml"
    path.write_text(f'siaga: {{state_dir: "{tmp_path}"}}\nchecks:\n  - {check}\n')
    return str(path)


@pytest.mark.parametrize("expect", [
    '{headers: {x-note: "^ok$"}}',
    '{json: [{path: state, equals: up}]}',
])
def test_check_prints_a_target_header_or_json_value_that_looks_like_markup(
        tmp_path, odd_server, capsys, expect):
    path = write(tmp_path, f'{{name: odd, http: {{url: "{odd_server}/health", '
                           f'expect: {expect}}}}}')
    assert main(["-c", path, "check", "odd"]) == 1
    out = capsys.readouterr().out
    assert "[/x]" in out


def test_check_does_not_print_a_secret_from_the_url_path(tmp_path, odd_server, capsys,
                                                         monkeypatch):
    monkeypatch.setenv("HEALTH_KEY", "k3y-in-the-path")
    path = write(tmp_path, f'{{name: keyed, http: {{url: "{odd_server}/${{HEALTH_KEY}}/h"}}}}')
    assert main(["-c", path, "check", "keyed"]) == 0
    out = capsys.readouterr().out
    assert "final_url" in out and "/***/h" in out
    assert "k3y-in-the-path" not in out


def test_status_shows_a_reason_and_a_group_that_look_like_markup(tmp_path):
    from rich.console import Console

    from monitor.cli.status import status_view
    from monitor.config.loader import load_config

    config = load_config(write(tmp_path, '{name: a, tcp: {host: x, port: 1}}'))
    checks = [{"name": "a", "group": "[/g]", "state": "down", "since": None,
               "reason": 'json state is "[/x]", expected "up"', "last": {"duration": 0.1}}]
    console = Console(width=200, record=True)
    console.print(status_view(checks, config, 0.0))
    shown = console.export_text()
    assert "[/g]" in shown and '"[/x]"' in shown
