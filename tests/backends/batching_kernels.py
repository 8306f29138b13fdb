"""Kernels for the batched interpreter: every program works on its own row, so a value mixed up
between programs, or an axis off by one, shows in the result."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _max_abs(a, b):
    return tl.where(tl.abs(a) >= tl.abs(b), a, b)


@triton.jit
def _running_max(a, b):
    return tl.maximum(a, b)


@triton.jit
def _argmin_combine(value_a, index_a, value_b, index_b):
    smaller = (value_a < value_b) | ((value_a == value_b) & (index_a < index_b))
    return tl.where(smaller, value_a, value_b), tl.where(smaller, index_a, index_b)


@triton.jit
def row_reductions(x_ptr, sum_ptr, max_ptr, argmax_ptr, maxabs_ptr, argmin_ptr, cumsum_ptr, runmax_ptr,
                   n_cols, BLOCK: tl.constexpr):
    """Per row: fast-path reductions, a custom reduce, a tuple reduce, a cumsum and a custom scan."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=0.0)
    tl.store(sum_ptr + row, tl.sum(x, axis=0))
    tl.store(max_ptr + row, tl.max(tl.where(mask, x, -float("inf")), axis=0))
    tl.store(argmax_ptr + row, tl.argmax(tl.where(mask, x, -float("inf")), axis=0))
    tl.store(maxabs_ptr + row, tl.reduce(x, 0, _max_abs))
    _, where_min = tl.reduce((tl.where(mask, x, float("inf")), cols), 0, _argmin_combine)
    tl.store(argmin_ptr + row, where_min)
    tl.store(cumsum_ptr + row * n_cols + cols, tl.cumsum(x, axis=0), mask=mask)
    tl.store(runmax_ptr + row * n_cols + cols, tl.associative_scan(x, 0, _running_max), mask=mask)


@triton.jit
def tile_shapes(x_ptr, t_ptr, colsum_ptr, rowsum_ptr, flat_ptr, cat_ptr, join_ptr, M: tl.constexpr,
                N: tl.constexpr):
    """Per program an M x N tile: transposes, reductions on each axis, reshape, cat, join and split."""
    pid = tl.program_id(0)
    rows = tl.arange(0, M)
    cols = tl.arange(0, N)
    base = x_ptr + pid * M * N
    tile = tl.load(base + rows[:, None] * N + cols[None, :])
    tl.store(t_ptr + pid * M * N + cols[:, None] * M + rows[None, :], tl.trans(tile))
    tl.store(colsum_ptr + pid * N + cols, tl.sum(tile, axis=0))
    tl.store(rowsum_ptr + pid * M + rows, tl.sum(tile, axis=1, keep_dims=True).reshape(M))
    flat = tl.reshape(tile, (M * N,))
    tl.store(flat_ptr + pid * M * N + tl.arange(0, M * N), flat * 2)
    first, second = tl.load(base + cols), tl.load(base + N + cols)
    tl.store(cat_ptr + pid * 2 * N + tl.arange(0, 2 * N), tl.cat(first, second, can_reorder=True))
    a, b = tl.split(tl.join(first, second))
    tl.store(join_ptr + pid * 2 * N + cols, b)
    tl.store(join_ptr + pid * 2 * N + N + cols, a)


@triton.jit
def gather_histogram(x_ptr, index_ptr, gathered_ptr, hist_ptr, BLOCK: tl.constexpr, BINS: tl.constexpr):
    pid = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + pid * BLOCK + offs)
    index = tl.load(index_ptr + pid * BLOCK + offs)
    tl.store(gathered_ptr + pid * BLOCK + offs, tl.gather(x, index, 0))
    tl.store(hist_ptr + pid * BINS + tl.arange(0, BINS), tl.histogram(index, BINS))


@triton.jit
def tile_matmul(a_ptr, b_ptr, c_ptr, K, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """C = A @ B, a program per output tile, looping over K (the trip count is the same for all)."""
    pid_m, pid_n = tl.program_id(0), tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        a = tl.load(a_ptr + rm[:, None] * K + (k + rk)[None, :])
        b = tl.load(b_ptr + (k + rk)[:, None] * N + rn[None, :])
        acc += tl.dot(a, b)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], acc)


