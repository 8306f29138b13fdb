"""Eager launches through prepared launches, one per kind of call (kernel/prepared_calls.py).

On the CPU the runner's slow path is the interpreter, which runs the kernel for real; the
prepared launches are compat.direct_launch.DirectLaunch objects with their checks computed
as on a GPU, whose driver launch (there is no GPU here) records what it was given. The same
paths on CUDA, with real launches, are the ``gpu`` tests at the end.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import triton
import triton.language as tl

import tritonhost
from kernels import add_kernel, autotuned_scale_kernel, heuristic_softmax_kernel, relu_inplace_kernel
from tritonhost.compat.direct_launch import DirectLaunch, checks_of, globals_of
from tritonhost.kernel.prepared_calls import LIMIT, PreparedCalls


class Recorder:
    """A launcher's ``prepare`` for the CPU: DirectLaunch objects whose driver launch is recorded."""

    def __init__(self, decorated):
        self.jit = decorated.jit
        self.prepared = []  # (params, options, varying) of each prepare
        self.launches = []  # (grid, values) of each prepared launch

    def __call__(self, params, options, varying):
        self.prepared.append((params, options, varying))
        values = [params[name] for name in self.jit.arg_names]
        binary = SimpleNamespace(
            function=None,
            packed_metadata=None,
            run=lambda g0, g1, g2, stream, function, meta, launch_meta, enter, exit_, *values: (
                self.launches.append(((g0, g1, g2), values))
            ),
        )
        return DirectLaunch(checks_of(self.jit, values, varying), globals_of(self.jit), binary, lambda: 0,
                            lambda device: 0, 0)


@pytest.fixture
def recorded(interpreter):
    """``recorded(kernel)``: the kernel's runner on the interpreter, preparing launches into a Recorder."""

    def make(kernel):
        runner = tritonhost.wrap(kernel).runner()
        recorder = Recorder(runner.decorated)
        key = runner.decorated.layers[0].key if runner.decorated.layers else ()
        runner.prepared_calls = PreparedCalls(runner.decorated, recorder, tuple(key))
        return runner, recorder

    yield make
    for kernel in (add_kernel, autotuned_scale_kernel, relu_inplace_kernel):
        tritonhost.wrap(kernel)._runners.clear()  # the next test gets the real launcher's


def _inputs(n=100):
    return torch.randn(n), torch.randn(n), torch.empty(n)


def test_a_second_call_of_the_same_kind_launches_prepared(recorded):
    runner, recorder = recorded(add_kernel)
    x, y, out = _inputs()
    runner.launch((4, 1, 1), (x, y, out, 100), {"BLOCK": 32})  # the interpreter runs it
    torch.testing.assert_close(out, x + y)
    assert not recorder.launches
    ((params, _, varying),) = recorder.prepared
    assert params["BLOCK"] == 32 and varying == {"x_ptr", "y_ptr", "out_ptr", "n_elements"}
    x2, y2, out2 = _inputs()
    runner.launch((4, 1, 1), (x2, y2, out2, 100), {"BLOCK": 32})
    ((grid, values),) = recorder.launches
    assert grid == (4, 1, 1) and values[:4] == (x2, y2, out2, 100) and values[4] == 32
    assert len(recorder.prepared) == 1


def test_another_constexpr_value_is_another_kind_of_call(recorded):
    runner, recorder = recorded(add_kernel)
    x, y, out = _inputs()
    runner.launch((4, 1, 1), (x, y, out, 100), {"BLOCK": 32})
    runner.launch((2, 1, 1), (x, y, out, 100), {"BLOCK": 64})  # not the BLOCK=32 binary
    assert not recorder.launches and [p["BLOCK"] for p, _, _ in recorder.prepared] == [32, 64]
    runner.launch((2, 1, 1), (x, y, out, 100), {"BLOCK": 64})
    assert recorder.launches[-1][1][4] == 64


