"""Cache files: one JSON file per purpose in tritonhost's cache folder, safe to share between processes.

The folder is platformdirs' user cache folder for tritonhost, or ``TRITONHOST_CACHE_DIR``.
Each file maps entry keys (hashes of what decides the answer, :func:`entry_key`) to JSON
objects. Writes take a file lock (filelock), read the file again, add the entry and
replace the file atomically (a temporary file, then ``os.replace``), so concurrent
processes never corrupt it or lose each other's entries. A file that is not valid JSON
of its format is logged and rebuilt, never trusted; nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

import platformdirs
from filelock import FileLock

CACHE_DIR_ENV = "TRITONHOST_CACHE_DIR"


def cache_dir() -> Path:
    """Where the cache files live: ``TRITONHOST_CACHE_DIR``, else the user cache folder of tritonhost."""
    override = os.environ.get(CACHE_DIR_ENV, "").strip()
    return Path(override) if override else Path(platformdirs.user_cache_dir("tritonhost"))


def entry_key(parts: list[Any]) -> str:
    """The hash an entry is stored under, from what decides the answer (JSON-serialisable parts)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()


class CacheFile:
    """One cache file: ``lookup(key)``, ``store(key, entry)``, ``entries()`` and ``clear()``.

    ``file_name`` is the file's name in ``folder``; ``format`` the tag a file must carry
    to be read; ``what`` and ``log`` say what it is in the warning a broken file gets.
    """

    def __init__(self, folder: Path, file_name: str, format: str, what: str, log: logging.Logger) -> None:
        self.path = folder / file_name
        self.format = format
        self._what = what
        self._log = log
        self._lock_path = folder / (file_name + ".lock")
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
            if found is None:  # another process may have written it since the file was read
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
            if not isinstance(data, dict) or data.get("format") != self.format or not isinstance(data.get("entries"), dict):
                raise ValueError(f"not a {self.format} file")
            return {k: v for k, v in data["entries"].items() if isinstance(v, dict)}
        except ValueError as exc:
            self._log.warning("tritonhost: the %s %s is unreadable (%s); it will be rebuilt", self._what, self.path, exc)
            return {}

    def _write(self, entries: dict[str, dict[str, Any]]) -> None:
        name = self.path.name
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=name, suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as file:
                json.dump({"format": self.format, "entries": entries}, file, indent=1, sort_keys=True)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


File = TypeVar("File", bound=CacheFile)


class FolderCaches(Generic[File]):
    """One cache file object per folder, made on first use: ``TRITONHOST_CACHE_DIR`` may change."""

    def __init__(self, make: Callable[[Path], File]) -> None:
        self._make = make
        self._files: dict[Path, File] = {}
        self._lock = threading.Lock()

    def current(self) -> File:
        """The cache file of the folder configured now."""
        folder = cache_dir()
        with self._lock:
            found = self._files.get(folder)
            if found is None:
                found = self._files[folder] = self._make(folder)
        return found

    def clear(self) -> None:
        """Forget the cache file objects, so that each file is read again (as in a new process)."""
        with self._lock:
            self._files.clear()
