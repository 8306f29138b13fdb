"""The program ids of a chunk of a launch's grid, as the batched builder hands them to a kernel.

A chunk is the programs ``start`` to ``stop`` of the grid in launch order (x slowest, as
Triton loops). Each axis's ids are a column, one row per program, or a single row where
every program of the chunk has the same id; each comes with its affine form where it has
one (:mod:`tritonhost_interpreter.affine`).
"""

from __future__ import annotations

import numpy as np

from tritonhost_interpreter.affine import Form


def is_range(ids: np.ndarray) -> bool:
    """Whether a chunk's program ids (shape (L, 1)) are ``first + i * step``, read from both ends."""
    n, first, second = len(ids), int(ids[0, 0]), int(ids[1, 0])
    return bool(int(ids[-1, 0]) - first == (n - 1) * (second - first)) and (
        n <= 2 or bool((np.diff(ids[:, 0]) == second - first).all()))


def of_chunk(grid: tuple[int, int, int], start: int, stop: int) -> tuple[list[np.ndarray], list[Form | None]]:
    """The ids (x, y, z) of the programs ``start`` to ``stop`` of ``grid``, each of shape (L, 1) or (1, 1), and their forms.

    An id equal across the chunk is one value, so what follows from it is computed once.
    Equal ends are not enough: on a grid (100, 3) the chunk 0..63 has program_id(1)
    0, 1, 2, ..., 0, so every id is compared. An id is start + i over the chunk where the
    other axes are one program wide; else its form is left unknown and the separable paths
    decide from its values. The arrays are read-only, so that a caller may keep them for later launches.
    """
    _, ny, nz = grid
    linear = np.arange(start, stop, dtype=np.int64)
    ids = []
    for axis in (linear // (ny * nz), (linear // nz) % ny, linear % nz):
        made = (axis[:1] if bool((axis == axis[0]).all()) else axis).astype(np.int32).reshape(-1, 1)
        made.flags.writeable = False
        ids.append(made)
    forms = [
        Form.constant(int(i[0, 0]), (1, 1)) if len(i) == 1 else
        Form(int(i[0, 0]), (int(i[1, 0]) - int(i[0, 0]), 0), i.shape) if is_range(i) else None
        for i in ids
    ]
    return ids, forms
