#!/usr/bin/env python3
"""First probe after `siaga run`: the time from spawning `python -m monitor run` to the first
connection a probe makes, for a cold start (no compiled-config cache entry) and then for
`--repeat` warm starts of the same file (its entry exists), then one start after a
one-check edit (the entry of the file before it exists). Prints one JSON line.

The targets are this script's own asyncio listeners (they note the first connection's time
and answer `200 ok`), so the figure is the connection itself, not a later `/metrics` scrape
(`bench/run.py`'s `first_probe_s` polls every 0.1 s). Siaga is pinned to the second core
like in bench/run.py; `foreign_share` is the busy time of that core not spent by Siaga over
the warm starts, ÷ their wall time (above ~0.1 the machine was not quiet). `…config_loaded_s`
is the time to the daemon's `config_loaded` log line (the whole file validated; logged a few
ms later, once logging is set up), `…started_s` to its `started` line (every part running);
a start without a cache entry probes a big file's first checks before both
(monitor.checking.preview).

    python bench/first_probe.py [-n 20000] [--repeat 5] [--bytecode] [--no-pin]

`--bytecode` lets Python cache compiled modules (in the tree's `__pycache__`, which git
ignores) as an installed Siaga has them, and compiles Siaga's before the first start;
without it the environment decides (with PYTHONDONTWRITEBYTECODE set, every start compiles
Siaga's ~130 modules again: ~0.1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import procstat
from run import HOST, ROOT, Pinning, free_port, make_config, stop_process

REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"


class FirstConnection:
    """Listeners on the target ports; `at` is the monotonic time of the first connection."""

    def __init__(self) -> None:
        self.at: float | None = None
        self.seen = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.at is None:
            self.at = time.monotonic()
            self.seen.set()
        writer.write(REPLY)  # without reading the request: only the connection is measured
        writer.close()


async def started(log: Path, offset: int) -> tuple[float, float]:
    """The monotonic times the daemon's `config_loaded` and `started` lines appear in `log`
    after `offset`: the whole file valid (logged a few ms after it is, once logging is set
    up), and every part running."""
    loaded = None
    while True:
        with open(log, "rb") as f:
            f.seek(offset)
            text = f.read()
        if loaded is None and b"event=config_loaded" in text:
            loaded = time.monotonic()
        if b"event=started" in text:
            now = time.monotonic()
            return (now if loaded is None else loaded), now
        await asyncio.sleep(0.005)


async def one_start(cmd: list[str], env: dict[str, str], ports: list[int], log: Path,
                    pin: Pinning) -> tuple[float, float, float, float]:
    """Seconds to the first probe, to the daemon's `started` and `config_loaded` lines,
    and the busy seconds of Siaga's core until the first probe that were not Siaga's."""
    first = FirstConnection()
    servers = [await asyncio.start_server(first.handle, HOST, p, backlog=4096) for p in ports]
    try:
        with open(log, "ab") as out:
            offset = out.tell()
            busy, t_spawn = pin.core_busy(), time.monotonic()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out,
                                    stdin=subprocess.DEVNULL)
            try:
                async with asyncio.timeout(120):
                    await first.seen.wait()
                    foreign = pin.core_busy() - busy - procstat.cpu_seconds(proc.pid)
                    loaded, up = await started(log, offset)
            finally:
                stop_process(proc)
        assert first.at is not None
        return first.at - t_spawn, up - t_spawn, loaded - t_spawn, foreign
    finally:
        for s in servers:
            s.close()


async def amain(n: int, repeat: int, bytecode: bool, pin_cores: bool = True
                ) -> dict[str, object]:
    pin = Pinning.choose(pin_cores)
    pin.apply_to_harness()
    tmp = Path(tempfile.mkdtemp(prefix="siaga-first-"))
    try:
        ports = [free_port() for _ in range(4)]
        config, _ = make_config(n=n, interval=30.0, ports=ports, listen=free_port(),
                                flip=free_port(), dns_port=None, receiver=free_port(),
                                state_dir=tmp / "state", concurrency=500, n_tcp=0, n_dns=0)
        cfg = tmp / "checks.yaml"
        cfg.write_text(yaml.dump(config, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
                                 sort_keys=False))
        env = dict(os.environ, SIAGA_API_TOKEN="bench-token", XDG_CACHE_HOME=str(tmp / "cache"))
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        if bytecode:
            # Compiled before the cold start too: it measures the config, not the compiler.
            # (Not with PYTHONPYCACHEPREFIX: Python then ignores the installed packages'
            # __pycache__ and compiled every dependency on the cold start, ~0.3 s.)
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "monitor")],
                           env=env, check=True)
        cmd = [*pin.prefix(), sys.executable, "-m", "monitor", "run", "-c", str(cfg)]
        cold, cold_up, cold_loaded, _ = await one_start(cmd, env, ports, tmp / "siaga.log",
                                                        pin)
        warm, warm_up, foreign = [], [], 0.0
        for _ in range(repeat):
            took, up, _, other = await one_start(cmd, env, ports, tmp / "siaga.log", pin)
            warm.append(took)
            warm_up.append(up)
            foreign += other
        share = foreign / sum(warm) if pin.sut is not None else None
        # An operator's edit: one check's URL changed, every other line as it was
        cfg.write_text(cfg.read_text().replace("/ok\n", "/ok?edited\n", 1))
        edit, edit_up, edit_loaded, _ = await one_start(cmd, env, ports, tmp / "siaga.log",
                                                        pin)
        return {"checks": len(config["checks"]), "cold_s": round(cold, 3),
                "cold_config_loaded_s": round(cold_loaded, 3), "cold_started_s": round(cold_up, 3),
                "edited_s": round(edit, 3), "edited_config_loaded_s": round(edit_loaded, 3),
                "edited_started_s": round(edit_up, 3),
                "warm_s": [round(w, 3) for w in warm],
                "warm_median_s": round(statistics.median(warm), 3),
                "warm_started_median_s": round(statistics.median(warm_up), 3),
                "bytecode_cached": bytecode or not env.get("PYTHONDONTWRITEBYTECODE"),
                "foreign_share": None if share is None else round(share, 2),
                "load_avg": os.getloadavg()[0], "pinning": pin.describe()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("-n", "--checks", type=int, default=20_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--bytecode", action="store_true", help="cache compiled modules")
    p.add_argument("--no-pin", action="store_true",
                   help="let Siaga (and the child parsing its file) use every core")
    a = p.parse_args()
    print(json.dumps(asyncio.run(amain(a.checks, a.repeat, a.bytecode, not a.no_pin))))
