"""Which kernel parameters a TTIR module reads and writes through.

Every value carries the set of kernel parameters it may be derived from (its
provenance). Provenance flows from operands to results, through region
arguments and terminators position by position (``scf.for``, ``scf.if``,
``scf.while``), and through ``tt.call`` into callees and back; other operations
with regions are treated conservatively (everything flows everywhere). Loaded
data carries no provenance: a pointer built from loaded data, or from an
integer, points somewhere no parameter names, and a store through it makes the
answer inexact instead of wrong.

The solution is a fixpoint over these inclusions, so loops and recursive calls
terminate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import attrs

from tritonhost.analysis.ttir import Function, Module, Op, Region

#: Memory reads through the first operand.
READS = frozenset({
    "tt.load", "tt.descriptor_load", "tt.descriptor_gather", "tt.atomic_load", "tt.atomic_poll",
    "tt.experimental_descriptor_load", "tt.experimental_descriptor_gather",
})
#: Memory writes through the first operand.
WRITES = frozenset({
    "tt.store", "tt.descriptor_store", "tt.descriptor_scatter", "tt.descriptor_reduce", "tt.atomic_store",
    "tt.experimental_descriptor_store",
})
#: Read-modify-write through the first operand.
READ_WRITES = frozenset({"tt.atomic_rmw", "tt.atomic_cas"})
#: Operations whose results are data read from memory: they carry no provenance.
DATA_RESULTS = READS | READ_WRITES
#: Operations known to touch no memory; an unknown operation on a parameter-derived value
#: makes the answer inexact, so that a new memory operation is never missed.
PURE = frozenset({
    "tt.addptr", "tt.advance", "tt.approx_divf", "tt.assert", "tt.assume", "tt.bitcast", "tt.broadcast",
    "tt.cat", "tt.clampf", "tt.dot", "tt.dot_scaled", "tt.expand_dims", "tt.fp_to_fp", "tt.gather",
    "tt.get_num_programs", "tt.get_program_id", "tt.histogram", "tt.int_to_ptr", "tt.join", "tt.make_range",
    "tt.make_tensor_descriptor", "tt.make_tensor_ptr", "tt.map_elementwise", "tt.map_elementwise.return",
    "tt.mulhiui", "tt.precise_divf", "tt.precise_sqrt", "tt.print", "tt.ptr_to_int", "tt.reduce",
    "tt.reduce.return", "tt.reshape", "tt.return", "tt.scan", "tt.scan.return", "tt.splat", "tt.split",
    "tt.trans", "tt.unsplat", "scf.for", "scf.if", "scf.while", "scf.yield", "scf.condition",
    "scf.execute_region", "scf.index_switch", "tt.call",
    "tt.elementwise_inline_asm", "tt.extern_elementwise",  # pure unless their `pure` attribute says not
})
PURE_DIALECTS = ("arith.", "math.", "ub.", "cf.", "index.")


@attrs.frozen
class Effects:
    """What a kernel does to its parameters, as far as TTIR tells."""

    #: Parameter names written, in parameter order.
    written: tuple[str, ...]
    #: Parameter names read, in parameter order.
    read: tuple[str, ...]
    #: Why the answer is not exact; empty when it is.
    unknown: tuple[str, ...]


class _Solver:
    def __init__(self, module: Module) -> None:
        self.module = module
        self.edges: dict[int, set[int]] = defaultdict(set)
        self.effects: list[tuple[str, Op]] = []  # ("r" | "w" | "rw", op)
        self.unknown: list[str] = []
        self.returns: dict[str, list[list[int]]] = defaultdict(list)
        self.calls: list[tuple[Op, Function]] = []
        self.unknown_ops: dict[str, Op] = {}

    def flow(self, src: int, dst: int) -> None:
        self.edges[src].add(dst)

    def flow_all(self, sources: Iterable[int], targets: Iterable[int]) -> None:
        targets = list(targets)
        for src in sources:
            for dst in targets:
                self.flow(src, dst)

    def visit_function(self, function: Function) -> None:
        self.visit_region(function.body, function)

    def visit_region(self, region: Region, function: Function) -> None:
        for op in region.ops:
            self.visit_op(op, function)

    def visit_op(self, op: Op, function: Function) -> None:
        name = op.name
        if name in READS:
            self.effects.append(("r", op))
        elif name in WRITES:
            self.effects.append(("w", op))
        elif name in READ_WRITES:
            self.effects.append(("rw", op))
        elif name in ("tt.elementwise_inline_asm", "tt.extern_elementwise") and "pure = true" not in op.text:
            self.unknown.append(f"{name} that is not pure (line {op.line}) may touch any memory")
        elif name == "tt.return":
            self.returns[function.name].append(op.operands)
        elif name == "tt.call":
            callee = self.module.functions.get(op.callee or "")
            if callee is None:
                self.unknown.append(f"tt.call to @{op.callee}, which the module does not define (line {op.line})")
            else:
                self.calls.append((op, callee))
        elif name not in PURE and not name.startswith(PURE_DIALECTS):
            self.unknown_ops.setdefault(name, op)

        for region in op.regions:
            self.visit_region(region, function)

        if name in DATA_RESULTS or name in ("tt.call", "tt.return"):
            return
        if name == "scf.for":
            self.visit_for(op)
        elif name == "scf.if":
            for region in op.regions:
                self.flow_positional(_terminator_operands(region, "scf.yield"), op.results)
        elif name == "scf.while":
            self.visit_while(op)
        else:
            self.flow_all(op.operands, op.results)
            for region in op.regions:
                self.flow_all(op.operands, region.args)
                for terminator in _terminators(region):
                    self.flow_all(terminator.operands, op.results)

    def flow_positional(self, sources: list[list[int]], targets: list[int]) -> None:
        for values in sources:
            for src, dst in zip(values, targets):
                self.flow(src, dst)

    def visit_for(self, op: Op) -> None:
        (body,) = op.regions
        iterated = op.header_args[1:]  # the first header argument is the induction variable
        yields = _terminator_operands(body, "scf.yield")
        for i, (arg, init) in enumerate(iterated):
            self.flow(init, arg)
            if i < len(op.results):
                self.flow(init, op.results[i])
        self.flow_positional(yields, [arg for arg, _ in iterated])
        self.flow_positional(yields, op.results)
        if op.header_args:
            # The induction variable comes from the bounds alone: `scf.for %i = %lb to %ub step
            # %s iter_args(...)` prints them first. The iter_args' initial values after them
            # would leak every loop-carried pointer's origin into %i, and into whatever is
            # addressed with it.
            induction, _ = op.header_args[0]
            self.flow_all(op.operands[:3], [induction])

    def visit_while(self, op: Op) -> None:
        before, after = op.regions
        for arg, init in op.header_args:
            self.flow(init, arg)
        conditions = [t.operands[1:] for t in _terminators(before) if t.name == "scf.condition"]
        self.flow_positional(conditions, after.args)
        self.flow_positional(conditions, op.results)
        self.flow_positional(_terminator_operands(after, "scf.yield"), before.args)

    def link_calls(self) -> None:
        for op, callee in self.calls:
            for src, dst in zip(op.operands, callee.params):
                self.flow(src, dst)
            self.flow_positional(self.returns.get(callee.name, []), op.results)

    def solve(self, seeds: dict[int, frozenset[str]]) -> dict[int, set[str]]:
        provenance: dict[int, set[str]] = defaultdict(set)
        work = []
        for value, seed in seeds.items():
            provenance[value].update(seed)
            work.append(value)
        while work:
            value = work.pop()
            names = provenance[value]
            for dst in self.edges.get(value, ()):
                target = provenance[dst]
                if not names <= target:
                    target |= names
                    work.append(dst)
        return provenance


def _terminators(region: Region) -> list[Op]:
    return [op for op in region.ops if op.name in ("scf.yield", "scf.condition", "tt.reduce.return", "tt.scan.return",
                                                   "tt.map_elementwise.return")]


def _terminator_operands(region: Region, name: str) -> list[list[int]]:
    return [op.operands for op in region.ops if op.name == name]


def analyze_module(module: Module, tensors: dict[int, str], order: list[str]) -> Effects:
    """The parameters ``module``'s kernel reads and writes.

    ``tensors`` maps the kernel function's parameter value ids that stand for
    tensor arguments (pointers and descriptors, expanded parts included) to the
    Python parameter name; ``order`` is the Python parameter order.
    """
    solver = _Solver(module)
    for function in module.functions.values():
        solver.visit_function(function)
    solver.link_calls()
    provenance = solver.solve({value: frozenset({name}) for value, name in tensors.items()})

    written: set[str] = set()
    read: set[str] = set()
    unknown = list(solver.unknown)
    for kind, op in solver.effects:
        if not op.operands:
            unknown.append(f"{op.name} without operands (line {op.line})")
            continue
        names = provenance.get(op.operands[0], set())
        if not names:
            unknown.append(
                f"{op.name} at line {op.line} goes through a pointer derived from no tensor argument "
                "(loaded from memory or made from an integer)"
            )
            continue
        if "w" in kind:
            written |= names
        if "r" in kind:
            read |= names
    for name, op in solver.unknown_ops.items():
        if any(provenance.get(value) for value in op.operands):
            unknown.append(f"unknown operation {name} (line {op.line}) takes a value derived from a tensor argument")
    return Effects(
        written=tuple(n for n in order if n in written),
        read=tuple(n for n in order if n in read),
        unknown=tuple(unknown),
    )
