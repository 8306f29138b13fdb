"""Backend plugins published as objects, for tests/host/test_plugin_objects.py's entry points."""

from __future__ import annotations

from typing import Any

import torch

from tritonhost.plugin_api import BackendInfo, BackendPlugin, Grid3

LAUNCHES: list[tuple[str, Grid3]] = []
#: One entry per benchmark the host asked of the recording backend.
TIMED: list[str] = []


class RecordingLauncher:
    """Runs nothing: records the kernel and grid, and fills the ``out`` tensor with 7."""

    def __init__(self, kernel: Any) -> None:
        self.name = kernel.fn.__name__

    def __call__(self, grid: Grid3, params: dict[str, Any], options: dict[str, Any]) -> None:
        LAUNCHES.append((self.name, grid))
        params["out_ptr"].fill_(7)


class RecordingBackend(BackendPlugin):
    """A backend object with only the hooks it needs: a description and a launcher."""

    name = "recording"

    def describe(self) -> BackendInfo:
        return BackendInfo(name=self.name, device_types=("cpu",), usable=True)

    def make_launcher(self, kernel: Any) -> RecordingLauncher:
        return RecordingLauncher(kernel)

    def benchmark(self, fn: Any) -> float:
        fn()
        TIMED.append(self.name)
        return float(len(TIMED))  # later configs time slower: the first one wins


backend = RecordingBackend()
not_a_plugin = torch.float32


class Impostor(RecordingBackend):
    """A third-party plugin that claims the bundled interpreter's name."""

    name = "interpreter"

    def describe(self) -> BackendInfo:
        return BackendInfo(name=self.name, device_types=("cpu",), usable=True)


impostor = Impostor()


class MissingLibraryBackend(RecordingBackend):
    """A backend whose launcher needs a shared library that is not installed."""

    name = "missinglib"

    def make_launcher(self, kernel: Any) -> RecordingLauncher:
        raise OSError("libexample_driver.so: cannot open shared object file: No such file or directory")


missing_library = MissingLibraryBackend()


class UsableCuda(RecordingBackend):
    """Stands for the cuda backend on a machine with a GPU (the bundled one disabled)."""

    name = "cuda"


usable_cuda = UsableCuda()
