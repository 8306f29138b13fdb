"""CUDA graphs for a compiled wrapper: record each kind of call once, then replay it.

``torch.compile(fn, backend="tritonhost", options={"cuda_graphs": True})`` (or
``mode="reduce-overhead"``) runs each generated wrapper through a
:class:`CudaGraphRunner`. A kind of call is the inputs' sizes, strides, dtypes and
devices and the values of the non-tensor inputs (sizes a dynamic graph is passed).

- The **first** call of a kind runs the wrapper as usual. That is the warm-up: Triton
  compiles, the autotuner benchmarks its configs, prepared launches are learned.
  Nothing that synchronizes or benchmarks may run while a graph is being captured.
- The **second** call records, running the wrapper under ``torch.cuda.graph`` with a
  memory pool of its own. A tensor input at the same address as in the first call (a
  parameter, a buffer a server reuses) is recorded in place: the graph reads and writes
  the caller's tensor. Every other tensor input is copied into a static buffer the runner
  owns (same sizes and strides).
- Every later call **replays**: it copies each copied input into its static buffer (one
  device copy each), replays the graph, copies the static buffers of the inputs the
  program writes back into the caller's tensors (so in-place kernels on inputs behave
  as without graphs), and returns new aliases of the graph's output tensors. A call
  that passes an input recorded in place at another address records once more, copying
  every input; replays then use whichever recording fits.

Replaying writes the outputs of the previous replay again. Each replay hands out fresh
aliases, and before replaying the runner checks whether anything still holds one of
them (a tensor, a view, a storage object: see :func:`_holders`). If so, the call runs
the wrapper without the graph, which allocates new outputs: what the caller holds is
never overwritten. A training step whose forward outputs are saved for backward replays
as long as each backward runs before the next forward. At most :data:`LIMIT` graphs are
recorded per wrapper; calls of further kinds run without graphs. Calls from several
threads take turns, and a replay on another stream waits for the last replay's stream.

A wrapper is not recorded at all, and says why in a log line (logger
``tritonhost.codegen``), when :func:`refusal` finds a reason: tensors off the GPU or on
several GPUs; an output that is a view of an input (the replay would return a view of
the runner's static copy; an output that is an input itself, as a forward saving its
inputs for backward returns them, is returned as the caller's tensor); an operation on a
tensor's metadata or storage (``as_strided``, ``set_``, ``resize_``, ``inplace_view``
operators), which runs on the host once, during capture; an operation PyTorch's own
CUDA-graph check refuses (one that synchronizes with the CPU or whose output size
depends on data), also inside ``auto_functionalized`` and ``with_effects``; or a torch
whose storage counts do not show held outputs.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.fx
import torch.utils._pytree as pytree

from tritonhost.ir.buffers import Buffer, InputBuffer, MutationOutput, storage_owner
from tritonhost.ir.nodes import FallbackKernel, UserDefinedTritonKernel
from tritonhost.ir.program import Program

log = logging.getLogger("tritonhost.codegen")

#: Kinds of call recorded per wrapper: a dynamic graph called with ever new sizes must not
#: hold a graph and a memory pool for each.
LIMIT = 8

#: Operations on a tensor's metadata or storage, done on the host: a capture would do them
#: once, on the tensors of the recording, and no replay would do them again.
_HOST_SIDE = frozenset(
    (
        "aten::as_strided",
        "aten::as_strided_",
        "aten::as_strided_scatter",
        "aten::set_",
        "aten::resize_",
        "aten::resize_as_",
        "inductor::resize_storage_bytes_",
    )
)

#: Higher-order operators that wrap another operator, and where that operator is among their arguments.
_WRAPPED_OPERATOR = {"auto_functionalized": 0, "auto_functionalized_v2": 0, "with_effects": 1}


def _operator_name(target: Any) -> str | None:
    schema = getattr(target, "_schema", None)
    return None if schema is None else str(schema.name)


def _host_side(target: Any) -> bool:
    """Whether ``target`` (an ATen or custom operator) changes metadata or storage on the host."""
    if _operator_name(target) in _HOST_SIDE:
        return True
    tags = getattr(target, "tags", ())
    return torch.Tag.inplace_view in tags


def refusal(program: Program, graph: torch.fx.GraphModule) -> str | None:
    """Why the wrapper of ``program`` (lowered from ``graph``) cannot run as a CUDA graph, or None."""
    if not holders_show_what_is_held():
        return "this torch does not show which outputs the caller holds, so a replay could overwrite one"
    buffers = {buffer.name: buffer for buffer in program.buffers()}
    devices = {buffer.fixed_layout.device for buffer in buffers.values()}
    off_gpu = sorted(str(device) for device in devices if device.type != "cuda")
    if off_gpu:
        return f"it has tensors on {', '.join(off_gpu)}; a CUDA graph holds GPU work only"
    if len(devices) > 1:
        return f"its tensors are on several GPUs ({', '.join(sorted(map(str, devices)))})"
    given = outputs_that_are_inputs(program)
    for index, output in enumerate(program.outputs):
        if index in given or not isinstance(output, Buffer):
            continue
        owner = storage_owner(output, buffers)
        if isinstance(owner, InputBuffer):
            return f"output {index} is a view of input {owner.name!r}, and a replay works on a copy of that input"
    for op in program.operations:
        if isinstance(op, FallbackKernel) and _host_side(op.target):
            return f"it calls {op.target}, which changes a tensor's metadata or storage on the host, once"
    node = _uncapturable(graph)
    if node is not None:
        return f"operation {node.name} ({node.target}) cannot be captured: it synchronizes or its size depends on data"
    return None


def _uncapturable(graph: torch.fx.GraphModule) -> torch.fx.Node | None:
    """The first node a CUDA graph cannot hold, by PyTorch's own rules, or None."""
    # Imported here: symbolic shapes and Inductor's helpers load only for a CUDA-graph compile.
    from torch.fx.experimental.symbolic_shapes import free_unbacked_symbols

    unsafe_tag = getattr(torch.Tag, "cudagraph_unsafe", None)
    unsafe: Callable[[torch.fx.Node], bool]
    try:
        from torch._inductor.utils import is_cudagraph_unsafe_fx_node

        unsafe = is_cudagraph_unsafe_fx_node
    except ImportError:  # older torch: the operator tag and PyTorch's list of forbidden operators

        def unsafe(node: torch.fx.Node) -> bool:
            try:
                from torch._inductor.utils import FORBIDDEN_CUDAGRAPH_OPS as forbidden
            except ImportError:
                forbidden = frozenset()
            tags = getattr(node.target, "tags", ())
            return str(node.target) in forbidden or (unsafe_tag is not None and unsafe_tag in tags)

    for node in graph.graph.nodes:
        if node.op != "call_function":
            continue
        if unsafe(node) or _host_side(node.target):
            return node
        # A custom operator functionalized (or ordered by its effects) is an argument of
        # the wrapping operator, whose own target no tag is on: check the operator itself.
        position = _WRAPPED_OPERATOR.get(getattr(node.target, "__name__", ""))
        if position is not None and len(node.args) > position:
            inner = node.args[position]
            tags = getattr(inner, "tags", ())
            if _host_side(inner) or (unsafe_tag is not None and unsafe_tag in tags):
                return node
        # A size that depends on data (nonzero, item) is unbacked. Our kernel operators'
        # values are dicts of tensors, which PyTorch's own check does not take: look at leaves.
        leaves = pytree.tree_leaves(node.meta.get("val"))
        if any(isinstance(leaf, (torch.Tensor, torch.SymInt)) and free_unbacked_symbols(leaf) for leaf in leaves):
            return node
    return None


