"""The one way Siaga keeps a secret on disk (API token, ack-link key, heartbeat tokens):
made once, private, and the same for everyone who races to make it."""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from monitor.checking.heartbeats import Tokens
from monitor.config.loader import parse_config
from monitor.daemon import load_or_create_api_token
from monitor.paging.acktoken import load_or_create_key
from monitor.secretfile import read_or_create


def test_threads_racing_to_create_a_secret_all_get_the_same_one(tmp_path: Path) -> None:
    path = tmp_path / "state" / "api.token"
    start = threading.Barrier(8)

    def race(_: int) -> bytes:
        start.wait()
        return read_or_create(path, lambda: os.urandom(32))

    with ThreadPoolExecutor(8) as pool:
        got = set(pool.map(race, range(8)))
    assert got == {path.read_bytes()}
    assert [p.name for p in path.parent.iterdir()] == ["api.token"]  # no temporary left


def test_processes_racing_to_create_a_secret_all_get_the_same_one(tmp_path: Path) -> None:
    path = tmp_path / "ack.key"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        got = set(pool.map(functools.partial(read_or_create, make=functools.partial(
            os.urandom, 32)), [path] * 4))
    assert got == {path.read_bytes()}


def test_the_loser_of_a_race_uses_the_winners_secret(tmp_path: Path) -> None:
    path = tmp_path / "token"

    def make() -> bytes:
        path.write_bytes(b"winner")  # another process creates it while we make ours
        return b"loser"

    assert read_or_create(path, make) == b"winner"
    assert path.read_bytes() == b"winner"


def test_a_secret_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        read_or_create(tmp_path / "token", lambda: b"s3cret")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "token").stat().st_mode) == 0o600


def test_an_existing_secret_open_to_others_is_kept_and_warned_about(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "api.token"
    path.write_bytes(b"chosen-by-the-operator\n")
    path.chmod(0o640)
    with caplog.at_level(logging.WARNING, "siaga.secrets"):
        assert load_or_create_api_token(tmp_path) == "chosen-by-the-operator"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # an operator's choice stays
    assert f"event=secret_file_readable_by_others path={path} mode=0640" in caplog.text
    assert "chosen-by-the-operator" not in caplog.text


def test_a_private_secret_is_read_without_a_word(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "siaga.secrets"):
        first = load_or_create_api_token(tmp_path / "state")
        assert load_or_create_api_token(tmp_path / "state") == first
    assert caplog.text == ""


def test_the_api_token_ack_key_and_push_tokens_are_all_made_private(tmp_path: Path) -> None:
    config = parse_config("checks:\n  - {name: nightly, heartbeat: {every: 1d}}\n", "c.yaml")
    load_or_create_api_token(tmp_path)
    load_or_create_key(tmp_path, {})
    Tokens(tmp_path).token(config.checks[0])
    made = [tmp_path / "api.token", tmp_path / "ack.key",
            tmp_path / "heartbeat-tokens" / "nightly"]
    assert [stat.S_IMODE(p.stat().st_mode) for p in made] == [0o600] * 3