def test_kinds_of_call_alternating_each_find_their_own_launch(recorded):
    runner, recorder = recorded(add_kernel)
    x, y, out = _inputs()
    for block in (32, 64):
        runner.launch((4, 1, 1), (x, y, out, 100), {"BLOCK": block})  # learned
    for block in (32, 64, 32, 32, 64):  # the last kind of call is kept aside: each switch looks again
        runner.launch((4, 1, 1), (x, y, out, 100), {"BLOCK": block})
    assert [values[4] for _, values in recorder.launches] == [32, 64, 32, 32, 64]
    calls = runner.prepared_calls
    # A keyword value whose == raises (a tensor for a constexpr) is no kind kept here.
    assert not calls.launch((4, 1, 1), (x, y, out, 100), {"BLOCK": torch.ones(2)})
    assert not calls.launch((4, 1, 1), (x, y, out, 100), {"BLOCK": 16})  # unknown: nothing launched
    assert not calls.launch((4, 1, 1), (x, y, out), {"BLOCK": 64})  # another positional count
    assert len(recorder.launches) == 5


def test_a_positional_constexpr_is_compared_by_value_and_type(recorded):
    runner, recorder = recorded(add_kernel)
    x, y, out = _inputs()
    runner.launch((4, 1, 1), (x, y, out, 100, 32), {})
    runner.launch((4, 1, 1), (x, y, out, 100, 32), {})
    assert len(recorder.launches) == 1
    out.zero_()
    runner.launch((2, 1, 1), (x, y, out, 100, 64), {})  # declined: the interpreter runs it
    torch.testing.assert_close(out, x + y)
    assert len(recorder.launches) == 1


@pytest.mark.parametrize("change", ["dtype", "alignment", "size class", "int to float"])
def test_values_of_another_specialization_go_through_the_runner(recorded, change):
    runner, recorder = recorded(add_kernel)
    x, y, out = _inputs(128)
    runner.launch((4, 1, 1), (x, y, out, 128), {"BLOCK": 32})
    args = {
        "dtype": (x.double(), y.double(), out.double(), 128),
        "alignment": (x[1:], y[1:], out[1:], 127),
        "size class": (x, y, out, 100),  # 128 is divisible by 16, 100 is not
        "int to float": (x, y, out, 128.0),
    }[change]
    xs, ys, outs, n = args
    outs.zero_()
    runner.launch((4, 1, 1), args, {"BLOCK": 32})  # the interpreter runs it
    n = int(n)
    torch.testing.assert_close(outs[:n], xs[:n] + ys[:n])
    assert not recorder.launches


def test_a_callable_grid_sees_every_parameter(recorded):
    runner, recorder = recorded(add_kernel)
    x, y, out = _inputs()
    seen = []

    def grid(meta):
        seen.append(dict(meta))
        return (triton.cdiv(meta["n_elements"], meta["BLOCK"]),)

    runner.launch(grid, (x, y, out, 100), {"BLOCK": 32})
    runner.launch(grid, (x, y, out, 100), {"BLOCK": 32})
    assert recorder.launches[0][0] == (4, 1, 1)
    assert seen[0] == seen[1] == {"x_ptr": x, "y_ptr": y, "out_ptr": out, "n_elements": 100, "BLOCK": 32}


def test_defaults_are_prepared_with_the_call(recorded):
    runner, recorder = recorded(relu_inplace_kernel)
    x = torch.randn(64)
    runner.launch((1, 1, 1), (x, 64), {})
    runner.launch((1, 1, 1), (x, 64), {})
    assert recorder.launches[0][1] == (x, 64, 64)  # BLOCK's default


def test_a_non_constexpr_keyword_is_never_prepared(recorded, caplog):
    runner, recorder = recorded(add_kernel)
    x, y, out = _inputs()
    with caplog.at_level("DEBUG", logger="tritonhost.launch"):
        for n in (100, 100, 99):
            runner.launch((4, 1, 1), (x, y, out), {"n_elements": n, "BLOCK": 32})
    assert not recorder.prepared and not recorder.launches
    (line,) = [r.getMessage() for r in caplog.records if "launch through Triton's run" in r.getMessage()]
    assert "'n_elements' is passed by keyword and is not a constexpr" in line


