"""The compiled-config cache: `siaga run` starts from the Config the last load of the same
file built, instead of parsing and validating it again (20,000 checks: ~1.5-2 s of a start).

An entry is used only when everything the load read is the same, checked before anything is
unpickled: the file's bytes and absolute path, Siaga's own code (a digest of every module of
the package), the Python version, the value (or absence) of every environment variable the
load looked up (`${VAR}`s, proxy variables), and the size and mtime of every other file it
read (the logo). An entry that does not match is a miss; one that is unreadable, truncated or
corrupt is ignored with a log line; either way the file is parsed and validated as without a
cache, and a good result replaces the entry. `siaga validate` and reloads never use it.

Entries live in `$CACHE_DIRECTORY` (systemd's `CacheDirectory=`), else
`$XDG_CACHE_HOME/siaga`, else `~/.cache/siaga`: a 0700 directory of 0600 files, one per config
path, because an entry holds the config as loaded, `${VAR}` secrets included (as the state
directory holds the signing key). No writable directory: no cache.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from monitor import __version__
from monitor.config.model import Config
from monitor.telemetry.logs import event

log = logging.getLogger("siaga.config")
FORMAT = b"siaga-config-cache 1\n"
PACKAGE = Path(__file__).resolve().parent.parent
# What reading an unreadable, truncated or corrupt entry raises
BROKEN = (ValueError, KeyError, TypeError, pickle.UnpicklingError, EOFError, AttributeError,
          ImportError, IndexError)


class EnvReads(Mapping[str, str]):
    """The environment, noting every variable a load looks up (`in`, `[]`, `get`)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.read: set[str] = set()
        self.all = False  # someone iterated over it: every variable counts

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._env[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return key in self._env

    def __iter__(self) -> Iterator[str]:
        self.all = True
        return iter(self._env)

    def __len__(self) -> int:
        self.all = True
        return len(self._env)

    def names(self) -> list[str]:
        return sorted(self._env if self.all else self.read)


def cache_dir(env: Mapping[str, str]) -> Path:
    if env.get("CACHE_DIRECTORY"):  # systemd: CacheDirectory=siaga
        return Path(env["CACHE_DIRECTORY"].split(":")[0])
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "siaga"


def code_digest() -> str:
    """Siaga's code as it is on disk: a changed module may build a different Config."""
    h = hashlib.sha256(f"{__version__} {sys.version}".encode())
    for path in sorted(PACKAGE.rglob("*.py")):
        h.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _env_digest(names: list[str], env: Mapping[str, str]) -> str:
    pairs = [(n, env.get(n)) for n in names]
    return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()


def _file_stamp(path: str) -> list[object]:
    try:
        st = os.stat(path)
    except OSError:
        return [path, None, None]
    return [path, st.st_size, st.st_mtime_ns]


class ConfigCache:
    """One config file's entry in `directory`."""

    def __init__(self, path: str, text: bytes, directory: Path) -> None:
        self.text = text  # what a miss parses: the bytes the key was made of
        self.path = str(Path(path).resolve())
        self.entry = directory / (hashlib.sha256(self.path.encode()).hexdigest()[:32] + ".pickle")
        self.code = code_digest()
        key = hashlib.sha256(text)
        key.update(b"\0" + self.path.encode() + b"\0" + self.code.encode())
        self.key = key.hexdigest()

    @classmethod
    def for_file(cls, path: str, directory: Path) -> ConfigCache | None:
        """The entry of the file at `path` (read now); None when it cannot be read (the
        load reports that)."""
        try:
            return cls(path, Path(path).read_bytes(), directory)
        except OSError:
            return None

    def load(self, env: Mapping[str, str]) -> Config | None:
        """The cached Config if it was built from exactly this input, else None."""
        try:
            data = self.entry.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            event(log, "config_cache_ignored", logging.WARNING, entry=str(self.entry),
                  reason=exc.strerror or type(exc).__name__)
            return None
        try:
            config = self._parse(data, env)
        except BROKEN as exc:
            event(log, "config_cache_ignored", logging.WARNING, entry=str(self.entry),
                  reason=str(exc) or type(exc).__name__)
            return None
        if config is not None:
            event(log, "config_cache_used", entry=str(self.entry))
        return config

    def previous(self) -> Config | None:
        """The entry's Config when this very code built it from an earlier version of the
        file (an edit): the load of the new version takes from it every check whose lines
        are unchanged, as a reload takes them from the running config (monitor.config.reuse
        says when that is sound; an entry's other inputs are not compared, reuse has its
        own). None when there is no such entry."""
        try:
            data = self.entry.read_bytes()
            return self._parse(data, {}, edited=True)
        except (OSError, *BROKEN):
            return None  # a broken entry: `load` reports it

    def _parse(self, data: bytes, env: Mapping[str, str], *,
               edited: bool = False) -> Config | None:
        if not data.startswith(FORMAT):
            raise ValueError("not a config cache entry")
        header, _, payload = data[len(FORMAT):].partition(b"\n")
        meta = json.loads(header)
        if edited:
            if meta.get("code") != self.code:
                return None  # built by other code: its checks may differ from ours
        elif meta["key"] != self.key:
            return None  # another file, edit or code: a plain miss
        if hashlib.sha256(payload).hexdigest() != meta["payload"]:
            raise ValueError("payload does not match its digest (truncated or corrupt)")
        if not edited and _env_digest(meta["env"], env) != meta["env_digest"]:
            return None
        if not edited and any(_file_stamp(str(stamp[0])) != stamp for stamp in meta["files"]):
            return None
        enabled = gc.isenabled()
        gc.disable()  # ~100,000 objects and no cycles: the collector would only rescan them
        try:
            config = pickle.loads(payload)
        finally:
            if enabled:
                gc.enable()
        if not isinstance(config, Config):
            raise TypeError(f"cached object is a {type(config).__name__}, not a Config")
        return config

    def store(self, payload: bytes, config: Config, names: list[str],
              env: Mapping[str, str]) -> None:
        """Write the entry for `config` (pickled as `payload`), which read the environment
        variables `names`; never fails the load."""
        files = [_file_stamp(config.settings.logo)] if config.settings.logo else []
        meta = {"key": self.key, "code": self.code,
                "payload": hashlib.sha256(payload).hexdigest(),
                "env": names, "env_digest": _env_digest(names, env), "files": files}
        tmp = None
        try:
            self.entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.entry.parent, prefix=".tmp-")  # mode 0600
            with os.fdopen(fd, "wb") as out:
                out.write(FORMAT + json.dumps(meta).encode() + b"\n" + payload)
            os.replace(tmp, self.entry)
        except OSError as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            event(log, "config_cache_not_written", logging.WARNING, entry=str(self.entry),
                  reason=exc.strerror or type(exc).__name__)
