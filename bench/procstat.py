"""Per-process CPU and memory figures from /proc (Linux only; no psutil)."""

from __future__ import annotations

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    # The command name (field 2) may hold spaces or parentheses: split after the last ')'.
    return data[data.rindex(")") + 2:].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of all threads of `pid` so far (fields 14 and 15)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(pid: int) -> list[int]:
    """Direct children of `pid` (by the parent field of every /proc/N/stat)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if int(_stat_fields(int(entry))[1]) == pid:
                out.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return out


def status_kb(pid: int, key: str) -> int | None:
    """A `kB` field of /proc/PID/status, e.g. VmHWM (peak resident set) or VmRSS."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class CpuMeter:
    """CPU seconds of a fixed set of processes (and, optionally, their children) between
    `start()` and `stop()`; processes that vanish keep their last reading."""

    def __init__(self, pids: list[int], *, with_children: bool = False) -> None:
        self.pids = pids
        self.with_children = with_children
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}

    def _read(self) -> dict[int, float]:
        pids = list(self.pids)
        if self.with_children:
            for pid in self.pids:
                pids += children(pid)
        out = {}
        for pid in pids:
            try:
                out[pid] = cpu_seconds(pid)
            except OSError:
                continue
        return out

    def start(self) -> None:
        self.first = self._read()

    def stop(self) -> float:
        self.last = self._read()
        return sum(v - self.first.get(pid, 0.0) for pid, v in self.last.items())


def core_busy_seconds(core: int) -> float:
    """Busy (non-idle, non-iowait) CPU seconds of one core so far, from /proc/stat."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                v = [int(x) for x in line.split()[1:]]
                return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK  # minus idle and iowait
    return 0.0