def test_a_value_a_prepared_launch_cannot_check_is_never_prepared(recorded):
    runner, recorder = recorded(add_kernel)
    x, y, out = _inputs()

    class Size(int):  # Triton specializes it as an int; a prepared launch checks the type exactly
        pass

    runner.launch((4, 1, 1), (x, y, out, 100), {"BLOCK": 32})
    runner.launch((4, 1, 1), (x, y, out, Size(100)), {"BLOCK": 32})
    assert not recorder.launches  # the runner launched Size(100)
    calls = runner.prepared_calls
    calls.learn((x, y, out, object()), {"BLOCK": 16}, {}, {})  # a descriptor, a tuple: not checked
    assert len(recorder.prepared) == 1 and (4, "BLOCK") in calls._refused


def test_an_autotuned_kernel_is_prepared_per_tuning_key(recorded):
    runner, recorder = recorded(autotuned_scale_kernel)
    x = torch.randn(300)
    out = torch.empty_like(x)
    grid = lambda meta: (triton.cdiv(meta["n_elements"], meta["BLOCK"]),)
    for n in (300, 200, 300, 200):
        runner.launch(grid, (x, out, 2.0, n), {})
    assert [p["n_elements"] for p, _, _ in recorder.prepared] == [300, 200]
    assert [values[3] for _, values in recorder.launches] == [300, 200]
    chosen = {p["n_elements"]: p["BLOCK"] for p, _, _ in recorder.prepared}
    assert [values[4] for _, values in recorder.launches] == [chosen[300], chosen[200]]


def test_a_config_pre_hook_keeps_the_kernel_on_the_runner(interpreter):
    hooked = []

    @triton.autotune(
        configs=[triton.Config({"BLOCK": 32}, pre_hook=lambda args: hooked.append(1)), triton.Config({"BLOCK": 64})],
        key=["n"],
    )
    @triton.jit
    def copy_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(out_ptr + offsets, tl.load(x_ptr + offsets, mask=offsets < n), mask=offsets < n)

    runner = tritonhost.wrap(copy_kernel).runner()
    recorder = Recorder(runner.decorated)
    runner.prepared_calls = PreparedCalls(runner.decorated, recorder, ("n",))
    x = torch.randn(64)
    out = torch.empty_like(x)
    for _ in range(3):
        runner.launch(lambda meta: (triton.cdiv(64, meta["BLOCK"]),), (x, out, 64), {})
    assert hooked == [1, 1, 1] and not recorder.prepared  # the interpreter takes the first config


def test_a_changed_global_declines_so_that_triton_says_why(recorded):
    runner, _ = recorded(add_kernel)
    x, y, out = _inputs()
    runner.launch((4, 1, 1), (x, y, out, 100), {"BLOCK": 32})
    prepared = runner.prepared_calls._kinds[(4, ("BLOCK", 32))].calls[()].prepared
    namespace = {"SCALE": 2}
    prepared._globals = (("SCALE", 2, namespace),)  # what Triton records for a kernel reading SCALE
    assert prepared((1, 1, 1), (x, y, out, 100, 32))
    namespace["SCALE"] = 3
    assert not prepared((1, 1, 1), (x, y, out, 100, 32))


def test_kinds_of_call_are_bounded(recorded):
    runner, recorder = recorded(add_kernel)
    x, y, out = _inputs(64)
    for warps in range(1, LIMIT + 9):  # each num_warps is another kind of call
        runner.launch((1, 1, 1), (x, y, out, 64), {"BLOCK": 64, "num_warps": warps})
    assert len(recorder.prepared) == LIMIT


