"""FLOPs of a jitted program, counted from its jaxpr, and this machine's measured matmul rate.

XLA's ``cost_analysis()`` counts the body of a ``while`` loop once, whatever its trip count,
so a training chunk built from nested ``lax.scan`` s is under-counted by orders of magnitude.
Counting on the jaxpr instead multiplies every ``scan`` body by its ``length``. Matmul FLOPs
(``dot_general``: 2 x output size x contracted size) are what a matmul peak compares with; the
other primitives are tallied as elementwise output elements, the work that no matmul unit
speeds up (ray casting, physics, activations, optimiser arithmetic).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp


@dataclass(frozen=True)
class FlopCount:
    matmul_flops: float  # 2 * M * N * K summed over every dot_general, scans unrolled
    elementwise_ops: float  # output elements of every other primitive, scans unrolled
    while_loops: int  # while bodies counted once: their trip count is unknown statically

    def __add__(self, other: FlopCount) -> FlopCount:
        return FlopCount(
            self.matmul_flops + other.matmul_flops,
            self.elementwise_ops + other.elementwise_ops,
            self.while_loops + other.while_loops,
        )


ZERO = FlopCount(0.0, 0.0, 0)
# Primitives that move or relabel data without arithmetic.
_NO_ARITHMETIC = {
    "broadcast_in_dim", "reshape", "squeeze", "expand_dims", "transpose", "slice",
    "dynamic_slice", "dynamic_update_slice", "gather", "scatter", "concatenate", "pad",
    "convert_element_type", "copy", "copy_p", "iota", "select_n", "rev", "stop_gradient",
    "random_bits", "random_seed", "random_wrap", "random_unwrap", "threefry2x32",
    "device_put", "pjit", "closed_call", "custom_jvp_call", "custom_vjp_call",
    "custom_vjp_call_jaxpr", "remat", "checkpoint", "scan", "while", "cond",
}  # fmt: skip


def _sub_jaxprs(value: Any) -> list[Any]:
    """The jaxprs inside an equation parameter (a jaxpr, closed jaxpr, or a tuple of them)."""
    if hasattr(value, "eqns"):
        return [value]
    if hasattr(value, "jaxpr") and hasattr(value, "consts"):
        return [value.jaxpr]
    if isinstance(value, list | tuple):
        return [j for v in value for j in _sub_jaxprs(v)]
    return []


def _size(var: Any) -> int:
    shape = getattr(getattr(var, "aval", None), "shape", ())
    return math.prod(shape)


MatmulShape = tuple[int, int, int, int]  # (batch, rows, contracted, columns) of a dot_general


def _dot_shape(eqn: Any) -> MatmulShape:
    (lhs_contract, rhs_contract), (lhs_batch, rhs_batch) = eqn.params["dimension_numbers"]
    lhs, rhs = eqn.invars[0].aval.shape, eqn.invars[1].aval.shape
    free_lhs = [d for d in range(len(lhs)) if d not in (*lhs_contract, *lhs_batch)]
    free_rhs = [d for d in range(len(rhs)) if d not in (*rhs_contract, *rhs_batch)]
    return (
        math.prod(lhs[d] for d in lhs_batch),
        math.prod(lhs[d] for d in free_lhs),
        math.prod(lhs[d] for d in lhs_contract),
        math.prod(rhs[d] for d in free_rhs),
    )


def count_jaxpr(
    jaxpr: Any, dots: Counter[MatmulShape] | None = None, times: float = 1.0
) -> FlopCount:
    """FLOPs of ``times`` executions of ``jaxpr`` (a ``core.Jaxpr``).

    With ``dots``, also adds every matmul's FLOPs to ``dots[shape]``, so a profile can say
    which shapes the matmul work is made of (small ones run far below the square peak).
    """
    total = ZERO
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "dot_general":
            b, n, k, m = shape = _dot_shape(eqn)
            flops = 2.0 * b * n * k * m * times
            if dots is not None:
                dots[shape] += flops
            total += FlopCount(flops, 0.0, 0)
            continue
        if name == "cond":  # after vmap a cond is a select; unbatched, one branch runs
            branches = []
            for sub in _sub_jaxprs(eqn.params["branches"]):
                branch_dots: Counter[MatmulShape] = Counter()
                branches.append((count_jaxpr(sub, branch_dots, times), branch_dots))
            count, branch_dots = max(
                branches, key=lambda c: (c[0].matmul_flops, c[0].elementwise_ops)
            )
            total += count
            if dots is not None:
                dots.update(branch_dots)
            continue
        inner_times = times * eqn.params["length"] if name == "scan" else times
        inner = ZERO
        for value in eqn.params.values():
            for sub in _sub_jaxprs(value):
                inner += count_jaxpr(sub, dots, inner_times)
        if name == "while":
            inner = FlopCount(inner.matmul_flops, inner.elementwise_ops, inner.while_loops + 1)
        total += inner
        if name not in _NO_ARITHMETIC:
            total += FlopCount(0.0, times * sum(_size(v) for v in eqn.outvars), 0)
    return total


def count_flops(
    fn: Callable[..., Any], *args: Any, dots: Counter[MatmulShape] | None = None
) -> FlopCount:
    """FLOPs of one call ``fn(*args)``, from its jaxpr (no compilation, no execution)."""
    return count_jaxpr(jax.make_jaxpr(fn)(*args).jaxpr, dots)


def matmul_rate(
    n: int = 1024,
    k: int | None = None,
    m: int | None = None,
    seconds: float = 1.0,
    batch: int = 1,
) -> float:
    """Measured float32 matmul FLOP/s of ``[n, k] @ [k, m]`` (``batch`` of them) on the device.

    A chain of matmuls inside one jitted ``fori_loop`` (no dispatch gaps), best of 3 timings
    of about ``seconds`` each. ``k`` and ``m`` default to ``n``: the square case is the peak.
    """
    k, m = k or n, m or n
    lead = (batch,) if batch > 1 else ()
    key_a, key_b = jax.random.split(jax.random.PRNGKey(0))
    a = jax.random.normal(key_a, (*lead, n, k), jnp.float32)
    b = jax.random.normal(key_b, (*lead, k, m), jnp.float32) / math.sqrt(k)

    @jax.jit
    def chain(a: jax.Array, b: jax.Array, reps: jax.Array) -> jax.Array:
        # Each product feeds the next (scaled back to [n, k]) so nothing can be hoisted.
        back = jnp.ones((m, k), jnp.float32) / m

        def body(_, x):
            return (x @ b) @ back

        return jax.lax.fori_loop(0, reps, body, a)

    flops_per_rep = batch * (2.0 * n * k * m + 2.0 * n * m * k)
    chain(a, b, 1).block_until_ready()
    t = time.perf_counter()
    chain(a, b, 1).block_until_ready()
    reps = max(1, int(seconds / max(time.perf_counter() - t, 1e-6)))
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        chain(a, b, reps).block_until_ready()
        best = min(best, time.perf_counter() - t)
    return flops_per_rep * reps / best


def matmul_peak(tries: int = 3) -> float:
    """The machine's float32 matmul peak: the best of ``tries`` square 2048 rates (the first
    also warms the cores; a shared VM's rate varies by a third from call to call)."""
    return max(matmul_rate(2048) for _ in range(tries))
