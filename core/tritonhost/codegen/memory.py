"""Memory planning: when each buffer's storage dies, and which allocations can take over a dead one.

A storage dies after the last operation that touches any buffer living in it
(views and mutation outputs included); a program output or an input never
dies. An allocation takes over a dead storage the wrapper owns (one it
allocated, or one an ATen call returned) of the same dtype, device and size,
rather than asking the allocator for new memory. The wrapper drops its
reference to each value after its last use, which is what frees storage.
"""

from __future__ import annotations

import attrs

from tritonhost.ir.buffers import Buffer, ComputedBuffer, FallbackOutput, InputBuffer, storage_owner
from tritonhost.ir.layout import FixedLayout, same_expr
from tritonhost.ir.nodes import Allocate, buffers_in
from tritonhost.ir.program import Program


@attrs.frozen
class MemoryPlan:
    """What planning decided: reuses, and the bytes the wrapper's own buffers need at peak."""

    #: Allocation name -> the dead buffer whose storage it takes over.
    reuses: dict[str, str]
    #: Bytes of storage the wrapper allocates in all (after reuse).
    allocated_bytes: int | None
    #: Most bytes of wrapper-allocated storage alive at once (None when sizes are symbolic).
    peak_bytes: int | None


def _storage_bytes(layout: FixedLayout) -> int | None:
    elements = layout.storage_elements()
    if not elements.is_Integer:
        return None
    return int(elements) * layout.dtype.itemsize


def plan_memory(program: Program) -> MemoryPlan:
    """Decide reuses (recorded on each ``ComputedBuffer``) and return the plan."""
    buffers: dict[str, Buffer] = {b.name: b for b in program.buffers()}

    def root(buffer: Buffer) -> str:
        return storage_owner(buffer, buffers).name

    # Storage roots that never die: inputs, outputs and what they alias.
    pinned = {b.name for b in program.inputs if isinstance(b, InputBuffer)}
    pinned.update(root(b) for b in buffers_in(list(program.outputs)))
    last_use: dict[str, int] = {}
    for index, op in enumerate(program.operations):
        for buffer in op.reads() + op.outputs():
            last_use[root(buffer)] = index

    reusable = {
        name
        for name, b in buffers.items()
        if isinstance(b, (ComputedBuffer, FallbackOutput)) and b.owner == name  # an owner, not a view
    }
    dead: list[str] = []  # dead, reusable storages, oldest death first
    reuses: dict[str, str] = {}
    deaths: dict[int, list[str]] = {}
    for name, index in last_use.items():
        if name not in pinned:
            deaths.setdefault(index, []).append(name)

    live = peak = total = 0
    sizes_known = True
    for index, op in enumerate(program.operations):
        if isinstance(op, Allocate):
            buffer = op.buffer
            layout = buffer.fixed_layout
            taken = _take(dead, buffers, layout)
            if taken is not None:
                dead.remove(taken)
                buffer.reuses = reuses[buffer.name] = taken
            size = _storage_bytes(layout)
            if size is None:
                sizes_known = False
            else:
                live += size
                peak = max(peak, live)
                total += 0 if taken else size
        for name in deaths.get(index, []):
            if name in reusable:
                dead.append(name)
            size = _storage_bytes(buffers[name].fixed_layout)
            if isinstance(buffers[name], ComputedBuffer) and size is not None:
                live -= size
    return MemoryPlan(reuses, total if sizes_known else None, peak if sizes_known else None)


def _take(dead: list[str], buffers: dict[str, Buffer], layout: FixedLayout) -> str | None:
    """A dead storage for ``layout``: one with the very layout first, else one of the same size."""
    candidates = [
        name for name in dead
        if buffers[name].fixed_layout.device == layout.device and buffers[name].fixed_layout.dtype == layout.dtype
    ]
    for name in candidates:
        if buffers[name].fixed_layout.same_as(layout):
            return name
    for name in candidates:
        if same_expr(buffers[name].fixed_layout.storage_elements(), layout.storage_elements()):
            return name
    return None