def test_decorations_the_runner_must_see_every_call_are_not_prepared(monkeypatch):
    monkeypatch.setenv("TRITONHOST_PREPARED_LAUNCH", "1")
    heuristics = tritonhost.wrap(heuristic_softmax_kernel).decorated
    assert PreparedCalls.make(heuristics, Recorder(heuristics)) is None  # has prepare, but heuristics
    plain = tritonhost.wrap(add_kernel).decorated
    assert PreparedCalls.make(plain, object()) is None  # a launcher without prepare
    launcher = type("L", (), {"prepare": Recorder(plain)})()
    assert PreparedCalls.make(plain, launcher) is not None


@pytest.mark.parametrize(("value", "on"), [(None, True), ("1", True), ("0", False), (" 0 ", False)])
def test_prepared_launches_are_on_unless_turned_off(monkeypatch, value, on):
    plain = tritonhost.wrap(add_kernel).decorated
    launcher = type("L", (), {"prepare": Recorder(plain)})()
    if value is None:
        monkeypatch.delenv("TRITONHOST_PREPARED_LAUNCH", raising=False)
    else:
        monkeypatch.setenv("TRITONHOST_PREPARED_LAUNCH", value)
    assert (PreparedCalls.make(plain, launcher) is not None) is on


# --- on a GPU: the same paths with real launches -------------------------------------------


@pytest.fixture
def cuda_prepared(monkeypatch):
    """The cuda backend, with prepared eager launches on, for kernels whose runners are made afresh."""
    monkeypatch.setenv("TRITONHOST_PREPARED_LAUNCH", "1")
    kernels = (add_kernel, autotuned_scale_kernel)
    for kernel in kernels:
        tritonhost.wrap(kernel)._runners.clear()
    with tritonhost.use_backend("cuda"):
        yield
    for kernel in kernels:
        tritonhost.wrap(kernel)._runners.clear()


@pytest.mark.gpu
def test_cuda_prepared_launches_compute_what_triton_computes(cuda_prepared):
    runner = tritonhost.wrap(add_kernel).runner()
    assert runner.prepared_calls is not None
    for n, block, dtype, offset in [(1000, 128, torch.float32, 0), (1000, 128, torch.float32, 0),
                                    (1024, 128, torch.float32, 0), (1000, 256, torch.float32, 0),
                                    (1000, 128, torch.float16, 0), (999, 128, torch.float32, 1),
                                    (1000, 128, torch.float32, 0)]:
        base = torch.randn(n + offset, device="cuda", dtype=dtype)
        x, y = base[offset:], torch.randn(n, device="cuda", dtype=dtype)
        out = torch.full_like(x, float("nan"))
        tritonhost.wrap(add_kernel)[(triton.cdiv(n, block),)](x, y, out, n, BLOCK=block)
        torch.testing.assert_close(out, x + y)
    kinds = runner.prepared_calls._kinds
    assert (4, ("BLOCK", 128)) in kinds and (4, ("BLOCK", 256)) in kinds


@pytest.mark.gpu
def test_cuda_prepared_autotuned_launches_follow_the_tuning_key(cuda_prepared):
    for n in (300, 5000, 300, 5000, 300):
        x = torch.randn(n, device="cuda")
        out = torch.empty_like(x)
        grid = lambda meta: (triton.cdiv(meta["n_elements"], meta["BLOCK"]),)
        tritonhost.wrap(autotuned_scale_kernel)[grid](x, out, 2.0, n)
        torch.testing.assert_close(out, 2 * x)
    calls = tritonhost.wrap(autotuned_scale_kernel).runner().prepared_calls
    assert calls is not None and calls._size == 2


