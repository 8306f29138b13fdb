"""Where separable pointers reach: their address span, and each lane's element index in an argument.

The batched builder asks :func:`address_span` whether a load's or store's pointers
(a :class:`~tritonhost_interpreter.separable.SeparableHandle`) lie in one argument, and
:class:`~tritonhost_interpreter.memory.ArgumentMemory` asks :func:`element_indices` and
:func:`steps` whether they step through it at fixed strides (a view) or must gather. Each is
decided from the parts' forms where they fit the reading of the arrays (the program part
as int64, the lane part as uint64), and from the arrays otherwise, with the same outcome.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tritonhost_interpreter.separable import Forms, Parts, SeparableHandle, bounds, form_bounds, parts

_INT64, _UINT64 = np.dtype(np.int64), np.dtype(np.uint64)


def address_span(pointers: SeparableHandle) -> tuple[int, int] | None:
    """The lowest and highest address of separable pointers (uint64 parts), or None if they may wrap.

    The program part is read as signed (a per-program offset may be negative modulo
    2**64), the lane part as unsigned.
    """
    found = form_bounds(pointers.forms, (_INT64, _UINT64))
    if found is None:
        split = parts(pointers)
        if split is None:
            return None
        found = bounds(split[0].view(np.int64)), bounds(split[1])
    (plow, phigh), (llow, lhigh) = found
    low, high = plow + llow, phigh + lhigh
    if low < 0 or high >= 2**64:
        return None
    return low, high


def element_indices(pointers: SeparableHandle, start: int, size: int) -> tuple[Callable[[], Parts], Forms] | None:
    """Each part's share of the element index ``(address - start) / size``, or None if some lane is unaligned.

    Returns a function making the two int64 arrays that add up to each lane's element
    index, and their forms where the pointers' forms give them (then the arrays are often
    not needed). The caller knows, from :func:`address_span`, that every address lies in
    the argument starting at ``start``.
    """
    program_form, lane_form = pointers.forms
    # A form stands for the parts' values read as the numpy path reads them (the program
    # part as int64, the lane part as uint64) only where it fits that reading.
    lane_exact = lane_form is not None and lane_form.fits(_UINT64)
    if lane_exact:
        llow, lhigh = lane_form.bounds()  # type: ignore[union-attr]
    else:
        llow, lhigh = bounds(pointers.lane)
    if not (-(2**63) <= llow - start and lhigh - start < 2**63):
        return None
    # Residues modulo a power of two survive wrapping, so a form gives them in any case.
    if program_form is not None:
        presidue = program_form.residue(size)
    else:
        presidue = _same_residue(pointers.program.view(np.int64), size)
    if lane_form is not None:
        lresidue = lane_form.residue(size)
        lresidue = None if lresidue is None else (lresidue - start) % size
    else:
        lresidue = _same_residue((pointers.lane - np.uint64(start)).view(np.int64), size)
    if presidue is None or lresidue is None or (presidue + lresidue) % size:
        return None
    shift = presidue  # where the program part's residue goes, the lane part's sum stays whole

    def make() -> Parts:
        program = pointers.program.view(np.int64)
        lane = (pointers.lane - np.uint64(start)).view(np.int64)
        return (program - shift) // size, (lane + shift) // size

    rows = columns = None
    if program_form is not None and program_form.fits(_INT64):
        rows = program_form.shifted(-shift).divided(size)
    if lane_exact:  # the bounds above keep lane - start within int64
        columns = lane_form.shifted(shift - start).divided(size)  # type: ignore[union-attr]
    return make, (rows, columns)


def _same_residue(part: np.ndarray, size: int) -> int | None:
    """The residue modulo ``size`` (a power of two) every element of ``part`` has, or None if they differ."""
    residues = part & (size - 1)  # for a power of two, the same as % size, negatives included
    low, high = bounds(residues)
    return low if low == high else None


def steps(part: np.ndarray) -> list[int] | None:
    """The step along each axis if ``part`` is ``part[0, ..., 0] + sum_k i_k * step_k``, else None.

    Exactly then, along every axis each difference of neighbours equals the first one.
    """
    found = []
    for axis, n in enumerate(part.shape):
        if n == 1:
            found.append(0)
            continue
        differences = np.diff(part, axis=axis)
        first = differences[(0,) * part.ndim]
        if not bool((differences == first).all()):
            return None
        found.append(int(first))
    return found
