"""The `siaga` command. Only this module prints; it turns errors into messages and exit codes.

Exit codes: 0 ok, 1 runtime failure (or a failed `check`), 2 invalid config or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor import __version__
from monitor.cli import fleet as cli_fleet
from monitor.cli import ops as cli_ops
from monitor.cli import people as cli_people
from monitor.cli import report as cli_report
from monitor.cli import silence as cli_silence
from monitor.cli import status as cli_status
from monitor.cli import store as cli_store
from monitor.config.cache import ConfigCache, cache_dir
from monitor.config.document import stated_language
from monitor.config.isolated import Loading
from monitor.config.loader import load_config, root_schema
from monitor.config.model import Check, Config
from monitor.config.schema import did_you_mean
from monitor.errors import ConfigError, ListenError, SiagaError
from monitor.fleet.slots import parse_shard
from monitor.i18n import config_message
from monitor.telemetry.logs import RedactSecrets, event

if TYPE_CHECKING:
    from monitor.probes.base import ProbeResult

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run on uvloop when installed (probes are loop-bound; see bench/README.md)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def load_or_report(path: str, err: Console, *, lang: str | None = None) -> Config | None:
    """The config, or every problem printed (report_problems) and None."""
    try:
        return load_config(path)
    except ConfigError as exc:
        report_problems(path, exc, err, lang)
        return None


def report_problems(path: str, exc: ConfigError, err: Console, lang: str | None = None) -> None:
    """Print every problem of a config in the file's `siaga.language` (English when the
    file states none)."""
    lang = lang or file_language(path)
    for p in exc.problems:
        where = f"{p.file}:{p.line}:{p.column}: " + (f"{p.path}: " if p.path else "")
        err.print(where + config_message(lang, p.message), highlight=False, markup=False,
                  soft_wrap=True)
    n = len(exc.problems)
    summary = (f"{path}: {n} kesalahan" if lang == "id"
               else f"{path}: {n} error{'s' if n != 1 else ''}")
    err.print(summary, style="bold red", markup=False)


def file_language(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return stated_language(f.read(1_000_000)) or "en"
    except OSError:
        return "en"


def cmd_validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    config = load_or_report(args.config, err, lang=args.lang)
    if config is None:
        return EXIT_USAGE
    lang = args.lang or file_language(args.config)
    kinds = Counter(c.kind for c in config.checks)
    groups = {c.group for c in config.checks}
    detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    if lang == "id":
        line = (f"{args.config}: sah — {len(config.checks)} pemeriksaan "
                f"({detail or 'tidak ada'}) dalam {len(groups)} grup")
    else:
        line = (f"{args.config}: valid — {len(config.checks)} checks ({detail or 'none'}) "
                f"in {len(groups)} group{'s' if len(groups) != 1 else ''}")
    out.print(line, highlight=False, markup=False, soft_wrap=True)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.markdown:
        from monitor.config.reference import markdown

        sys.stdout.write(markdown(root_schema()))
        return EXIT_OK
    schema = root_schema().json_schema()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://siaga.local/checks.schema.json",
        "title": "Siaga checks.yaml",
        **schema,
    }
    sys.stdout.write(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
    return EXIT_OK


def cmd_check(args: argparse.Namespace, out: Console, err: Console) -> int:
    from monitor.checking.engine import Engine
    from monitor.probes import KINDS
    from monitor.probes.base import ProbeContext

    config = load_or_report(args.config, err)
    if config is None:
        return EXIT_USAGE
    check = config.check(args.name)
    if check is None:
        hint = did_you_mean(args.name, [c.name for c in config.checks])
        err.print(f"no check named {args.name!r} in {args.config}{hint}", markup=False)
        return EXIT_USAGE
    if check.kind not in KINDS:
        err.print(f"{check.name} is a {check.kind} check: it is pushed to, not probed",
                  markup=False)
        return EXIT_USAGE
    engine = Engine(config, ProbeContext(body_limit=config.settings.body_limit))
    result = run_async(engine.probe(check))
    out.print(result_table(check, result, RedactSecrets(config.secrets).redact))
    return EXIT_OK if result.ok else EXIT_FAIL


def result_table(check: Check, result: ProbeResult, redact: Callable[[str], str]) -> Table:
    """One probe's result. Everything from the target or the config is shown as plain text
    (a header `[/x]` is not rich markup) with the config's secrets (a key in a URL path)
    replaced by ***."""
    from monitor.probes import KINDS

    def shown(value: object) -> Text:
        return Text(redact(str(value)))

    target = KINDS[check.kind].target(check.spec)
    table = Table(title=shown(f"{check.name} ({check.kind} {target})"), show_header=False)
    table.add_row("result", Text("ok", "green") if result.ok else Text("FAILED", "bold red"))
    table.add_row("reason", shown(result.reason))
    if result.degraded:
        table.add_row("degraded", shown(result.degraded))
    table.add_row("duration", f"{result.duration * 1000:.1f} ms")
    for phase, seconds in result.phases.items():
        table.add_row(f"  {phase}", f"{seconds * 1000:.1f} ms")
    if result.status_code is not None:
        table.add_row("status", str(result.status_code))
    if result.cert_expiry is not None:
        days = (result.cert_expiry - result.started_at) / 86400
        table.add_row("certificate", f"expires in {days:.1f} days")
    for key, value in result.details.items():
        table.add_row(shown(key), shown(value))
    return table


def cmd_run(args: argparse.Namespace, out: Console, err: Console) -> int:
    from monitor.checking.early import EarlyProbes
    from monitor.checking.preview import preview
    from monitor.daemon import Daemon
    from monitor.process import freeze_heap, prepare_process
    from monitor.telemetry import logs

    if args.shard is not None:
        try:
            parse_shard(args.shard)
        except ValueError as exc:
            err.print(f"siaga run: --shard: {exc}", markup=False, highlight=False)
            return EXIT_USAGE
    # What is logged before logging is set up (it needs the config's zone and secrets) is
    # held until then: the cache's lines, the load's.
    holding = contextlib.ExitStack()
    held = holding.enter_context(logs.held())
    # Begun before the event loop: a cache miss forks the child that parses the file.
    loading = Loading(args.config, cache=ConfigCache.for_file(args.config, cache_dir(os.environ)),
                      preview=preview if args.shard is None else None)

    async def main() -> int:
        with holding, starting(loading) as stopped:
            # A big file's first checks are probed while the child validates the rest
            # (monitor.checking.preview); not in a fleet, whose share is known once it joins.
            early = None
            try:
                early = EarlyProbes.of(await loading.preview())
                config = await loading.config()
            except (ConfigError, asyncio.CancelledError) as exc:
                if early is not None:
                    await early.abandon()
                if isinstance(exc, asyncio.CancelledError):
                    if not stopped:
                        raise
                    return EXIT_OK  # SIGINT/SIGTERM before the daemon ran: nothing to undo
                report_problems(args.config, exc, err)
                return EXIT_USAGE
        if stopped:  # a stop asked just as the config came: its cancel is still pending
            return EXIT_OK
        freeze_heap()  # the config: the daemon's build would otherwise rescan it
        prepare_process(args.log_level, config.secrets, config.settings.tz)
        held.replay()
        await Daemon(config, console=out, shard=args.shard, early=early).run()
        return EXIT_OK

    try:
        code: int = run_async(main())
    except asyncio.CancelledError:
        # A stop that reached the daemon as a cancel rather than through its own handlers
        # (seen once, a SIGINT at the hand-over): it has stopped cleanly, say nothing more.
        return EXIT_OK
    except ListenError as exc:
        err.print(f"siaga: {exc}", markup=False, highlight=False, soft_wrap=True)
        return EXIT_USAGE
    finally:
        holding.close()
    return code


@contextlib.contextmanager
def starting(loading: Loading) -> Iterator[list[int]]:
    """While `siaga run` loads its config (and probes early), SIGINT and SIGTERM stop it at
    once: the load's child is killed and the task awaiting it cancelled (the list it yields
    then holds the signal); SIGHUP, a reload, is noted and ignored (the file is being read
    now). The daemon installs its own handlers when it runs."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    stopped: list[int] = []

    def stop(sig: int) -> None:
        stopped.append(sig)
        loading.cancel()
        if task is not None:
            task.cancel()

    def hup() -> None:
        event(logging.getLogger("siaga.cli"), "reload_ignored", reason="starting")

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop, sig)
    loop.add_signal_handler(signal.SIGHUP, hup)
    try:
        yield stopped
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)


