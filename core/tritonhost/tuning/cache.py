"""The persistent tuning cache: a config chosen once is chosen again by every later process.

One JSON file, ``autotune.json``, in platformdirs' user cache folder for
tritonhost (``TRITONHOST_CACHE_DIR`` overrides it). Each entry is keyed by a
hash of what decides the answer: the kernel's source (Triton's hash of it and
everything it calls), the tuning key's values and the arguments' dtypes, the
backend, the device's name and the Triton version. The entry holds the chosen
config's values, which must still match one of the kernel's configs to be used.

Writes take a file lock (filelock), read the file again, add the entry and
replace the file atomically (a temporary file, then ``os.replace``), so
concurrent processes never corrupt it or lose each other's entries. A file that
is not valid JSON of this format is logged and rebuilt, never trusted; nothing
is ever unpickled.

``TRITONHOST_AUTOTUNE_CACHE=0`` turns the cache off for the kernels that do not
ask for it; a kernel that asks Triton to keep its tuning (``cache_results=True``,
or every kernel under ``TRITON_CACHE_AUTOTUNING=1``) keeps it here all the same,
so no one loses the persistence they wrote into their code. With the variable
set to 0, kernels persist exactly where Triton's own Autotuner would persist them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import platformdirs
from filelock import FileLock

log = logging.getLogger("tritonhost.autotune")

CACHE_DIR_ENV = "TRITONHOST_CACHE_DIR"
CACHE_ENV = "TRITONHOST_AUTOTUNE_CACHE"
#: Triton's own switch (``knobs.autotuning.cache``): every kernel asks to persist.
TRITON_CACHE_ENV = "TRITON_CACHE_AUTOTUNING"
FORMAT = "tritonhost-autotune-1"
FILE_NAME = "autotune.json"


def enabled() -> bool:
    """Whether tuning results persist across processes for every kernel (the default)."""
    return os.environ.get(CACHE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def cache_dir() -> Path:
    """Where the cache lives: ``TRITONHOST_CACHE_DIR``, else the user cache folder of tritonhost."""
    override = os.environ.get(CACHE_DIR_ENV, "").strip()
    return Path(override) if override else Path(platformdirs.user_cache_dir("tritonhost"))


def entry_key(parts: list[Any]) -> str:
    """The hash an entry is stored under, from what decides the answer (JSON-serialisable parts)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()


class TuningCache:
    """The cache file of one folder: ``lookup(key)`` and ``store(key, entry)``."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE_NAME
        self._lock_path = folder / (FILE_NAME + ".lock")
        self._file_lock: FileLock | None = None  # made at the first write: a lookup takes no lock
        self._memory: dict[str, dict[str, Any]] | None = None
        self._thread_lock = threading.Lock()

    @property
    def _lock(self) -> FileLock:
        if self._file_lock is None:
            self._file_lock = FileLock(str(self._lock_path))
        return self._file_lock

    def entries(self) -> dict[str, dict[str, Any]]:
        """Every entry in the file now (none if it is missing or unreadable)."""
        return self._read()

    def lookup(self, key: str) -> dict[str, Any] | None:
        with self._thread_lock:
            if self._memory is None:
                self._memory = self._read()
            found = self._memory.get(key)
            if found is None:  # another process may have tuned it since the file was read
                self._memory = self._read()
                found = self._memory.get(key)
            return found

    def store(self, key: str, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, self._lock:
            entries = self._read()  # again, under the lock: keep what other processes wrote
            entries[key] = entry
            self._write(entries)
            self._memory = entries

    def clear(self, kernel: str | None = None) -> int:
        """Remove every entry, or those of one kernel; return how many were removed."""
        if not self.path.exists():
            return 0
        with self._thread_lock, self._lock:
            entries = self._read()
            kept = {k: e for k, e in entries.items() if kernel is not None and e.get("kernel") != kernel}
            self._write(kept)
            self._memory = kept
            return len(entries) - len(kept)

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), dict):
                raise ValueError(f"not a {FORMAT} file")
            return {k: v for k, v in data["entries"].items() if isinstance(v, dict)}
        except ValueError as exc:
            log.warning("tritonhost: the autotune cache %s is unreadable (%s); it will be rebuilt", self.path, exc)
            return {}

    def _write(self, entries: dict[str, dict[str, Any]]) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=FILE_NAME, suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as file:
                json.dump({"format": FORMAT, "entries": entries}, file, indent=1, sort_keys=True)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


_caches: dict[Path, TuningCache] = {}
_caches_lock = threading.Lock()


def current(asked: bool = False) -> TuningCache | None:
    """The cache of the folder configured now; None when it is off and the kernel did not ``ask`` for it."""
    if not (asked or enabled()):
        return None
    folder = cache_dir()
    with _caches_lock:
        cache = _caches.get(folder)
        if cache is None:
            cache = _caches[folder] = TuningCache(folder)
    return cache