def outputs_that_are_inputs(program: Program) -> dict[int, int]:
    """``{output index: input position}`` for outputs that are inputs themselves (a forward saving them).

    A replay returns the caller's tensor for them, not the runner's static copy.
    """
    buffers = {buffer.name: buffer for buffer in program.buffers()}
    positions = {item.name: index for index, item in enumerate(program.inputs)}
    found = {}
    for index, output in enumerate(program.outputs):
        if not isinstance(output, Buffer):
            continue
        owner = storage_owner(output, buffers)
        if isinstance(owner, InputBuffer) and output.fixed_layout.same_as(owner.fixed_layout):
            found[index] = positions[owner.name]
    return found


def mutated_inputs(program: Program) -> tuple[int, ...]:
    """Positions of the program's inputs that its operations write in place."""
    buffers = {buffer.name: buffer for buffer in program.buffers()}
    written = {
        storage_owner(output, buffers).name
        for op in program.operations
        for output in op.outputs()
        if isinstance(output, MutationOutput)
    }
    # A launch lowered as written in place (not functionalized) writes its arguments with
    # no mutation output for them.
    written |= {
        storage_owner(buffer, buffers).name
        for op in program.operations
        if isinstance(op, UserDefinedTritonKernel)
        for buffer in op.writes()
    }
    return tuple(index for index, item in enumerate(program.inputs) if item.name in written)


