"""The persistent tuning cache: a config chosen once is chosen again by every later process.

One JSON file, ``autotune.json``, in platformdirs' user cache folder for
tritonhost (``TRITONHOST_CACHE_DIR`` overrides it). Each entry is keyed by a
hash of what decides the answer: the kernel's source (Triton's hash of it and
everything it calls), the tuning key's values and the arguments' dtypes, the
backend, the device's name and the Triton version. The entry holds the chosen
config's values, which must still match one of the kernel's configs to be used.

The file is written and read as every tritonhost cache file is (host/cache_files.py):
atomically under a file lock, rebuilt when broken, never unpickled.

``TRITONHOST_AUTOTUNE_CACHE=0`` turns the cache off for the kernels that do not
ask for it; a kernel that asks Triton to keep its tuning (``cache_results=True``,
or every kernel under ``TRITON_CACHE_AUTOTUNING=1``) keeps it here all the same,
so no one loses the persistence they wrote into their code. With the variable
set to 0, kernels persist exactly where Triton's own Autotuner would persist them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from tritonhost.host.cache_files import CACHE_DIR_ENV, CacheFile, FolderCaches, cache_dir, entry_key

log = logging.getLogger("tritonhost.autotune")

__all__ = ["CACHE_DIR_ENV", "CACHE_ENV", "TRITON_CACHE_ENV", "TuningCache", "cache_dir", "current", "enabled", "entry_key"]

CACHE_ENV = "TRITONHOST_AUTOTUNE_CACHE"
#: Triton's own switch (``knobs.autotuning.cache``): every kernel asks to persist.
TRITON_CACHE_ENV = "TRITON_CACHE_AUTOTUNING"
FORMAT = "tritonhost-autotune-1"
FILE_NAME = "autotune.json"


def enabled() -> bool:
    """Whether tuning results persist across processes for every kernel (the default)."""
    return os.environ.get(CACHE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


class TuningCache(CacheFile):
    """The tuning cache file of one folder."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, FILE_NAME, FORMAT, "autotune cache", log)


_caches = FolderCaches(TuningCache)


def current(asked: bool = False) -> TuningCache | None:
    """The cache of the folder configured now; None when it is off and the kernel did not ``ask`` for it."""
    if not (asked or enabled()):
        return None
    return _caches.current()
