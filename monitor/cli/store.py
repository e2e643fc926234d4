"""CLI commands about the store itself: `siaga migrate` (apply pending schema migrations)
and `siaga store copy` (move a store from SQLite to PostgreSQL, ids and all)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rich.console import Console

from monitor.config.model import Config
from monitor.config.scalars import expand_env
from monitor.errors import StoreError
from monitor.store import copy as store_copy
from monitor.store.engine import (
    SQLITE,
    describe,
    driver_errors,
    is_postgresql,
    migrate,
    open_connection,
    schema_version,
)

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
SAY: dict[str, Any] = {"markup": False, "highlight": False, "soft_wrap": True}


def _say(config: Config, id_text: str, en_text: str) -> str:
    return id_text if config.settings.language == "id" else en_text


def cmd_migrate(args: argparse.Namespace, config: Config, out: Console, err: Console) -> int:
    """Bring the configured store's schema to this Siaga's version; print from → to."""
    settings = config.settings
    where = describe(settings.store, settings.state_dir)
    conn = open_connection(settings.store, settings.state_dir, migrate=False)
    try:
        before = schema_version(conn)
        after = migrate(conn)
    finally:
        conn.close()
    if before == after:
        out.print(_say(config, f"{where}: skema sudah v{after}, tidak ada migrasi",
                       f"{where}: schema already at v{after}, nothing to migrate"), **SAY)
    else:
        out.print(_say(config, f"{where}: skema v{before} → v{after}",
                       f"{where}: schema v{before} → v{after}"), **SAY)
    return EXIT_OK


class Spec:
    """A store named on the command line: `sqlite` (the config's state_dir), `sqlite:PATH`
    (a state directory or its siaga.db) or a postgresql:// URL (${VAR} from the
    environment)."""

    def __init__(self, text: str, config: Config) -> None:
        self.url, self.dir = SQLITE, Path(config.settings.state_dir)
        if text.startswith("sqlite:"):
            path = Path(text.removeprefix("sqlite:")).expanduser()
            self.dir = path.parent if path.suffix == ".db" else path
            if path.suffix == ".db" and path.name != "siaga.db":
                raise ValueError(f"{text}: expected a state directory or its siaga.db")
            if not (self.dir / "siaga.db").is_file():
                raise ValueError(f"no SQLite store at {self.dir / 'siaga.db'}")
        elif is_postgresql(text):
            self.url, missing = expand_env(text, os.environ)
            if missing:
                names = ", ".join(f"${{{n}}}" for n in missing)
                raise ValueError(f"environment variable {names} is not set")
        elif text != SQLITE:
            raise ValueError(f"{text}: expected sqlite, sqlite:PATH or postgresql://…")

    def describe(self) -> str:
        return describe(self.url, self.dir)

    def open(self) -> Any:
        return open_connection(self.url, self.dir)


def cmd_store(args: argparse.Namespace, config: Config, out: Console, err: Console) -> int:
    try:
        source = Spec(args.source or SQLITE, config)
        target = Spec(args.target or config.settings.store, config)
    except ValueError as exc:
        err.print(f"siaga store copy: {exc}", **SAY)
        return EXIT_USAGE
    if source.describe() == target.describe():
        err.print(_say(config, "siaga store copy: sumber dan tujuan sama",
                       "siaga store copy: the source and the target are the same store"),
                  **SAY)
        return EXIT_USAGE
    out.print(f"{source.describe()} → {target.describe()}", **SAY)
    failures: tuple[type[Exception], ...] = (StoreError, *driver_errors())
    src = source.open()
    try:
        dst = target.open()
        try:
            copied = store_copy.copy(src, dst, force=args.force, progress=lambda t, n: out.print(
                f"  {t}: {n}", **SAY))
        finally:
            dst.close()
    except failures as exc:
        err.print(f"siaga store copy: {exc}", **SAY)
        return EXIT_FAIL
    finally:
        src.close()
    total = sum(copied.values())
    out.print(_say(config, f"tersalin {total} baris dari {len(copied)} tabel; jumlah baris "
                   "cocok, id tetap sama",
                   f"copied {total} rows in {len(copied)} tables; row counts match, ids "
                   "kept"), **SAY)
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    sub.add_parser("migrate", help="apply pending store schema migrations (siaga.store)")
    st = sub.add_parser("store", help="store maintenance: `store copy --from … --to …`")
    actions = st.add_subparsers(dest="action", required=True, metavar="ACTION")
    cp = actions.add_parser("copy", help="copy a whole store (e.g. SQLite → PostgreSQL)")
    cp.add_argument("--from", dest="source", metavar="STORE",
                    help="sqlite (the config's state_dir), sqlite:PATH or postgresql://… "
                         "(default: sqlite)")
    cp.add_argument("--to", dest="target", metavar="STORE",
                    help="the same forms; ${VAR} is read from the environment "
                         "(default: siaga.store)")
    cp.add_argument("--force", action="store_true",
                    help="replace the contents of a target that holds rows")
    for parser in (cp,):
        parser.add_argument("-c", "--config", default=argparse.SUPPRESS,
                            help="config file (default ./checks.yaml)")