def _holders(tensor: torch.Tensor) -> tuple[int, int]:
    """How many tensors share ``tensor``'s storage, and how many references its Python storage object has.

    A view or alias of an output adds a tensor. A storage object (``t.untyped_storage()``)
    adds none: PyTorch keeps one Python object per storage once made, so the caller's
    holding it shows as a reference to that object (``sys.getrefcount``) instead.
    """
    storage = tensor.untyped_storage()
    return int(torch._C._storage_Use_Count(storage._cdata)), sys.getrefcount(storage)


@functools.cache
def holders_show_what_is_held() -> bool:
    """Whether :func:`_holders` sees a view and a storage object held, on this torch (checked once).

    The count rests on PyTorch internals (its storages' use counts, one Python object per
    storage); where they behave otherwise, outputs could be overwritten while held.
    """
    tensor = torch.zeros(4)
    baseline = _holders(tensor)
    view = tensor[:2]
    with_view = _holders(tensor)
    del view
    storage = tensor.untyped_storage()
    with_storage = _holders(tensor)
    del storage
    return with_view[0] > baseline[0] and with_storage[1] > baseline[1] and _holders(tensor) == baseline


def _copy_like(tensor: torch.Tensor) -> torch.Tensor:
    """A copy of ``tensor`` with its sizes, strides and address modulo 16 (what Triton specializes on)."""
    item = tensor.element_size()
    misalignment = tensor.data_ptr() % 16 // item
    span = 1 + sum((size - 1) * stride for size, stride in zip(tensor.size(), tensor.stride()) if size > 0)
    flat = torch.empty(span + 16 // item, dtype=tensor.dtype, device=tensor.device)
    shift = (misalignment - flat.data_ptr() % 16 // item) % (16 // item) if item <= 16 else 0
    copy = flat.as_strided(tensor.size(), tensor.stride(), flat.storage_offset() + shift)
    copy.copy_(tensor)
    return copy


class _Recording:
    """One recording of a kind of call: the graph, its inputs and its outputs.

    Inputs at ``fixed`` positions are the caller's own tensors, read and written in place;
    the recording replays only for calls that pass tensors at the same addresses. The
    others are static copies the recording owns, refilled on every replay.
    """

    __slots__ = (
        "_baseline",
        "_copy_back",
        "_device",
        "_device_index",
        "_fixed",
        "_given",
        "_graph",
        "_inputs",
        "_outputs",
        "_storages",
        "_stream",
        "_stream_id",
    )

    def __init__(
        self,
        run: Callable[..., Sequence[Any]],
        args: Sequence[Any],
        tensors: Sequence[int],
        fixed: frozenset[int],
        mutated: Sequence[int],
        given: dict[int, int],
    ) -> None:
        # Copies keep each input's address modulo 16, so that the runs below use the
        # binaries the warm-up call compiled, also for a misaligned input recorded in place.
        copies = list(args)
        for index in tensors:
            copies[index] = _copy_like(args[index])
        static = [args[index] if index in fixed else value for index, value in enumerate(copies)]
        self._device = next((args[index].device for index in tensors), None)
        outputs = list(self._capture(run, copies, static, self._device))
        # The fixed tensors are not held: a later call passing a tensor of the same size,
        # strides and dtype at the same address passes that very memory, which is what the
        # graph reads and writes. Outputs that are inputs are dropped for the same reason
        # (the replay returns the caller's tensor): held, a caller's tensor would outlive
        # the caller, and another graph's output held here would look held by the caller.
        for index in given:
            outputs[index] = None
        self._fixed = tuple((index, args[index].data_ptr()) for index in sorted(fixed))
        self._inputs = tuple((index, static[index]) for index in tensors if index not in fixed)
        self._copy_back = tuple((index, static[index]) for index in mutated if index not in fixed)
        self._outputs = tuple(outputs)
        #: (output index, input position) of outputs that are inputs: the caller's tensor is returned.
        self._given = tuple(given.items())
        # The storages of the outputs, and how many holders each has with only the recording
        # holding it: more at a later call means the caller still holds an output.
        storages: dict[int, torch.Tensor] = {}
        for output in self._outputs:
            if isinstance(output, torch.Tensor):
                storages.setdefault(output.untyped_storage().data_ptr(), output)
        self._storages = tuple(storages.values())
        self._baseline = tuple(_holders(tensor) for tensor in self._storages)
        self._device_index: int | None = None if self._device is None else self._device.index
        #: The stream of the last replay, and its raw handle: a replay on another stream waits for its work first.
        self._stream: Any = None
        self._stream_id: int | None = None

    def _capture(
        self, run: Callable[..., Sequence[Any]], copies: list[Any], static: list[Any], device: torch.device | None
    ) -> Sequence[Any]:
        """Record ``run(*static)`` into a CUDA graph; return its outputs (memory the graph writes)."""
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.device(device):
            # Once on the capture stream first, as PyTorch advises: libraries (cuBLAS for a
            # fallback matmul) set up per stream on first use, which must not happen in capture.
            # On copies of every input: this run must not write the caller's tensors.
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                run(*copies)
            torch.cuda.current_stream().wait_stream(stream)
            # thread_local: other threads' CUDA calls (a data loader's) go on during capture.
            with torch.cuda.graph(
                self._graph, pool=torch.cuda.graph_pool_handle(), stream=stream, capture_error_mode="thread_local"
            ):
                return run(*static)

    def _after_last_replay(self) -> None:
        """Order this replay after the last one where the current stream is another.

        The static inputs and outputs are one memory for every replay; on one stream, work
        runs in order, but a replay on another stream could overwrite them while the last
        one still reads them. The raw stream is one C call; a Stream object is made only
        when it changed.
        """
        if self._device_index is None:  # no tensor input named the device: the one captured on
            self._device_index = torch.cuda.current_device()
        raw = torch._C._cuda_getCurrentRawStream(self._device_index)
        if raw != self._stream_id:
            current = torch.cuda.current_stream(self._device_index)
            if self._stream is not None:
                current.wait_stream(self._stream)
            self._stream, self._stream_id = current, raw

    def _replay_graph(self, args: Sequence[Any]) -> None:
        """Replay the graph (``args``, the call's own, for a recording that emulates one)."""
        self._graph.replay()

    def fits(self, args: Sequence[Any]) -> bool:
        """Whether the call passes its fixed tensors at the recorded addresses."""
        for index, address in self._fixed:
            if args[index].data_ptr() != address:
                return False
        return True

    def outputs_held(self) -> bool:
        """Whether the caller still holds an output of an earlier replay (replaying would overwrite it)."""
        for tensor, (tensors, references) in zip(self._storages, self._baseline):
            now_tensors, now_references = _holders(tensor)
            if now_tensors > tensors or now_references > references:
                return True
        return False

    def replay(self, args: Sequence[Any]) -> tuple[Any, ...]:
        self._after_last_replay()
        for index, static in self._inputs:
            static.copy_(args[index])
        self._replay_graph(args)
        for index, static in self._copy_back:
            args[index].copy_(static)
        results = [output.detach() if isinstance(output, torch.Tensor) else output for output in self._outputs]
        for output, position in self._given:
            results[output] = args[position]
        return tuple(results)


class _Kind:
    """What a runner knows of one kind of call."""

    __slots__ = ("addresses", "failed", "recordings")

    def __init__(self, addresses: tuple[int, ...]) -> None:
        #: The tensor inputs' addresses at the first (warm-up) call.
        self.addresses = addresses
        #: At most two: the first with the inputs that kept their address fixed, then one copying every input.
        self.recordings: list[_Recording] = []
        self.failed = False


#: Kinds of call a runner keeps track of (most of them warmed up once and never seen again).
KINDS_KEPT = 64


class CudaGraphRunner:
    """Runs a compiled wrapper's ``forward`` as recorded CUDA graphs, per kind of call.

    A tensor input passed at the same address in the warm-up call and the recording call
    (a parameter, a static buffer a server reuses) is recorded in place: replays for
    calls that pass it there again copy nothing for it. Every other tensor input is copied
    into a static buffer on each replay. A call whose fixed inputs moved records once
    more, copying every input. Calls from several threads take turns: a replay's static
    memory is one for all.
    """

    #: What records and replays; tests on a CPU put an emulation of a graph here.
    recording_type: type[_Recording] = _Recording

    def __init__(self, run: Callable[..., Sequence[Any]], program: Program, name: str = "wrapper") -> None:
        self._run = run
        self._name = name
        self._tensors = tuple(index for index, item in enumerate(program.inputs) if isinstance(item, InputBuffer))
        self._mutated = mutated_inputs(program)
        self._given = outputs_that_are_inputs(program)
        self._kinds: dict[Any, _Kind] = {}
        self._recorded = 0
        self._lock = threading.Lock()
        #: Calls that replayed a graph, and calls that ran the wrapper without one.
        self.replays = 0
        self.plain = 0

    def _kind(self, args: Sequence[Any]) -> Any:
        # A loop rather than a generator: this runs on every replay, and the generator's
        # frame cost a third of it (1.4 against 1.0 us for two tensors on a 2-core CPU).
        key: list[tuple[Any, ...]] = []
        for value in args:
            if isinstance(value, torch.Tensor):
                key.append((value.shape, value.stride(), value.dtype, value.device))
            elif type(value) is float:
                key.append((float, value.hex()))  # by its bits: -0.0 == 0.0, and a NaN equals nothing
            else:
                key.append((type(value), value))
        return tuple(key)

    def __call__(self, *args: Any) -> Sequence[Any]:
        with self._lock:
            return self._call(args)

    def _call(self, args: tuple[Any, ...]) -> Sequence[Any]:
        key = self._kind(args)
        kind = self._kinds.get(key)
        if kind is None:
            if len(self._kinds) < KINDS_KEPT:
                # This call compiles and tunes; the next one records.
                self._kinds[key] = _Kind(tuple(args[index].data_ptr() for index in self._tensors))
        elif not kind.failed:
            for recording in kind.recordings:
                if recording.fits(args):
                    if recording.outputs_held():
                        log.debug("%s: an output of the last replay is still held; this call runs without the graph",
                                  self._name)
                        break
                    self.replays += 1
                    return recording.replay(args)
            else:
                made = self._record(kind, args)
                if made is not None:
                    self.replays += 1
                    return made.replay(args)
        self.plain += 1
        return self._run(*args)

    def _record(self, kind: _Kind, args: Sequence[Any]) -> _Recording | None:
        if self._recorded >= LIMIT:
            log.debug("%s: %d graphs recorded already; calls of a new kind run without one", self._name, LIMIT)
            return None
        fixed = frozenset(
            index
            for index, address in zip(self._tensors, kind.addresses)
            if not kind.recordings and args[index].data_ptr() == address
        )
        try:
            recording = self.recording_type(self._run, args, self._tensors, fixed, self._mutated, self._given)
        except Exception as exc:  # noqa: BLE001 - whatever fails in capture, the call runs without it
            kind.failed = True
            log.warning("%s: recording a CUDA graph failed, so calls like this one run without one: %s: %s",
                        self._name, type(exc).__name__, exc)
            return None
        kind.recordings.append(recording)
        self._recorded += 1
        return recording
