"""A user's kernel seen through its decorators: the Triton function and the layers around it.

``@triton.autotune`` and ``@triton.heuristics`` wrap a ``@triton.jit`` function in
objects that each launch the next one. tritonhost resolves those layers itself,
so that every backend launches only the innermost function, and autotuning
times configs through the backend's own benchmark hook.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import triton
import triton.language as tl
from triton.runtime.autotuner import Autotuner, Heuristics
from triton.runtime.interpreter import InterpretedFunction
from triton.runtime.jit import JITFunction

from tritonhost.errors import NotAKernelError
from tritonhost.kernel.identity import IdentityCache


@attrs.frozen(eq=False)
class AutotuneLayer:
    """``@triton.autotune``: the configs to choose from and Triton's tuner object for its hooks."""

    tuner: Autotuner
    configs: tuple[triton.Config, ...]
    key: tuple[str, ...]


@attrs.frozen(eq=False)
class HeuristicsLayer:
    """``@triton.heuristics``: parameter values computed from the other arguments."""

    values: Mapping[str, Callable[[dict[str, Any]], Any]]


Layer = AutotuneLayer | HeuristicsLayer


@attrs.frozen(eq=False)
class DecoratedKernel:
    """What the host needs to know to launch a kernel, read once from its decorators."""

    name: str
    #: The innermost Triton function: a JITFunction, or an InterpretedFunction when
    #: the kernel was decorated under TRITON_INTERPRET=1.
    jit: Any
    arg_names: tuple[str, ...]
    constexprs: frozenset[str]
    defaults: Mapping[str, Any]
    #: Decorator layers, outermost first.
    layers: tuple[Layer, ...]
    #: Parameters the layers provide, so a launch need not pass them.
    supplied: frozenset[str]

    @property
    def fn(self) -> Callable[..., Any]:
        """The kernel's Python function."""
        return self.jit.fn


_models: IdentityCache[DecoratedKernel] = IdentityCache()


def launch_variants(decorated: DecoratedKernel, params: Mapping[str, Any]) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every parameter set a launch may run with, before any config is chosen.

    One per choice of autotune configs (one in all when there are none), each
    with the defaults filled in and the heuristics applied in decorator order,
    as ``(configs chosen, params)``. The analysis takes the union over them, and
    a launch traced for torch.compile evaluates its grid for each. (The runtime
    picks one path instead: launch/wrap.py.) Plain loops, so that Dynamo
    traces it.
    """
    variants: list[tuple[tuple[Any, ...], dict[str, Any]]] = [((), {**decorated.defaults, **params})]
    for layer in decorated.layers:
        if isinstance(layer, HeuristicsLayer):
            for _, current in variants:
                for name, heuristic in layer.values.items():
                    current[name] = heuristic(dict(current))
        else:
            variants = [
                ((*configs, config), {**current, **config.kwargs})
                for configs, current in variants
                for config in layer.configs
            ]
    return variants


def config_choices(decorated: DecoratedKernel) -> list[tuple[Any, ...]]:
    """The choices of autotune configs, in the order :func:`launch_variants` yields them."""
    return list(itertools.product(*(layer.configs for layer in decorated.layers if isinstance(layer, AutotuneLayer))))


def read_decorators(kernel: Any) -> DecoratedKernel:
    """The :class:`DecoratedKernel` of ``kernel``, read once and then cached with it."""
    if not isinstance(kernel, (JITFunction, InterpretedFunction, Autotuner, Heuristics)):
        return _read(kernel)  # raises NotAKernelError
    return _models.get_or_make(kernel, _read)


def _read(kernel: Any) -> DecoratedKernel:
    layers: list[Layer] = []
    supplied: set[str] = set()
    inner = kernel
    while isinstance(inner, (Autotuner, Heuristics)):
        if isinstance(inner, Autotuner):
            configs = tuple(inner.configs)
            layers.append(AutotuneLayer(tuner=inner, configs=configs, key=tuple(inner.keys)))
            for config in configs:
                supplied.update(config.kwargs)
        else:
            layers.append(HeuristicsLayer(values=dict(inner.values)))
            supplied.update(inner.values)
        inner = inner.fn
    if not isinstance(inner, (JITFunction, InterpretedFunction)):
        raise NotAKernelError(
            f"expected a Triton kernel (a @triton.jit function, optionally under @triton.autotune or "
            f"@triton.heuristics), got {kernel!r}. Decorate the function with @triton.jit."
        )
    signature = inspect.signature(inner.fn)
    arg_names = tuple(signature.parameters)
    constexprs = frozenset(
        name for name, param in signature.parameters.items() if _is_constexpr(param.annotation)
    )
    defaults = {
        name: param.default
        for name, param in signature.parameters.items()
        if param.default is not inspect.Parameter.empty
    }
    return DecoratedKernel(
        name=inner.fn.__name__,
        jit=inner,
        arg_names=arg_names,
        constexprs=constexprs,
        defaults=defaults,
        layers=tuple(layers),
        supplied=frozenset(supplied),
    )


def _is_constexpr(annotation: Any) -> bool:
    if annotation is tl.constexpr:
        return True
    # Kernels written with `from __future__ import annotations` carry strings.
    return isinstance(annotation, str) and annotation.replace(" ", "").split(".")[-1] == "constexpr"
