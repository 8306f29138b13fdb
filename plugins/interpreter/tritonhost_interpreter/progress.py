"""Long launches on the interpreter say so: a warning before a large grid, a progress bar during a slow one.

Triton's interpreter runs a grid's programs one after another in Python, about a
millisecond each for a small block. A grid of 2**31 programs would run for
weeks without a word. Before a launch of more than :data:`WARN_PROGRAMS`
programs a :class:`tritonhost.LongLaunchWarning` gives the count and what it will take; a launch still running
after :data:`PROGRESS_AFTER_S` seconds shows a progress bar (tqdm, on stderr).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from tqdm import tqdm

from tritonhost.plugin_api import LongLaunchWarning

#: Grids of more programs than this get a warning before they start, when programs run one by one.
WARN_PROGRAMS = 1 << 16
#: The same when programs run as batches (the default): about as long a wait.
WARN_PROGRAMS_BATCHED = 1 << 22
#: A launch shows its progress once it has run this long.
PROGRESS_AFTER_S = 5.0
#: Roughly what one program of a small block costs here, one by one (bench/interpreter.py).
SECONDS_PER_PROGRAM = 1e-3
#: Roughly what one program of a small block costs in a batch (bench/interpreter.py).
SECONDS_PER_PROGRAM_BATCHED = 2e-5


def warn_if_large(kernel: str, grid: tuple[int, int, int], batched: bool = False) -> None:
    """Warn before a launch whose grid is too large to run soon on the CPU."""
    programs = grid[0] * grid[1] * grid[2]
    if programs > (WARN_PROGRAMS_BATCHED if batched else WARN_PROGRAMS):
        if batched:
            hours = programs * SECONDS_PER_PROGRAM_BATCHED / 3600
            how = f"as batches of programs on the CPU: about {hours:.1f} hours at ~20 µs each for a small block"
        else:
            hours = programs * SECONDS_PER_PROGRAM / 3600
            how = f"one at a time on the CPU: about {hours:.1f} hours at ~1 ms each"
        warnings.warn(
            f"kernel {kernel} launches {programs} programs (grid {grid}) on the interpreter, which runs them {how}. "
            "Shrink the problem for CPU runs, or use a GPU backend.",
            LongLaunchWarning,
            stacklevel=3,
        )


class Progress:
    """Counts a launch's programs (the interpreter sets each program's id) and shows a bar once it is slow."""

    def __init__(self, kernel: str, grid: tuple[int, int, int]) -> None:
        self.kernel = kernel
        self.total = grid[0] * grid[1] * grid[2]
        self.done = 0
        self.start = time.monotonic()
        self.bar: Any = None

    def program_started(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.done % 64 == 0:
            self._show_if_slow()

    def advance(self, programs: int) -> None:
        """A batch of ``programs`` has run."""
        self.done += programs
        if self.bar is not None:
            self.bar.update(programs)
        else:
            self._show_if_slow()

    def restart(self) -> None:
        """The launch starts over, program by program (a batched attempt was abandoned)."""
        self.done = 0
        if self.bar is not None:
            self.bar.reset()

    def _show_if_slow(self) -> None:
        if time.monotonic() - self.start > PROGRESS_AFTER_S:
            self.bar = tqdm(
                total=self.total, initial=self.done, desc=f"{self.kernel} (interpreter)", unit="program", leave=False
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
