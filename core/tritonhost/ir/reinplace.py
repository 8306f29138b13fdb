"""Re-inplacing: giving a kernel back the storage it wrote in eager code.

A functional kernel node launches on copies of the tensors it writes, so that
the graph stays functional. Eager code made no such copies: it wrote in place.
Lowering (:mod:`tritonhost.ir.lowering`) asks :class:`Reinplacer` for each
written argument whether the kernel may write the argument's own storage: it
may when the value it copied is dead after the launch, that is, no later node
reads that storage, or the only later node is the ``copy_`` that writes the
kernel's result back to the very same memory (an input the program mutates),
which then disappears too. Only when the old value is still read does a copy
remain, as it must. Aliasing is followed through the fake tensors' storages, so
views of a buffer count as reads of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sympy
import torch
import torch.fx
from torch.fx.experimental.symbolic_shapes import statically_known_true
from torch.multiprocessing.reductions import StorageWeakRef

from tritonhost.ir.buffers import Buffer
from tritonhost.ir.layout import Expr, as_expr, same_expr

aten = torch.ops.aten


def storage_of(value: Any) -> StorageWeakRef | None:
    """The storage of a (fake) tensor, comparable across views; None for anything else."""
    if isinstance(value, torch.Tensor):
        return StorageWeakRef(value.untyped_storage())
    return None


def val_of(node: Any) -> Any:
    """The traced value (a fake tensor, a SymInt...) a graph node stands for; a constant as it is."""
    return node.meta.get("val") if isinstance(node, torch.fx.Node) else node


class StorageGroups:
    """Which fake storages are one memory once copies are re-inplaced, and where each sits in it."""

    def __init__(self) -> None:
        self._parent: dict[StorageWeakRef, StorageWeakRef] = {}
        #: Offset, in elements, of a storage's start within its group's memory.
        self.shift: dict[StorageWeakRef, Expr] = {}

    def find(self, storage: StorageWeakRef) -> StorageWeakRef:
        while storage in self._parent:
            storage = self._parent[storage]
        return storage

    def merge(self, copy: StorageWeakRef, into: StorageWeakRef, shift: Expr) -> None:
        self._parent[copy] = self.find(into)
        self.shift[copy] = shift

    def absolute_offset(self, tensor: torch.Tensor) -> Expr:
        storage: StorageWeakRef | None = StorageWeakRef(tensor.untyped_storage())
        offset = as_expr(tensor.storage_offset())
        while storage is not None:
            offset = offset + self.shift.get(storage, sympy.Integer(0))
            storage = self._parent.get(storage)
        return sympy.expand(offset)


class Reinplacer:
    """Decides, launch by launch, which copies of a graph's kernels can be written in place."""

    def __init__(self, nodes: list[torch.fx.Node]) -> None:
        self.nodes = nodes
        self.storages = StorageGroups()
        #: Storages of the program's inputs: never written unless the program mutates them.
        self.input_storages: set[StorageWeakRef] = set()
        #: copy_ nodes made redundant by re-inplacing: they write memory onto itself.
        self.redundant_copies: set[torch.fx.Node] = set()

    def target(
        self,
        index: int,
        source: torch.fx.Node,
        copy: torch.Tensor,
        env: Mapping[torch.fx.Node, Any],
        siblings: Sequence[Any] = (),
    ) -> Buffer | None:
        """The buffer the kernel may write in place of its copy of ``source``, or None if it needs the copy.

        ``siblings`` are the launch's other arguments, but for those the program passed the
        same tensor: the kernel may read them while it writes, so none may share the memory.
        """
        source_val = val_of(source)
        group = self.storages.find(StorageWeakRef(source_val.untyped_storage()))
        if any((s := storage_of(val_of(arg))) is not None and self.storages.find(s) == group for arg in siblings):
            return None  # e.g. two allocations a graph pass merged into one, passed as two arguments
        copy_storage = StorageWeakRef(copy.untyped_storage())
        shift = self.storages.absolute_offset(source_val)
        write_backs = []
        for later in self.nodes[index + 1 :]:
            touched = [
                arg for arg in later.all_input_nodes
                if (s := storage_of(val_of(arg))) is not None and self.storages.find(s) == group
            ]
            if not touched:
                continue
            if later.target is aten.copy_.default and later.all_input_nodes[0] in touched and self._writes_back(
                later, copy_storage, shift
            ) and len(touched) == 1:
                write_backs.append(later)
                continue
            return None  # the old value is read after the launch
        if group in self.input_storages and not write_backs:
            return None  # an input the program does not mutate: its data must stay as it is
        self.storages.merge(copy_storage, group, shift)
        self.redundant_copies.update(write_backs)
        return env[source]  # type: ignore[no-any-return]

    def _writes_back(self, copy_node: torch.fx.Node, copy_storage: StorageWeakRef, shift: Expr) -> bool:
        """Whether ``copy_(dst, src)`` copies the kernel's result onto the memory it was copied from."""
        dst, src = (val_of(arg) for arg in copy_node.args[:2])
        if not isinstance(src, torch.Tensor) or StorageWeakRef(src.untyped_storage()) != copy_storage:
            return False
        return (
            src.dtype == dst.dtype
            and _known_equal(src.size(), dst.size())
            and _known_equal(src.stride(), dst.stride())
            and _known_equal([as_expr(src.storage_offset()) + shift], [self.storages.absolute_offset(dst)])
        )


def _known_equal(a: Any, b: Any) -> bool:
    """Equal for every input the compiled program accepts (its guards included, for SymInts)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, sympy.Basic) or isinstance(y, sympy.Basic):
            if not same_expr(as_expr(x), as_expr(y)):
                return False
        elif not statically_known_true(x == y):
            return False
    return True
