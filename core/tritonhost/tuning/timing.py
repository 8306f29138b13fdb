"""How one config is timed: the backend's benchmark hook, or the timing a Triton Autotuner was given.

``triton.autotune`` takes four timing options, and Triton 3.6 and 3.9 treat them
alike (``Autotuner.__init__`` and ``_bench`` in ``triton/runtime/autotuner.py``):

- ``do_bench``: called as ``do_bench(kernel_call, quantiles=(0.5, 0.2, 0.8))``;
  what it returns (a time in ms, or the list of those quantiles) is compared with
  ``min()``, so lists rank by median first.
- ``warmup`` and ``rep`` (ms): deprecated. Triton warns (a ``DeprecationWarning``
  when the decorator runs) and times with ``triton.testing.do_bench(warmup=..., rep=...)``
  (25 and 100 for the one not given), which replaces any ``do_bench`` given too.
- ``use_cuda_graph``: deprecated likewise; ``triton.testing.do_bench_cudagraph(rep=rep or 100)``,
  again in place of ``do_bench``.

tritonhost reads what the tuner recorded, so the rules are Triton's: ``warmup``
and ``rep`` go to the backend's ``tritonhost_benchmark`` hook (so they mean the
same on every backend that takes them); ``use_cuda_graph`` runs Triton's own
``do_bench_cudagraph`` on backends whose kernels run on torch's ``cuda`` device
(NVIDIA's and AMD's) and is refused on the others; a custom ``do_bench`` replaces
the hook. Triton has already warned about the deprecated ones; nothing here warns
again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import triton.testing

from tritonhost.errors import AutotuneError, UnsupportedFeatureError
from tritonhost.host.selection import Backend

#: What Triton's Autotuner asks of a ``do_bench``: the median, then the 20th and 80th percentiles.
QUANTILES = (0.5, 0.2, 0.8)
#: ``rep`` when only ``use_cuda_graph`` is given, as Triton's Autotuner has it.
CUDA_GRAPH_REP = 100


#: A measured time as the autotuner ranks it: one value, or the quantiles a do_bench gave.
Measured = tuple[float, ...]


@attrs.frozen
class Timing:
    """The timing options of one ``triton.autotune``, as its tuner recorded them."""

    warmup: int | None = None
    rep: int | None = None
    cuda_graph: bool = False
    #: The user's own ``do_bench``; None: the backend's hook times.
    do_bench: Callable[..., Any] | None = None

    @classmethod
    def of(cls, tuner: Any) -> Timing:
        """Read ``tuner``'s options (``num_warmups``, ``num_reps``, ``use_cuda_graph``, ``_do_bench``)."""
        warmup = getattr(tuner, "num_warmups", None)
        rep = getattr(tuner, "num_reps", None)
        cuda_graph = bool(getattr(tuner, "use_cuda_graph", False))
        # With warmup, rep or use_cuda_graph given, Triton has put its own CUDA-only lambda in
        # _do_bench (the user's do_bench is dropped, as Triton drops it): the options say the same.
        replaced = warmup is not None or rep is not None or cuda_graph
        do_bench = None if replaced else getattr(tuner, "_do_bench", None)
        return cls(warmup=warmup, rep=rep, cuda_graph=cuda_graph, do_bench=do_bench)

    def describe(self) -> str:
        """``do_bench=name``, ``warmup=5 ms, rep=20 ms``...: how configs are timed, for log lines; "" by default."""
        if self.do_bench is not None:
            return f"do_bench={getattr(self.do_bench, '__qualname__', type(self.do_bench).__name__)}"
        parts = [f"{name}={value} ms" for name, value in (("warmup", self.warmup), ("rep", self.rep)) if value is not None]
        if self.cuda_graph:
            parts.append("use_cuda_graph")
        return ", ".join(parts)

    def check(self, backend: Backend, kernel: str) -> None:
        """Refuse, before anything runs, an option ``backend`` cannot honour."""
        if self.cuda_graph and backend.device != "cuda":
            raise UnsupportedFeatureError(
                f"kernel {kernel}() is autotuned with use_cuda_graph=True, which times configs in a CUDA graph; "
                f"backend {backend.name!r} does not run kernels on a CUDA device. Drop use_cuda_graph (Triton "
                "deprecates it), or select the cuda or rocm backend."
            )

    def measure(self, backend: Backend, kernel_call: Callable[[], None]) -> Measured:
        """Time ``kernel_call`` (one launch of one config) the way the tuner was told to."""
        if self.do_bench is not None:
            return _as_measured(self.do_bench(kernel_call, quantiles=QUANTILES), self.do_bench)
        if self.cuda_graph:
            rep = self.rep if self.rep is not None else CUDA_GRAPH_REP
            return _as_measured(triton.testing.do_bench_cudagraph(kernel_call, rep=rep, quantiles=QUANTILES), None)
        if self.warmup is None and self.rep is None:
            return (backend.benchmark(kernel_call),)
        return (backend.benchmark(kernel_call, warmup=self.warmup, rep=self.rep),)


def _as_measured(value: Any, do_bench: Callable[..., Any] | None) -> Measured:
    """A time, or a list of quantiles, as a tuple Triton's ``min()`` would rank the same way."""
    values: Sequence[Any] = value if isinstance(value, (list, tuple)) else (value,)
    try:
        measured = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        measured = ()
    if not measured or any(math.isnan(v) for v in measured):
        who = "do_bench" if do_bench is None else f"the autotuner's do_bench ({getattr(do_bench, '__qualname__', do_bench)})"
        raise AutotuneError(
            f"{who} returned {value!r}, which is not a time: it must return milliseconds, as a number or as a "
            f"list of the quantiles it is asked for ({', '.join(map(str, QUANTILES))}), as triton.testing.do_bench does."
        )
    return measured