def cmd_demo(args: argparse.Namespace, out: Console, err: Console) -> int:
    from monitor.demo import run_demo

    run_async(run_demo(out, duration=args.duration, language=args.lang))
    return EXIT_OK


def with_config(
    fn: Callable[[argparse.Namespace, Config, Console, Console], int],
) -> Callable[[argparse.Namespace, Console, Console], int]:
    def run(args: argparse.Namespace, out: Console, err: Console) -> int:
        config = load_or_report(args.config, err)
        return EXIT_USAGE if config is None else fn(args, config, out, err)

    return run


def with_reach(
    fn: Callable[[argparse.Namespace, Config, Console, Console], int],
) -> Callable[[argparse.Namespace, Console, Console], int]:
    """For commands that only talk to the daemon: a file with typos or unset `${SECRET}`s
    still gives them the daemon's address, token and state dir (monitor.cli.client.reach)."""

    def run(args: argparse.Namespace, out: Console, err: Console) -> int:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            config = degraded_config(args.config, len(exc.problems), err)
        return fn(args, config, out, err)

    return run


def degraded_config(path: str, problems: int, err: Console) -> Config:
    from dataclasses import replace

    from monitor.cli.client import reach

    r = reach(path)
    why = r.degraded or (f"{problems} problem{'s' if problems != 1 else ''}; "
                         "`siaga validate` lists them")
    err.print(f"note: {path} is not valid ({why}). Talking to the daemon with "
              f"{r.describe().partition(': ')[2]}", markup=False, highlight=False, soft_wrap=True)
    return Config(path=path, settings=replace(r.settings, api_token=r.token), checks=())