@triton.jit
def atomic_counts(x_ptr, bins_ptr, total_ptr, peak_ptr, low_ptr, BLOCK: tl.constexpr):
    """Commutative atomics from every program into shared memory."""
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    tl.atomic_add(bins_ptr + (x.to(tl.int32) & 7), 1)
    tl.atomic_add(total_ptr, tl.sum(x, axis=0))
    tl.atomic_max(peak_ptr, tl.max(x.to(tl.int32), axis=0))
    tl.atomic_min(low_ptr, tl.min(x.to(tl.int32), axis=0))


@triton.jit
def increment_then_branch_on_pid(x_ptr, out_ptr, BLOCK: tl.constexpr):
    """In place first, then a branch on the program id: the batched attempt must leave no trace."""
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    tl.store(x_ptr + offs, tl.load(x_ptr + offs) + 1)
    if pid % 2 == 0:
        tl.store(out_ptr + pid, 1.0)
    else:
        tl.store(out_ptr + pid, -1.0)


@triton.jit
def loop_per_program(out_ptr):
    """A loop whose trip count is the program id."""
    pid = tl.program_id(0)
    total = 0
    for i in range(pid + 1):
        total += i
    tl.store(out_ptr + pid, total)


@triton.jit
def branch_on_data(flags_ptr, out_ptr, BLOCK: tl.constexpr):
    """A branch on a loaded value; with equal flags in every program it stays batched."""
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    if tl.load(flags_ptr + pid) > 0:
        tl.store(out_ptr + offs, offs.to(tl.float32))
    else:
        tl.store(out_ptr + offs, -offs.to(tl.float32))


@triton.jit
def locked_increment(lock_ptr, counter_ptr):
    while tl.atomic_cas(lock_ptr, 0, 1) == 1:
        pass
    tl.store(counter_ptr, tl.load(counter_ptr) + 1)
    tl.atomic_xchg(lock_ptr, 0)


@triton.jit
def exchange(slot_ptr, seen_ptr):
    pid = tl.program_id(0)
    tl.store(seen_ptr + pid, tl.atomic_xchg(slot_ptr, pid))


@triton.jit
def barrier_copy(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.load(x_ptr + offs))
    tl.debug_barrier()
    tl.store(out_ptr + offs, tl.load(out_ptr + offs) * 2)


@triton.jit
def printing(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    tl.device_print("x", x)
    tl.store(out_ptr + offs, x + 1)


@triton.jit
def descriptor_copy(in_desc, out_desc, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    out_desc.store([pid * BLOCK, 0], in_desc.load([pid * BLOCK, 0]))


@triton.jit
def copy_past_the_end(src_ptr, dst_ptr, BLOCK: tl.constexpr):
    """Program 2 reads past the end of src; programs 0 and 1 have written by then."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(dst_ptr + offs, tl.load(src_ptr + offs))


@triton.jit
def scale_rows(x_ptr, out_ptr, n_cols, scale, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask)
    tl.store(out_ptr + row * n_cols + cols, x * scale + row, mask=mask)


@triton.jit
def grid_3d(out_ptr):
    x, y, z = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    nx, ny, nz = tl.num_programs(0), tl.num_programs(1), tl.num_programs(2)
    tl.store(out_ptr + (x * ny + y) * nz + z, x * 100 + y * 10 + z + 0 * nx * ny * nz)


@triton.jit
def int32_overflow(x_ptr, out_ptr, BLOCK: tl.constexpr):
    """Multiplies loaded int32 values past 2**31: compiled Triton wraps them, unchecked."""
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offsets, tl.load(x_ptr + offsets) * 65536 + 7)


@triton.jit
def tile_copy_2d(x_ptr, out_ptr, M, N, stride, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Copies tile (program_id(0), program_id(1)) of an M x N matrix, plus 1000 * program_id(1)."""
    pid_m, pid_n = tl.program_id(0), tl.program_id(1)
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)[:, None]
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)[None, :]
    mask = (rows < M) & (cols < N)
    x = tl.load(x_ptr + rows * stride + cols, mask=mask)
    tl.store(out_ptr + rows * stride + cols, x + 1000.0 * pid_n, mask=mask)
