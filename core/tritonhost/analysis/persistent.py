"""The persistent analysis cache: a launch analysed once is not analysed again by a later process.

One JSON file, ``analysis.json``, beside the autotune cache, written and read as every
tritonhost cache file is (host/cache_files.py: atomically under a file lock, rebuilt when
broken, never unpickled). An entry holds the written and read tensor parameters of one
exact analysis, under a hash of everything that decides it:

- the kernel's code: Triton's hash of its source and helpers, and the globals they read
  now, each by a value that means the same in another process (a constant's value, a
  helper's hash, a module's name; global_values.py);
- the argument types and constexpr values;
- the target (backend, architecture, warp size);
- the versions of Triton and of the installed backend plugins, and a hash of the source of
  tritonhost's analysis package, so that a changed analysis never reads an old answer.

What has no such value is analysed in every process: a kernel reading a global Python
function or object, or taking a constexpr that is not a number, string, bool, None, a
Triton dtype or a ``@triton.jit`` function. Inexact analyses are not kept: their reasons
are best seen fresh, and they are rare. The TTIR is not kept either, so an analysis found
on disk has none (``tritonhost analyze --ttir`` analyses afresh).

``TRITONHOST_ANALYSIS_CACHE=0`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import triton
from triton.backends.compiler import GPUTarget

from tritonhost.contract import Specialization
from tritonhost.host import discovery
from tritonhost.host.cache_files import CacheFile, FolderCaches, entry_key
from tritonhost.kernel.decorators import DecoratedKernel
from tritonhost.kernel.global_values import NotPortable, portable_globals_key, portable_value

log = logging.getLogger("tritonhost.analysis")

CACHE_ENV = "TRITONHOST_ANALYSIS_CACHE"
FORMAT = "tritonhost-analysis-1"
FILE_NAME = "analysis.json"

_code_hash: str | None = None


def enabled() -> bool:
    """Whether exact analyses persist across processes (the default)."""
    return os.environ.get(CACHE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


class AnalysisCache(CacheFile):
    """The analysis cache file of one folder."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, FILE_NAME, FORMAT, "analysis cache", log)


_files = FolderCaches(AnalysisCache)


def current() -> CacheFile | None:
    """The analysis cache file of the folder configured now, or None when the cache is off."""
    if not enabled():
        return None
    return _files.current()


def key_of(
    decorated: DecoratedKernel, specialization: Specialization, target: GPUTarget, registry: discovery.Registry
) -> str | None:
    """The entry key of one analysis, or None where something it depends on has no portable value."""
    try:
        source = str(decorated.jit.cache_key)
    except Exception:  # noqa: BLE001 - an InterpretedFunction, or a source Triton cannot hash
        return None
    globals_key = portable_globals_key(decorated.jit)
    if globals_key is None:
        return None
    try:
        constexprs = [[index, portable_value(value)] for index, value in specialization.constexprs]
    except NotPortable:
        return None
    plugins = sorted((s.name, s.distribution, s.version) for s in registry.statuses if s.info is not None)
    return entry_key([
        FORMAT, source, globals_key, specialization.signature, constexprs,
        [target.backend, target.arch, target.warp_size], triton.__version__, plugins, _analysis_code_hash(),
    ])


def lookup(cache: CacheFile, key: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """The written and read parameters stored under ``key``, or None (a malformed entry counts as none)."""
    entry = cache.lookup(key)
    if entry is None:
        return None
    written, read = entry.get("written"), entry.get("read")
    if not (isinstance(written, list) and isinstance(read, list) and all(isinstance(n, str) for n in written + read)):
        log.warning("tritonhost: analysis cache entry %s in %s is malformed; analysing afresh", key[:12], cache.path)
        return None
    return frozenset(written), frozenset(read)


def store(cache: CacheFile, key: str, kernel: str, written: frozenset[str], read: frozenset[str]) -> None:
    """Keep one exact analysis; a cache that cannot be written is logged and skipped."""
    try:
        cache.store(key, {"kernel": kernel, "written": sorted(written), "read": sorted(read)})
    except OSError as exc:
        log.warning("tritonhost: could not write the analysis cache %s (%s); analyses are not kept", cache.path, exc)


def _analysis_code_hash() -> str:
    """A hash of the analysis package's source: a changed analysis must not read old answers."""
    global _code_hash
    if _code_hash is None:
        digest = hashlib.sha256()
        for path in sorted(Path(__file__).parent.glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
        _code_hash = digest.hexdigest()
    return _code_hash
