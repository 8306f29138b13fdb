"""What the autotuner tells the person waiting: a progress bar at a terminal, one log line per decision.

Timing configs can take a while (a GPU compiles each config first; the interpreter
runs each on the CPU). At an interactive terminal (stderr is a TTY) a tqdm bar
counts the configs as they are timed and goes away when they are done. Anywhere
else (CI logs, files, captured output) nothing is drawn. Either way each decision
is one INFO line on the logger ``tritonhost.autotune``: which config, and why
(timed, from the persistent cache, rank 0's choice, the first the front end
accepts, the only one left). ``TRITON_PRINT_AUTOTUNING=1`` also prints what
Triton prints, worded as Triton words it.

Configs are written by :func:`describe_config` everywhere (``BLOCK=64, num_warps=4``),
never as an object's repr.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import IO, Any, Self

import triton
from tqdm import tqdm
from triton import knobs

log = logging.getLogger("tritonhost.autotune")

#: A bar is drawn when at least this many configs are to be timed: fewer finish before it reads.
PROGRESS_MIN_CONFIGS = 2


def describe_config(config: triton.Config) -> str:
    """``BLOCK=64, num_warps=4, ...``: a config as a reader wants it in a message."""
    return ", ".join(f"{name}={value}" for name, value in config.all_kwargs().items() if value is not None)


def _is_terminal(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # a replaced stderr without isatty, or a closed one
        return False


class Progress:
    """Configs timed so far, as a bar on stderr when it is a terminal; ``with Progress(...) as p: p.step(c)``."""

    def __init__(self, kernel: str, backend: str, total: int) -> None:
        self.kernel = kernel
        stream = sys.stderr
        self.bar: Any = None
        if total >= PROGRESS_MIN_CONFIGS and _is_terminal(stream):
            self.bar = tqdm(
                total=total, desc=f"autotuning {kernel} on {backend}", unit="config", leave=False, file=stream
            )

    def timing(self, config: triton.Config) -> None:
        """A config is about to be timed."""
        if knobs.autotuning.print:
            print(f"Autotuning kernel {self.kernel} with config {describe_config(config)}")
        if self.bar is not None:
            self.bar.set_postfix_str(describe_config(config), refresh=False)

    def failed(self, config: triton.Config, reason: str) -> None:
        """A config could not run (it is left out, as Triton leaves it out)."""
        if knobs.autotuning.print:
            print(f"Autotuning failed with {reason}")
        log.debug("autotuning %s: config %s cannot run: %s", self.kernel, describe_config(config), reason)

    def step(self) -> None:
        """A config is done."""
        if self.bar is not None:
            self.bar.update(1)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


# --- one line per decision ------------------------------------------------------------------------


def timed(
    kernel: str,
    backend: str,
    best: triton.Config,
    timings: Mapping[triton.Config, tuple[float, ...]],
    refused: int,
    how: str,
) -> None:
    """The fastest of the configs timed was chosen."""
    others = "; ".join(f"{describe_config(c)}: {t[0]:.4f} ms" for c, t in timings.items())
    failed = f"; {refused} could not run" if refused else ""
    timed_with = f", timed with {how}" if how else ""
    log.info(
        "autotuning %s on %s: chose %s (%.4f ms), the fastest of %d configs timed%s%s [%s]",
        kernel, backend, describe_config(best), timings[best][0], len(timings), timed_with, failed, others,
    )


def cached(kernel: str, backend: str, config: triton.Config, path: object) -> None:
    log.info("autotuning %s on %s: %s, from the persistent cache %s (nothing timed)", kernel, backend,
             describe_config(config), path)


def agreed(kernel: str, backend: str, config: triton.Config) -> None:
    log.info("autotuning %s on %s: %s, the choice of rank 0 of the process group (nothing timed)", kernel, backend,
             describe_config(config))


def untimed(kernel: str, backend: str, config: triton.Config, refused: int) -> None:
    skipped = f", after {refused} it refuses" if refused else ""
    log.info("autotuning %s on %s: %s, the first config the front end accepts%s (this backend times nothing)",
             kernel, backend, describe_config(config), skipped)


def only(kernel: str, backend: str, config: triton.Config, of: int) -> None:
    log.info("autotuning %s on %s: %s, the one config of %d left after pruning (nothing timed)", kernel, backend,
             describe_config(config), of)


def triton_summary(kernel: str, key: tuple[Any, ...], seconds: float, config: triton.Config) -> None:
    """``TRITON_PRINT_AUTOTUNING=1``: the summary Triton prints after tuning."""
    if knobs.autotuning.print:
        print(
            f"Triton autotuning for function {kernel},\nwith key as {key},\nfinished after {seconds:.2f}s,\n"
            f"best config selected: {describe_config(config)};"
        )