@pytest.mark.gpu
def test_cuda_prepared_launch_follows_the_current_stream(cuda_prepared):
    x, y = torch.randn(1 << 20, device="cuda"), torch.randn(1 << 20, device="cuda")
    out = torch.empty_like(x)
    launch = tritonhost.wrap(add_kernel)[(triton.cdiv(x.numel(), 1024),)]
    launch(x, y, out, x.numel(), BLOCK=1024)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        # The stream is kept busy before the zero_, so that a launch on any other stream
        # would run first and be zeroed: the test does not rest on a race.
        torch.cuda._sleep(100_000_000)
        out.zero_()
        launch(x, y, out, x.numel(), BLOCK=1024)  # prepared, on `stream`, ordered after the zero_
    torch.cuda.current_stream().wait_stream(stream)
    torch.testing.assert_close(out, x + y)


@pytest.mark.gpu
def test_cuda_host_tensor_through_a_prepared_launch_names_the_argument(cuda_prepared):
    x = torch.randn(64, device="cuda")
    tritonhost.wrap(add_kernel)[(1,)](x, x, x, 64, BLOCK=64)
    tritonhost.wrap(add_kernel)[(1,)](x, x, x, 64, BLOCK=64)
    with pytest.raises(tritonhost.TritonhostError, match="y_ptr"):
        tritonhost.wrap(add_kernel)[(1,)](x, torch.randn(64), x, 64, BLOCK=64)


@pytest.mark.gpu
def test_cuda_prepared_launch_calls_the_c_launch_where_its_layout_was_checked(cuda_prepared):
    from triton import knobs

    from tritonhost.compat.direct_launch import C_LAUNCH_VERSIONS

    x, y = torch.randn(4096, device="cuda"), torch.randn(4096, device="cuda")
    out = torch.empty_like(x)
    launch = tritonhost.wrap(add_kernel)[(4,)]
    launch(x, y, out, 4096, BLOCK=1024)  # through the runner, which prepares the kind of call
    calls = tritonhost.wrap(add_kernel).runner().prepared_calls
    prepared = calls._kinds[(4, ("BLOCK", 1024))].calls[()].prepared
    version = tuple(int(part) for part in triton.__version__.split(".")[:2])
    assert (prepared._c_launch is not None) is (version in C_LAUNCH_VERSIONS)
    seen = []
    hook = seen.append
    knobs.runtime.launch_enter_hook.add(hook)  # a profiler's hook: called once per launch, as by run()
    try:
        out.zero_()
        launch(x, y, out, 4096, BLOCK=1024)
    finally:
        knobs.runtime.launch_enter_hook.remove(hook)
    torch.cuda.synchronize()
    torch.testing.assert_close(out, x + y)
    assert len(seen) == 1
    out.zero_()
    launch(x, y, out, 4096, BLOCK=1024)
    torch.testing.assert_close(out, x + y)
    assert len(seen) == 1


def _gpus() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@pytest.mark.gpu
@pytest.mark.skipif(_gpus() < 2, reason="needs two GPUs (nvidia-h100-x2); not run on one")
def test_cuda_launches_on_the_second_gpu_under_its_device_and_stream(cuda_prepared):
    n = 1 << 16
    launch = tritonhost.wrap(add_kernel)[(triton.cdiv(n, 1024),)]
    with torch.cuda.device(1):
        x, y = torch.randn(n, device="cuda"), torch.randn(n, device="cuda")
        for _ in range(3):  # the first call learns the kind of call, the others are prepared
            out = torch.full_like(x, float("nan"))
            launch(x, y, out, n, BLOCK=1024)
            torch.testing.assert_close(out, x + y)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            torch.cuda._sleep(100_000_000)  # busy, so that a launch on another stream would be zeroed
            out.zero_()
            launch(x, y, out, n, BLOCK=1024)  # on device 1's stream, after its zero_
        torch.cuda.current_stream().wait_stream(stream)
        torch.testing.assert_close(out, x + y)
    # Back on device 0, the same kind of call launches there, not with device 1's binary.
    a, b = torch.randn(n, device="cuda:0"), torch.randn(n, device="cuda:0")
    out = torch.empty_like(a)
    launch(a, b, out, n, BLOCK=1024)
    torch.testing.assert_close(out, a + b)

