"""``tritonhost.wrap``: Triton's launch syntax, run on the selected backend.

``wrap(kernel)[grid](*args, **kwargs)`` binds the arguments, resolves the
kernel's ``@triton.heuristics`` and ``@triton.autotune`` layers, evaluates the
grid and calls the backend's launcher. The launcher is made once per kernel and
backend; a launch costs a dictionary lookup to find it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import torch

from tritonhost.analysis import front_end_error
from tritonhost.contract import Launcher
from tritonhost.errors import KernelArgumentError, TritonhostError
from tritonhost.host import discovery
from tritonhost.host.selection import Backend, select
from tritonhost.kernel import grid as grids
from tritonhost.kernel.binding import Binder
from tritonhost.kernel.decorators import AutotuneLayer, DecoratedKernel, HeuristicsLayer, read_decorators
from tritonhost.kernel.prepared_calls import PreparedCalls
from tritonhost.launch.diagnosis import diagnose
from tritonhost.tracing.capture import dispatch_stack_depth, functorch_interpreter, trace_launch
from tritonhost.tracing.side_table import side_table
from tritonhost.tuning.autotuner import ConfigChooser

is_compiling = torch.compiler.is_compiling
is_dynamo_compiling = torch.compiler.is_dynamo_compiling

#: 1-D grids whose Launch a wrapped kernel keeps (``wrap(k)[(n,)]`` on every call makes one);
#: a program launching on ever new sizes clears the table when it is full.
_LAUNCHES_KEPT = 256

#: What ``wrapped[grid]`` gives: a :class:`Launch`'s bound ``__call__``.
LaunchCall = Callable[..., None]


class KernelRunner:
    """One kernel on one backend: its launcher, binder and autotuning caches."""

    __slots__ = ("backend", "binder", "choosers", "decorated", "launcher", "prepared_calls")

    def __init__(self, decorated: DecoratedKernel, backend: Backend) -> None:
        self.decorated = decorated
        self.backend = backend
        self.launcher: Launcher = backend.make_launcher(decorated.jit)
        #: Launches prepared per kind of call, where the launcher can prepare them.
        self.prepared_calls = PreparedCalls.make(decorated, self.launcher)
        self.binder = Binder(decorated, discovery.registry().launch_options())
        self.choosers = {
            i: ConfigChooser(layer, backend, decorated.name, self._front_end_check(i), self._source_hash)
            for i, layer in enumerate(decorated.layers)
            if isinstance(layer, AutotuneLayer)
        }

    def launch(self, grid: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        prepared = self.prepared_calls
        if prepared is not None:
            try:
                if prepared.launch(grid, args, kwargs):
                    return
            except Exception:  # noqa: BLE001 - the path below fails the same way, and says why
                # A prepared launch that raises has launched nothing: Triton's launcher checks
                # its pointers before it launches, and a failed cuLaunchKernel launches nothing.
                prepared = None
        params, options = self.binder.bind(args, kwargs)
        try:
            if self.decorated.layers:
                launched = self._through_layers(0, grid, params, options)
            else:
                self.launcher(grids.evaluate(grid, params), params, options)
                launched = (params, options)
        except TritonhostError:
            raise
        except Exception as exc:
            self._diagnose(exc, params)
            raise
        if prepared is not None and launched is not None:
            prepared.learn(args, kwargs, *launched)

    def _diagnose(self, exc: Exception, params: dict[str, Any]) -> None:
        """Raise a clearer error than ``exc`` if one can be given."""
        # The backend's own message may not say which argument is wrong (diagnosis.py);
        # a try costs nothing on launches that work.
        clearer = diagnose(self.decorated, params)
        if clearer is not None:
            raise clearer from exc

    def _through_layers(
        self, index: int, grid: Any, params: dict[str, Any], options: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Launch through the layers from ``index`` on; the parameters and options launched with,
        or None where a config's ``pre_hook`` ran (a prepared launch would skip it)."""
        layers = self.decorated.layers
        if index == len(layers):
            self._complete(params)
            self.launcher(grids.evaluate(grid, params), params, options)
            return params, options
        layer = layers[index]
        if isinstance(layer, HeuristicsLayer):
            params = dict(params)
            for name, heuristic in layer.values.items():
                params[name] = _heuristic_value(self.decorated.name, name, heuristic, {**params, **options})
            return self._through_layers(index + 1, grid, params, options)
        chooser = self.choosers[index]

        def run(config: Any) -> None:
            self._through_layers(index + 1, grid, *chooser.apply(config, params, options))

        def ahead(configs: list[Any]) -> None:
            compile_ahead = getattr(self.launcher, "compile_ahead", None)  # optional (contract.Launcher)
            if compile_ahead is not None:
                calls = [self._resolved(index + 1, *chooser.apply(config, params, options)) for config in configs]
                compile_ahead([call for call in calls if call is not None])

        config = chooser.choose(params, options, run, ahead)
        tuned_params, tuned_options = chooser.apply(config, params, options)
        if config.pre_hook is not None:
            config.pre_hook({**tuned_params, **tuned_options})
            self._through_layers(index + 1, grid, tuned_params, tuned_options)
            return None
        return self._through_layers(index + 1, grid, tuned_params, tuned_options)

    def _resolved(
        self, index: int, params: dict[str, Any], options: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """What the launcher would be given for these arguments, the layers from ``index`` on
        applied; None where that is not known yet (an autotune layer inside chooses later) or
        the arguments are wrong (the launch itself says how)."""
        params = dict(params)
        try:
            for layer in self.decorated.layers[index:]:
                if not isinstance(layer, HeuristicsLayer):
                    return None
                for name, heuristic in layer.values.items():
                    params[name] = _heuristic_value(self.decorated.name, name, heuristic, {**params, **options})
            self._complete(params)
        except KernelArgumentError:  # raised again when this config launches
            return None
        return params, options

    def _source_hash(self) -> str | None:
        """Triton's hash of the kernel's source and everything it calls, or None where it has none."""
        try:
            return str(self.decorated.jit.cache_key)
        except Exception:  # noqa: BLE001 - an InterpretedFunction: its tuning is not persisted
            return None

    def _front_end_check(self, index: int) -> Callable[[Any, dict[str, Any], dict[str, Any]], str | None]:
        """Why the front end refuses a config of layer ``index`` with a launch's arguments, or None."""

        def check(config: Any, params: dict[str, Any], options: dict[str, Any]) -> str | None:
            tuned, tuned_options = self.choosers[index].apply(config, params, options)
            for layer in self.decorated.layers[index + 1 :]:
                if isinstance(layer, HeuristicsLayer):
                    for name, heuristic in layer.values.items():
                        tuned = {**tuned, name: _heuristic_value(self.decorated.name, name, heuristic, {**tuned, **tuned_options})}
                else:  # an autotune layer inside this one: its first config stands for the others
                    tuned = {**tuned, **layer.configs[0].kwargs}
            tuned = {**self.decorated.defaults, **tuned}
            return front_end_error(self.decorated, tuned)

        return check

    def _complete(self, params: dict[str, Any]) -> None:
        if len(params) == len(self.decorated.arg_names):
            return
        for name, value in self.decorated.defaults.items():
            params.setdefault(name, value)
        missing = [name for name in self.decorated.arg_names if name not in params]
        if missing:
            raise KernelArgumentError(
                f"kernel {self.decorated.name}() is missing {', '.join(map(repr, missing))}: no autotune config or "
                "heuristic sets it and the launch did not pass it."
            )


def _heuristic_value(kernel: str, name: str, heuristic: Any, args: dict[str, Any]) -> Any:
    try:
        return heuristic(args)
    except KeyError as exc:
        raise KernelArgumentError(
            f"kernel {kernel}(): the @triton.heuristics value of {name!r} reads {exc.args[0]!r}, which the launch "
            f"does not pass and no decorator sets (it has: {', '.join(args)})"
        ) from exc
    except Exception as exc:
        raise KernelArgumentError(
            f"kernel {kernel}(): the @triton.heuristics value of {name!r} raised {type(exc).__name__}: {exc}"
        ) from exc


class WrappedKernel:
    """A Triton kernel launched through tritonhost: ``wrapped[grid](*args, **kwargs)``."""

    __slots__ = ("__weakref__", "_launches", "_lock", "_runners", "decorated", "kernel", "table_index")

    def __init__(self, kernel: Any, table_index: int) -> None:
        # Made by the side table, once per kernel: get one with tritonhost.wrap(kernel).
        self.kernel = kernel
        self.decorated = read_decorators(kernel)
        #: This kernel's id in the tracing side table: what a compiled graph refers to it by.
        self.table_index = table_index
        self._runners: dict[Backend, KernelRunner] = {}
        self._lock = threading.Lock()
        #: The launch (a Launch's bound ``__call__``) of each 1-D grid ``(n,)`` launched on, by
        #: ``n``: a Launch holds nothing but the kernel and its grid, so one per size serves
        #: every call on it.
        self._launches: dict[int, LaunchCall] = {}

    def __repr__(self) -> str:
        return f"tritonhost.wrap({self.decorated.name})"

    def __getitem__(self, grid: grids.GridSpec) -> LaunchCall:
        """Fix the launch grid: a tuple of 1 to 3 ints, or a function of the meta-parameters.

        Returns the :class:`Launch`'s bound ``__call__``, as Triton's ``kernel[grid]`` returns a
        function: calling an object through its class's ``__call__`` costs about a tenth of
        a microsecond more per launch than calling a bound method.
        """
        # The common eager grid, (n,) with n an int, is looked up: making and checking a grid
        # and a Launch per call costs about a third of a microsecond. Not under Dynamo, which
        # would guard on the table.
        if not is_dynamo_compiling() and type(grid) is tuple and len(grid) == 1 and type(size := grid[0]) is int:
            launch = self._launches.get(size)
            if launch is None:
                launch = Launch(self, grids.as_grid3(grid), 1).__call__  # refuses a negative size
                launches = self._launches
                if len(launches) >= _LAUNCHES_KEPT:
                    launches.clear()
                launches[size] = launch
            return launch
        if callable(grid):
            # Not kept: a grid function may close over tensors, which a kept Launch would keep alive.
            return Launch(self, grid).__call__
        return Launch(self, grids.as_grid3(grid), len(grid) if isinstance(grid, (tuple, list)) else 1).__call__

    def run(self, *args: Any, grid: grids.GridSpec, **kwargs: Any) -> None:
        """Launch on ``grid``; the same as ``self[grid](*args, **kwargs)``."""
        self[grid](*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            f"a kernel is launched on a grid: tritonhost.wrap({self.decorated.name})[grid](...), "
            "for instance [(triton.cdiv(n, BLOCK),)]"
        )

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(params, options)`` of a launch's arguments, bound as the selected backend binds them."""
        return self.runner().binder.bind(args, kwargs)

    def runner(self, backend: Backend | None = None) -> KernelRunner:
        """The runner of this kernel on ``backend`` (the selected one by default)."""
        if backend is None:
            backend = select()
        runner = self._runners.get(backend)
        if runner is None:
            with self._lock:
                runner = self._runners.get(backend)
                if runner is None:
                    runner = self._runners[backend] = KernelRunner(self.decorated, backend)
        return runner


class Launch:
    """A kernel with its grid fixed, waiting for its arguments."""

    __slots__ = ("dims", "grid", "wrapped")

    def __init__(self, wrapped: WrappedKernel, grid: Any, dims: int = 3) -> None:
        self.wrapped = wrapped
        self.grid = grid
        #: How many of the grid's sizes the launch gave (the rest are the 1s Triton pads with).
        self.dims = dims

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        # Every eager launch passes here, so the checks are written inline: each Python call
        # around them would cost about a tenth of a microsecond more.
        if is_compiling():
            # Imported here: importing Dynamo takes a second or more, and only compiling needs it.
            from tritonhost.tracing.dynamo import launch_compiled

            launch_compiled(self.wrapped, self.grid, args, kwargs, self.dims)
            return
        if dispatch_stack_depth() or functorch_interpreter() is not None:  # is_tracing(), inlined
            trace_launch(self.wrapped, self.grid, args, kwargs)
            return
        runner = self.wrapped._runners.get(select())
        if runner is None:
            runner = self.wrapped.runner()
        runner.launch(self.grid, args, kwargs)


def wrap(kernel: Any) -> WrappedKernel:
    """Wrap a Triton kernel so that ``wrap(kernel)[grid](*args, **kwargs)`` runs it on the selected backend.

    ``kernel`` is a ``@triton.jit`` function, optionally under ``@triton.autotune``
    and ``@triton.heuristics``. Constexprs are passed by keyword; an autotuned
    kernel's tuned values are not passed. Wrapping the same kernel twice returns
    the same object, so ``wrap`` may be called inline on every launch, also
    inside ``torch.compile``.
    """
    if not is_dynamo_compiling():
        # Real Python (also non-strict export, where is_compiling() is true but no
        # bytecode is traced): the kernel object is at hand.
        wrapped = _lookup(kernel)
        if wrapped is not None:
            return wrapped  # type: ignore[return-value]
        if isinstance(kernel, WrappedKernel):
            return kernel
        return side_table.wrapped_for(kernel)  # type: ignore[return-value]
    # Traced by Dynamo: the kernel is a variable of Dynamo's (its own TritonKernelVariable
    # for @triton.jit and @triton.autotune where Triton is usable), not a Python object.
    # Imported here: importing Dynamo takes a second or more, and only compiling needs it.
    from tritonhost.tracing.dynamo import wrapped_in_compiled_region

    return wrapped_in_compiled_region(kernel)  # type: ignore[return-value]


# Tracing makes and launches wrapped kernels through the side table (tracing/side_table.py).
side_table.set_kernel_factory(WrappedKernel)
_lookup = side_table.lookup
