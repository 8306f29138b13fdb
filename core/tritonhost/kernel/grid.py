"""Launch grids: one to three program counts, given as a tuple or a function of the meta-parameters.

Also the grids of autotuned launches in traced programs, where a grid function
cannot go into the graph: evaluated once per choice of configs, and picked again
by the chosen config when the program runs.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

import torch

from tritonhost.contract import Grid3
from tritonhost.errors import GridError
from tritonhost.kernel.decorators import DecoratedKernel, config_choices, launch_variants

#: A grid as a launch gives it: program counts, or a function of the meta-parameters.
GridSpec = int | tuple[int, ...] | list[int] | Callable[[Mapping[str, Any]], Any]


def as_grid3(grid: Any) -> Grid3:
    """``grid`` as three non-negative ints, padded with 1s the way Triton pads it."""
    if isinstance(grid, tuple) and len(grid) == 1 and type(grid[0]) is int and grid[0] >= 0:
        return (grid[0], 1, 1)  # the common case, without the general checks
    if not isinstance(grid, (tuple, list)):
        grid = (grid,)
    if not 1 <= len(grid) <= 3:
        raise GridError(f"a launch grid has 1 to 3 dimensions, got {len(grid)}: {grid!r}")
    dims: list[Any] = []
    for size in grid:
        if isinstance(size, torch.SymInt):  # a symbolic size stays symbolic in a traced graph
            dims.append(size)
            continue
        try:
            dim = operator.index(size)
        except TypeError:
            raise GridError(
                f"grid sizes must be integers, got {size!r} ({type(size).__name__}) in {grid!r}; "
                "use triton.cdiv(n, BLOCK) to round a division up"
            ) from None
        if dim < 0:
            raise GridError(f"grid sizes must not be negative, got {grid!r}")
        dims.append(dim)
    dims.extend([1] * (3 - len(dims)))
    return (dims[0], dims[1], dims[2])


def evaluate(grid: Grid3 | Callable[[Mapping[str, Any]], Any], params: Mapping[str, Any]) -> Grid3:
    """The grid of one launch: ``grid(params)`` when it is callable, as Triton calls it.

    A fixed grid must already be normalized by :func:`as_grid3` (``wrap(k)[grid]`` does it).
    """
    if callable(grid):
        return as_grid3(grid(params))
    return grid


def grids_per_config(decorated: DecoratedKernel, grid: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    """A grid function evaluated for each choice of autotune configs (once if none), heuristics applied.

    Dynamo cannot carry a function into the graph, so a launch under torch.compile
    evaluates its grid here, in traced code, into tuples of ints and SymInts.
    """
    grids = []
    for configs, variant in launch_variants(decorated, {**dict(zip(decorated.arg_names, args)), **kwargs}):
        meta = dict(variant)
        for config in configs:  # a grid function also sees a config's num_warps, as in Triton
            meta.update(config.all_kwargs())
        grids.append(as_grid3(grid(meta)))
    return grids


def pick_config_grid(decorated: DecoratedKernel, grids: list[Any]) -> Any:
    """A grid function choosing, among ``grids`` (one per choice of configs), the chosen configs' grid."""
    choices = config_choices(decorated) if len(grids) > 1 else []
    if len(choices) != len(grids):
        return grids[0]

    def grid(meta: dict[str, Any]) -> Any:
        for configs, config_grid in zip(choices, grids):
            if all(meta.get(name) == value for config in configs for name, value in config.kwargs.items()):
                return config_grid
        return grids[0]

    return grid
