"""Compiling a kernel for a named target, on a machine without that GPU.

:func:`compile_for` answers, on a CPU-only machine, whether a kernel compiles
for ``hip:gfx942`` or ``cuda:90`` and what it costs there (registers, spills,
scratch, shared memory or LDS, occupancy). It binds the arguments as a launch
does, expands the kernel's autotune configs and heuristics as the autotuner
would meet them, and asks the backends' ``tritonhost_compile`` hook, the
selected backend first, for one code object per config. Core names no vendor:
whichever installed plugin compiles for the target's kind answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from triton.backends.compiler import GPUTarget

from tritonhost.compat.frontend import format_target, parse_target
from tritonhost.contract import CodeObject
from tritonhost.errors import CompileTargetError, TritonhostError
from tritonhost.host import discovery
from tritonhost.host.selection import select
from tritonhost.kernel.binding import Binder
from tritonhost.kernel.decorators import DecoratedKernel, launch_variants, read_decorators

__all__ = ["compile_for", "config_options", "describe_configs"]


def config_options(config: Any, arg_names: frozenset[str]) -> dict[str, Any]:
    """The compile options an autotune ``config`` carries, as Triton's Autotuner passes them to a launch.

    ``num_warps``, ``num_stages``, ``num_ctas``, ``maxnreg`` (and whatever else the
    installed Triton's ``Config.all_kwargs`` holds), plus the entries of
    ``config.kwargs`` that are not kernel parameters (AMD's ``waves_per_eu``...).
    Options left unset (None) are left out, so that the backend's defaults hold.
    """
    everything = dict(config.all_kwargs()) if hasattr(config, "all_kwargs") else dict(config.kwargs)
    return {name: value for name, value in everything.items() if name not in arg_names and value is not None}


def describe_configs(configs: tuple[Any, ...]) -> str:
    """The autotune configs of one variant, readably: ``BLOCK=64, num_warps=4, waves_per_eu=2``."""
    return "; ".join(
        ", ".join(f"{name}={value}" for name, value in config.all_kwargs().items() if value is not None)
        if hasattr(config, "all_kwargs") else str(config)
        for config in configs
    )


def compile_for(kernel: Any, *args: Any, target: GPUTarget | str, **kwargs: Any) -> list[CodeObject]:
    """Compile ``kernel`` for ``target`` as ``kernel[grid](*args, **kwargs)`` would compile, without a GPU.

    :param kernel: A ``@triton.jit`` function, optionally under ``@triton.autotune``
        and ``@triton.heuristics``.
    :param args: The launch's arguments, as for ``kernel[grid](...)``. Tensors may
        be meta tensors (``torch.empty(n, device="meta")``): only their dtype is read,
        and pointers are specialized as 16-byte aligned, as PyTorch allocates.
    :param target: ``"cuda:90"``, ``"hip:gfx942"``... or a ``GPUTarget``.
    :param kwargs: Keyword arguments and launch options (``num_warps``, ``waves_per_eu``).
        An option the target's compiler does not take is dropped, with a DEBUG log.
    :return: One :class:`~tritonhost.CodeObject` per autotune config (one in all for
        a kernel without configs), in the kernel's config order; each object's
        ``config`` says which.
    :raises tritonhost.KernelArgumentError: the arguments do not fit the kernel.
    :raises tritonhost.CompileTargetError: no installed backend compiles for ``target``.
    """
    if isinstance(target, str):
        target = parse_target(target)
    decorated = read_decorators(kernel)
    registry = discovery.registry()
    params, options = Binder(decorated, registry.launch_options()).bind(args, kwargs)
    backends = _backends_to_ask(registry)
    objects = []
    for configs, variant in launch_variants(decorated, params):
        variant_options = dict(options)
        for config in configs:
            variant_options.update(config_options(config, frozenset(decorated.arg_names)))
        variant_params = {name: value for name, value in variant.items() if name in decorated.arg_names}
        code = _compile(decorated, variant_params, variant_options, target, backends, registry)
        objects.append(attrs.evolve(code, config=describe_configs(configs)))
    return objects


def _backends_to_ask(registry: discovery.Registry) -> list[str]:
    """The loaded backends, the selected one first: it knows its own targets best."""
    loaded = [status.name for status in registry.statuses if status.info is not None]
    try:
        selected: str | None = select().name
    except TritonhostError:
        selected = None
    if selected in loaded:
        loaded = [selected, *(name for name in loaded if name != selected)]
    return loaded


def _compile(
    decorated: DecoratedKernel,
    params: Mapping[str, Any],
    options: Mapping[str, Any],
    target: GPUTarget,
    backends: list[str],
    registry: discovery.Registry,
) -> CodeObject:
    hook = registry.manager.hook
    for name in backends:
        code = hook.tritonhost_compile(backend=name, kernel=decorated.jit, params=params, options=options,
                                       target=target)
        if code is not None:
            return code  # type: ignore[no-any-return]
    raise CompileTargetError(
        f"no installed backend compiles {decorated.name} for {format_target(target)} "
        f"(asked: {', '.join(backends) or 'none installed'}). Install the backend plugin for that target's "
        "vendor (tritonhost-cuda for cuda:*, tritonhost-rocm for hip:*); `tritonhost backends` lists what is installed."
    )