COMMANDS: dict[str, Callable[[argparse.Namespace, Console, Console], int]] = {
    "oncall": with_config(cli_people.cmd_oncall),
    "maintenance": with_config(cli_silence.cmd_maintenance),
    "silence": with_reach(cli_silence.cmd_silence),
    "silences": with_reach(cli_silence.cmd_silences),
    "unsilence": with_reach(cli_silence.cmd_unsilence),
    "incidents": with_reach(cli_people.cmd_incidents),
    "ack": with_reach(cli_people.cmd_act),
    "report": with_config(cli_report.cmd_report),
    "status": with_reach(cli_status.cmd_status),
    "status-export": with_config(cli_report.cmd_status_export),
    "dashboard-url": with_config(cli_report.cmd_dashboard_url),
    "resolve": with_reach(cli_people.cmd_act),
    "update": with_config(cli_people.cmd_update),
    "reload": with_config(cli_ops.cmd_reload),
    "heartbeat-url": with_reach(cli_ops.cmd_heartbeat_url),
    "migrate": with_config(cli_store.cmd_migrate),
    "store": with_config(cli_store.cmd_store),
    "fleet": with_config(cli_fleet.cmd_fleet),
    "validate": cmd_validate,
    "schema": cmd_schema,
    "check": cmd_check,
    "run": cmd_run,
    "demo": cmd_demo,
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="siaga", description="Siaga: availability monitor and "
                                "on-call pager / pemantau ketersediaan layanan dan piket.")
    p.add_argument("--version", action="version", version=f"siaga {__version__}")
    p.add_argument("-c", "--config", default="checks.yaml", help="config file (checks.yaml)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.add_argument("--shard", metavar="I/N", help="this instance's shard in a fleet "
                     "(overrides siaga.shard)")
    val = sub.add_parser("validate", help="check the config file and report every error")
    val.add_argument("--lang", choices=["id", "en"],
                     help="language of the messages (default: siaga.language, else English)")
    schema = sub.add_parser("schema", help="print a JSON Schema of checks.yaml")
    schema.add_argument("--markdown", action="store_true",
                        help="print the key reference as a Markdown table instead")
    check = sub.add_parser("check", help="probe one check once and show the result")
    check.add_argument("name")
    demo = sub.add_parser("demo", help="run against simulated local services")
    demo.add_argument("--duration", type=float, default=0,
                      help="stop after this many seconds (default: until Ctrl-C)")
    demo.add_argument("--lang", default="en", choices=["id", "en"])
    cli_people.add_parsers(sub)
    cli_silence.add_parsers(sub)
    cli_ops.add_parsers(sub)
    cli_report.add_parsers(sub)
    cli_status.add_parser(sub)
    cli_store.add_parsers(sub)
    cli_fleet.add_parsers(sub)
    for name in sub.choices:
        sub.choices[name].add_argument("-c", "--config", default=argparse.SUPPRESS,
                                       help="config file (default ./checks.yaml)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    try:
        return COMMANDS[args.command](args, out, err)
    except KeyboardInterrupt:
        return EXIT_OK
    except SiagaError as exc:
        err.print(f"siaga: {exc}", markup=False, highlight=False, soft_wrap=True)
        return EXIT_FAIL
