"""A real PostgreSQL (Debian's postgresql-15) for the test session, as the unprivileged
`postgres` user, in a temporary directory, listening on 127.0.0.1 only (a free port) with
password authentication. Missing binaries fail the tests that need it: never a skip.

`Postgres.database()` makes a fresh, empty database per test (the store migrates it).
"""

from __future__ import annotations

import glob
import itertools
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

PASSWORD_ENV = "PG_PASSWORD"


def binaries() -> Path | None:
    """The directory holding initdb and pg_ctl (on PATH, else Debian's versioned one)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Postgres:
    def __init__(self) -> None:
        self.bin = binaries()
        if self.bin is None:
            raise RuntimeError(
                "PostgreSQL binaries (initdb, pg_ctl) not found on PATH or in "
                "/usr/lib/postgresql/*/bin: install Debian's postgresql-15 "
                "(apt-get install postgresql-15; .ci/run does it)")
        self.password = "pw-" + secrets.token_hex(12)
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="siaga-pg-"))
        self.data = self.dir / "data"
        self._names = itertools.count(1)

    def _as_postgres(self, *argv: str) -> None:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if os.geteuid() == 0:  # initdb refuses root: run as the unprivileged user
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                              cwd=self.dir)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed: {done.stdout}{done.stderr}")

    def start(self) -> Postgres:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        pwfile = self.dir / "pw"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        self._as_postgres("initdb", "-D", str(self.data), "-U", "postgres", "--pwfile",
                          str(pwfile), "--auth-host=scram-sha-256", "--auth-local=trust",
                          "--locale=C.UTF-8", "--encoding=UTF8")
        pwfile.unlink()
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c shared_buffers=32MB -c max_connections=200")
        self._as_postgres("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"),
                          "-o", options, "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:
            self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w",
                              "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        """A URL with the password in it (what the store gets after ${VAR})."""
        return (f"postgresql://postgres:{password or self.password}@127.0.0.1:{self.port}/"
                f"{database}")

    def config_url(self, database: str) -> str:
        """The URL as checks.yaml has it: the password from ${PG_PASSWORD}."""
        return f"postgresql://postgres:${{{PASSWORD_ENV}}}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A fresh, empty database's name."""
        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return name

    def query(self, database: str, sql: str) -> list[tuple[object, ...]]:
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []
