"""backend="tritonhost" with CUDA graphs: options={"cuda_graphs": True} or mode="reduce-overhead".

On the CPU: the options are checked, a CPU backend runs without graphs and says so, and
the facts a recording needs (which inputs the program writes, why a program is refused)
are read off the IR. On a GPU (``gpu`` tests): every traced program replays with the
results of eager PyTorch, inputs written in place are written, sizes change, outputs the
caller keeps are never overwritten, autotuned kernels tune before capture, and a library's
autograd.Functions train through it in fp32 and bf16.
"""

from __future__ import annotations

import gc
import logging
import threading
import weakref

import pytest
import torch
import triton

import library_functions as libf
import tritonhost
from comparisons import assert_close_to_scale, values_and_gradients
from kernels import add_kernel, autotuned_accumulate_kernel
from programs import PROGRAMS
from tritonhost.codegen.backend import BackendOptions, capture_wrappers
from tritonhost.codegen.cuda_graphs import (
    LIMIT,
    CudaGraphRunner,
    _host_side,
    _Recording,
    holders_show_what_is_held,
    mutated_inputs,
    outputs_that_are_inputs,
    refusal,
)
from tritonhost.ir.program import Program

BY_NAME = {program.name: program for program in PROGRAMS}


@pytest.fixture(autouse=True)
def garbage_collected_before_held_counts(monkeypatch):
    """Where a recording finds an output held, garbage is collected and it looks again.

    A reference cycle can hold a replay's output until Python's collector runs; the runner
    rightly counts it as held and runs that call without its graph, and the exact counts
    these tests check would be off. That is the likely cause, not a confirmed one, of two
    counts found short once each on torch 2.11 under xdist (values were right). Tests only: collecting
    on every held call would cost a user who really holds outputs milliseconds a call.
    """
    held = _Recording.outputs_held

    def collected_first(self):
        if not held(self):
            return False
        gc.collect()
        return held(self)

    monkeypatch.setattr(_Recording, "outputs_held", collected_first)


def _compiled(fn, **how):
    torch._dynamo.reset()
    return torch.compile(fn, backend="tritonhost", fullgraph=True, **how)


def _replays_with_eagers_results(program, make_inputs):
    """Four calls with new input tensors each (warm up, record, replay, replay); the runner."""
    with capture_wrappers() as wrappers:
        compiled = _compiled(program.fn, options={"cuda_graphs": True})
        for _ in range(4):
            x, y = make_inputs()
            want_x, want_y = x.clone(), y.clone()
            want = program.reference(want_x, want_y)
            torch.testing.assert_close(compiled(x, y), want)
            torch.testing.assert_close(x, want_x)  # what the program writes into its inputs is written
            torch.testing.assert_close(y, want_y)
    return wrappers[0].cuda_graphs


def _trains_through_graphs(fn, reference, make_args, rtol):
    """Four training steps, values and gradients checked; the runners (forward, then backward)."""
    with capture_wrappers() as wrappers:
        compiled = _compiled(fn, options={"cuda_graphs": True})
        for _ in range(4):
            args = make_args()
            got, got_grads = values_and_gradients(compiled, *args)
            want, want_grads = values_and_gradients(reference, *args)
            assert_close_to_scale(got, want, rtol)
            for g, w in zip(got_grads, want_grads):
                assert_close_to_scale(g, w, 10 * rtol)
            del got, got_grads, g  # held (g: the loop's last gradient), they would keep the next step off the graphs
    return [wrapper.cuda_graphs for wrapper in wrappers]


# --- on the CPU ------------------------------------------------------------------------------


def test_options_read_as_asked():
    assert BackendOptions.parse(None, None).cuda_graphs is False
    assert BackendOptions.parse("default", None).cuda_graphs is False
    assert BackendOptions.parse("reduce-overhead", None).cuda_graphs is True
    assert BackendOptions.parse(None, {"cuda_graphs": True}).cuda_graphs is True
    assert BackendOptions.parse(None, {"cuda_graphs": False}).cuda_graphs is False


@pytest.mark.parametrize(
    ("mode", "options", "message"),
    [
        (None, {"cudagraphs": True}, r"unknown options \['cudagraphs'\].*'cuda_graphs'"),
        (None, {"cuda_graphs": "yes"}, r"'cuda_graphs' is True or False, got 'yes'"),
        ("max-autotune", None, r"mode='max-autotune'.*'reduce-overhead'"),
    ],
)
def test_options_it_does_not_understand_are_refused_by_name(interpreter, mode, options, message):
    with pytest.raises(tritonhost.CompileOptionError, match=message):
        BackendOptions.parse(mode, options)
    how = {"mode": mode} if mode else {"options": options}
    with pytest.raises(Exception, match=message):  # Dynamo wraps it in BackendCompilerFailed
        _compiled(BY_NAME["chain"].fn, **how)(torch.randn(64), torch.randn(64))


def test_a_cpu_backend_runs_without_graphs_and_says_so(interpreter, caplog):
    program = BY_NAME["input_mutation"]
    x, y = torch.randn(64), torch.randn(64)
    want_x = x.clone()
    want = program.reference(want_x, y)
    with caplog.at_level(logging.WARNING, "tritonhost.codegen"), capture_wrappers() as wrappers:
        got = _compiled(program.fn, options={"cuda_graphs": True})(x, y)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(x, want_x)
    assert wrappers[0].cuda_graphs is None
    assert "backend 'interpreter' launches on cpu: running without CUDA graphs" in caplog.text


@pytest.mark.parametrize(("name", "written"), [("chain", ()), ("input_mutation", (0,)), ("rope_on_inputs", (0, 1))])
def test_the_inputs_a_program_writes_are_found(interpreter, name, written):
    with capture_wrappers() as wrappers:
        _compiled(BY_NAME[name].fn)(torch.randn(64), torch.randn(64))
    assert mutated_inputs(wrappers[0].program) == written


class AddSavingInputs(torch.autograd.Function):
    """A forward that saves its inputs for backward: its graph returns them."""

    @staticmethod
    def forward(ctx, x, y):
        out = torch.empty_like(x)
        tritonhost.wrap(add_kernel)[(triton.cdiv(x.numel(), 64),)](x, y, out, x.numel(), BLOCK=64)
        ctx.save_for_backward(x, y)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return grad * y, grad * x


def add_saving_inputs(x, y):
    return AddSavingInputs.apply(x, y) * 2


def test_outputs_that_are_inputs_are_found(interpreter):
    x, y = torch.randn(64, requires_grad=True), torch.randn(64, requires_grad=True)
    with capture_wrappers() as wrappers:
        _compiled(add_saving_inputs)(x, y).sum().backward()
    forward = wrappers[0].program
    given = outputs_that_are_inputs(forward)
    assert sorted(given.values()) == [0, 1]  # x and y, saved for backward
    assert all(forward.outputs[o].name == forward.inputs[i].name for o, i in given.items())


def test_a_program_on_the_cpu_is_refused_with_its_device(interpreter):
    with capture_wrappers() as wrappers:
        _compiled(BY_NAME["chain"].fn)(torch.randn(64), torch.randn(64))
    reason = refusal(wrappers[0].program, wrappers[0].module)
    assert reason is not None and "tensors on cpu" in reason


# --- the runner's bookkeeping on the CPU, with an emulated graph -------------------------------


class EmulatedRecording(_Recording):
    """A recording whose "graph" reruns the wrapper and copies the results into fixed output memory.

    What a CUDA graph does to memory, without a GPU: outputs live in memory the recording
    owns and each replay overwrites; inputs are read from the static copies or, where
    recorded in place, from the caller's tensors; an output that is an input is the
    tensor the capture was given (the caller's, or the static copy), as in a real capture.
    """

    def _capture(self, run, copies, static, device):
        # The caller's tensors recorded in place are not kept (a real graph keeps addresses only).
        self.rerun, self.static = run, [None if s is not c else s for s, c in zip(static, copies)]
        outputs = [o.clone() if isinstance(o, torch.Tensor) else o for o in run(*copies)]
        for output, position in self.given_by_capture.items():
            outputs[output] = static[position]
        return outputs

    def _after_last_replay(self):
        pass  # one stream on a CPU

    def _replay_graph(self, args):
        inputs = [given if kept is None else kept for kept, given in zip(self.static, args)]
        for output, fresh in zip(self._outputs, self.rerun(*inputs)):
            if isinstance(output, torch.Tensor):
                output.copy_(fresh)


@pytest.fixture
def emulated(monkeypatch, interpreter):
    """backend="tritonhost" with cuda_graphs, on the interpreter, through emulated recordings."""
    from tritonhost.codegen import backend as backend_module

    def runnable(compiled, graph, backend, cuda_graphs):
        runner = CudaGraphRunner(compiled.module.forward, compiled.program)
        runner.recording_type = type("Emulated", (EmulatedRecording,), {"given_by_capture": runner._given})
        compiled.cuda_graphs = runner
        return backend_module.boxed(compiled.module, runner)

    monkeypatch.setattr(backend_module, "_runnable", runnable)


def _cpu_inputs(n=64):
    return torch.randn(n), torch.randn(n)


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_every_program_replays_with_eagers_results_emulated(emulated, program):
    runner = _replays_with_eagers_results(program, _cpu_inputs)
    assert (runner.replays, runner.plain) == (3, 1)


def test_an_input_written_in_place_keeps_every_write_emulated(emulated):
    program = BY_NAME["input_mutation"]
    x, y = _cpu_inputs()
    with capture_wrappers() as wrappers:
        compiled = _compiled(program.fn, options={"cuda_graphs": True})
        for _ in range(4):
            x.normal_()
            want_x = x.clone()
            want = program.reference(want_x, y)
            got = compiled(x, y)
            torch.testing.assert_close(got, want)
            torch.testing.assert_close(x, want_x)
            del got
    assert wrappers[0].cuda_graphs.replays == 3


@pytest.mark.parametrize("hold", ["tensor", "view", "storage"])
def test_a_held_output_is_never_overwritten_emulated(emulated, hold):
    program = BY_NAME["chain"]
    x, y = _cpu_inputs()
    with capture_wrappers() as wrappers:
        compiled = _compiled(program.fn, options={"cuda_graphs": True})
        compiled(x, y)
    runner = wrappers[0].cuda_graphs
    out = compiled(x, y)
    want = program.reference(x, y)
    held = {"tensor": lambda t: t, "view": lambda t: t[:5], "storage": lambda t: t.untyped_storage()}[hold](out)
    del out
    x.normal_()
    torch.testing.assert_close(compiled(x, y), program.reference(x, y))
    assert runner.plain == 2  # ran without the graph
    shown = torch.empty(0, dtype=want.dtype).set_(held) if hold == "storage" else held
    torch.testing.assert_close(shown[:5], want[:5])
    del shown
    del held
    compiled(x, y)
    assert runner.replays == 2


def test_this_torch_shows_which_outputs_are_held():
    assert holders_show_what_is_held()


def test_operations_done_on_the_host_are_refused():
    assert _host_side(torch.ops.aten.set_.source_Tensor)
    assert _host_side(torch.ops.aten.resize_.default)
    assert _host_side(torch.ops.aten.as_strided.default)
    assert _host_side(torch.ops.aten.transpose_.default)  # tagged inplace_view
    assert not _host_side(torch.ops.aten.add.Tensor)
    assert not _host_side(torch.ops.aten.copy_.default)  # writes data, which a replay writes again


def test_kinds_of_call_tell_float_values_apart():
    runner = CudaGraphRunner(lambda *args: (), Program([], [], []))
    assert runner._kind((0.0,)) != runner._kind((-0.0,))
    assert runner._kind((float("nan"),)) == runner._kind((float("nan"),))
    assert runner._kind((1,)) != runner._kind((1.0,)) != runner._kind((True,))


def test_outputs_that_are_inputs_do_not_keep_the_callers_tensors(emulated):
    x, y = torch.randn(64, requires_grad=True), torch.randn(64, requires_grad=True)
    with capture_wrappers() as wrappers:
        compiled = _compiled(add_saving_inputs, options={"cuda_graphs": True})
        for _ in range(3):  # x and y recorded in place, and returned by the forward for backward
            compiled(x, y).sum().backward()
    assert wrappers[0].cuda_graphs.replays == 2
    torch.testing.assert_close(x.grad, 6 * y.detach())  # d/dx of 2xy summed, three times
    gone = weakref.ref(x)
    del x
    gc.collect()
    assert gone() is None


def test_a_recording_that_fails_runs_without_graphs_for_that_kind(emulated, monkeypatch, caplog):
    def fail(self, run, copies, static, device):
        raise ValueError("no capture today")

    program = BY_NAME["chain"]
    with capture_wrappers() as wrappers:
        compiled = _compiled(program.fn, options={"cuda_graphs": True})
        x, y = _cpu_inputs()
        compiled(x, y)
    runner = wrappers[0].cuda_graphs
    monkeypatch.setattr(runner, "recording_type", type("Failing", (EmulatedRecording,), {"_capture": fail}))
    with caplog.at_level(logging.WARNING, "tritonhost.codegen"):
        for _ in range(3):
            torch.testing.assert_close(compiled(x, y), program.reference(x, y))
    assert (runner.replays, runner.plain) == (0, 4)
    assert caplog.text.count("recording a CUDA graph failed") == 1 and "ValueError: no capture today" in caplog.text


def test_recordings_are_limited_not_kinds_seen(emulated):
    program = BY_NAME["chain"]
    torch._dynamo.reset()
    with capture_wrappers() as wrappers:
        compiled = torch.compile(program.fn, backend="tritonhost", dynamic=True, options={"cuda_graphs": True})
        for n in range(64, 64 + LIMIT + 3):  # each size seen once: none recorded
            compiled(*_cpu_inputs(n))
        for n in range(64, 64 + LIMIT + 3):
            for _ in range(2):
                x, y = _cpu_inputs(n)
                torch.testing.assert_close(compiled(x, y), program.reference(x, y))
    runner = wrappers[0].cuda_graphs
    # Graphs were recorded on second calls only, up to the limit. Counted by recordings, not
    # replays: once, on torch 2.11 under xdist, one size's two replays were missing from this
    # runner (values right; the cause, perhaps a second graph Dynamo compiled, was not found).
    assert runner._recorded == LIMIT
    assert sum(len(kind.recordings) for kind in runner._kinds.values()) == LIMIT


def test_calls_from_several_threads_take_turns(emulated):
    program = BY_NAME["chain"]
    with capture_wrappers() as wrappers:
        compiled = _compiled(program.fn, options={"cuda_graphs": True})
        compiled(*_cpu_inputs())
    failures = []

    def work():
        for _ in range(20):
            x, y = _cpu_inputs()
            try:
                torch.testing.assert_close(compiled(x, y), program.reference(x, y))
            except AssertionError as exc:
                failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and wrappers[0].cuda_graphs.replays > 0


@pytest.fixture
def modelled_and_emulated(monkeypatch, emulated):
    """As emulated, with Dynamo modelling plain kernel[grid] launches as where Triton can compile."""
    import torch.utils._triton

    monkeypatch.setattr(torch.utils._triton, "has_triton", lambda: True)
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize(
    ("fn", "reference", "shape"),
    [(libf.rms_norm, libf.rms_norm_reference, ((8, 32), (32,))), (libf.swiglu, libf.swiglu_reference, ((256,), (256,)))],
    ids=["rms_norm", "swiglu in-place backward"],
)
def test_library_autograd_functions_train_through_graphs_emulated(modelled_and_emulated, fn, reference, shape):
    runners = _trains_through_graphs(fn, reference, lambda: [torch.randn(s) for s in shape], 1e-4)
    assert [(r.replays, r.plain) for r in runners] == [(3, 1), (3, 1)]  # forward, backward


# --- on a GPU ------------------------------------------------------------------------------------


@pytest.fixture
def cuda():
    with tritonhost.use_backend("cuda"):
        yield


def _inputs(n=64, device="cuda"):  # the programs' blocks are sized for 64 elements
    return torch.randn(n, device=device), torch.randn(n, device=device)


@pytest.mark.gpu
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_every_program_replays_with_eagers_results(cuda, program):
    runner = _replays_with_eagers_results(program, _inputs)
    assert runner is not None, "the program was refused"
    assert (runner.replays, runner.plain) == (3, 1)


@pytest.mark.gpu
def test_reduce_overhead_mode_is_the_option(cuda):
    program = BY_NAME["chain"]
    with capture_wrappers() as wrappers:
        compiled = _compiled(program.fn, mode="reduce-overhead")
        for _ in range(3):
            x, y = _inputs()
            torch.testing.assert_close(compiled(x, y), program.reference(x, y))
    assert wrappers[0].cuda_graphs is not None and wrappers[0].cuda_graphs.replays == 2


@pytest.mark.gpu
def test_an_input_written_in_place_keeps_every_write(cuda):
    """The same tensor given every call, accumulated into by an autotuned kernel (reset_to_zero while tuning)."""

    def accumulate(x, acc):
        autotuned_accumulate_kernel[lambda meta: (triton.cdiv(x.numel(), meta["BLOCK"]),)](x, acc, x.numel())
        return acc * 2

    x, acc = torch.randn(300, device="cuda"), torch.zeros(300, device="cuda")
    with capture_wrappers() as wrappers:
        compiled = _compiled(accumulate, options={"cuda_graphs": True})
        for calls in range(1, 6):
            doubled = compiled(x, acc)
            torch.testing.assert_close(acc, calls * x)  # tuning's runs left no trace; each call added once
            torch.testing.assert_close(doubled, 2 * calls * x)
            del doubled  # held, it would keep the next call off the graph
    assert wrappers[0].cuda_graphs.replays == 4


@pytest.mark.gpu
def test_inputs_reused_at_one_address_are_read_in_place(cuda):
    """A server's static buffers: refilled between calls, recorded in place, no copies; other tensors still work."""
    program = BY_NAME["kernel_then_kernel_in_place"]
    x, y = _inputs()
    with capture_wrappers() as wrappers:
        compiled = _compiled(program.fn, options={"cuda_graphs": True})
        for _ in range(4):
            x.normal_()
            y.normal_()
            torch.testing.assert_close(compiled(x, y), program.reference(x, y))
    runner = wrappers[0].cuda_graphs
    (kind,) = runner._kinds.values()
    (in_place,) = kind.recordings
    assert in_place._inputs == ()  # nothing copied in
    other_x, other_y = _inputs()
    torch.testing.assert_close(compiled(other_x, other_y), program.reference(other_x, other_y))
    torch.testing.assert_close(compiled(x, y), program.reference(x, y))
    assert len(kind.recordings) == 2 and (runner.replays, runner.plain) == (5, 1)


@pytest.mark.gpu
def test_sizes_that_change_record_a_graph_each(cuda):
    program = BY_NAME["chain"]
    torch._dynamo.reset()
    with capture_wrappers() as wrappers:
        compiled = torch.compile(program.fn, backend="tritonhost", dynamic=True, options={"cuda_graphs": True})
        for n in [64, 100, 64, 100, 64, 100]:
            x, y = _inputs(n)
            torch.testing.assert_close(compiled(x, y), program.reference(x, y))
    (wrapper,) = wrappers  # one dynamic graph
    assert (wrapper.cuda_graphs.replays, wrapper.cuda_graphs.plain) == (4, 2)


@pytest.mark.gpu
def test_sizes_beyond_the_limit_run_without_graphs(cuda):
    program = BY_NAME["chain"]
    torch._dynamo.reset()
    with capture_wrappers() as wrappers:
        compiled = torch.compile(program.fn, backend="tritonhost", dynamic=True, options={"cuda_graphs": True})
        for n in range(64, 64 + LIMIT + 3):
            for _ in range(2):
                x, y = _inputs(n)
                torch.testing.assert_close(compiled(x, y), program.reference(x, y))
    runner = wrappers[0].cuda_graphs
    assert runner._recorded == LIMIT  # sizes past the limit ran without graphs (values checked above)


@pytest.mark.gpu
@pytest.mark.parametrize("same_tensors", [True, False], ids=["inputs recorded in place", "inputs copied in"])
def test_outputs_the_caller_keeps_are_never_overwritten(cuda, same_tensors):
    program = BY_NAME["chain"]
    x, y = _inputs()

    def call():
        if same_tensors:
            x.normal_()
            y.normal_()
            return compiled(x, y), program.reference(x, y)
        fresh_x, fresh_y = x.clone().normal_(), y.clone().normal_()
        return compiled(fresh_x, fresh_y), program.reference(fresh_x, fresh_y)

    with capture_wrappers() as wrappers:
        compiled = _compiled(program.fn, options={"cuda_graphs": True})
        call()  # compiles; the warm-up
    runner = wrappers[0].cuda_graphs
    replayed, want = call()  # recorded, replayed: the graph's own output memory
    assert (runner.replays, runner.plain) == (1, 1)
    plain = runner.plain

    view = replayed[:10]  # a view holds the output's storage
    del replayed
    got, want_now = call()
    torch.testing.assert_close(view, want[:10])  # not overwritten by the call above
    torch.testing.assert_close(got, want_now)
    if same_tensors:
        assert runner.plain == plain + 1
    del view, got

    storage = call()[0].untyped_storage()  # so does a storage object
    plain = runner.plain
    got, want_now = call()
    torch.testing.assert_close(got, want_now)
    del got
    if same_tensors:  # fresh tensors may fit either of two recordings, and only one is held
        assert runner.plain == plain + 1  # ran without the graph rather than overwrite the storage's memory
    del storage
    replays = runner.replays
    call()
    assert runner.replays == replays + 1  # nothing held: replays again

    kept = [call() for _ in range(4)]
    for got, want in kept:
        torch.testing.assert_close(got, want)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize(
    ("fn", "reference", "shape"),
    [(libf.rms_norm, libf.rms_norm_reference, ((64, 256), (256,))), (libf.swiglu, libf.swiglu_reference, ((4096,), (4096,)))],
    ids=["rms_norm", "swiglu in-place backward"],
)
def test_library_autograd_functions_train_through_graphs(cuda, fn, reference, shape, dtype):
    """autograd.Functions launching plain kernel[grid] in forward and backward, several steps."""
    if fn is libf.swiglu and dtype == torch.bfloat16:
        pytest.skip("the library's swiglu kernels take fp32 only (tl.sigmoid of bf16 does not compile)")
    rtol = 1e-4 if dtype == torch.float32 else 2e-2
    runners = _trains_through_graphs(fn, reference, lambda: [torch.randn(s, device="cuda").to(dtype) for s in shape], rtol)
    assert len(runners) == 2 and all(r is not None and r.replays == 3 for r in runners)  # forward and backward
