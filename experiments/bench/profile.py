"""Where a training update's time goes, and what bounds its matmul rate.

Two measurements of the trainer ``experiments.run`` builds (same config, same jitted chunk):

1. **Rollout vs learning.** The chunk timed as configured, and again with ``num_epochs=0``
   (the rollout, the ghost's forward pass, the returns and the bookkeeping, but no gradient
   step). The difference is the learning phase. The env's own share comes from
   ``experiments.bench.env_steps`` at the trainer's ``num_envs``.
2. **The matmuls at their own shapes.** Every ``dot_general`` of one update, counted on the
   jaxpr by shape (batch, rows, contracted, columns), and each shape timed standalone with
   ``matmul_rate``. Dividing the total matmul FLOPs by the time the shapes take standalone gives
   the rate these shapes can reach on this machine, which is the honest ceiling for "fraction of the
   matmul peak" (a [2048, 128] @ [128, 3] product cannot run at the square 2048 rate).

    python -m experiments.bench.profile                       # POCA on SoccerTwos
    python -m experiments.bench.profile --algo ippo --override algo.hidden=[512,512]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

import jax

from experiments.bench import env_steps as bench_env
from experiments.bench import train as bench_train
from experiments.bench.flops import MatmulShape, count_flops, matmul_peak, matmul_rate
from experiments.core.build import build
from experiments.core.config import compose


def matmul_shapes(algo: str, env_name: str, overrides: list[str]) -> Counter[MatmulShape]:
    """Matmul FLOPs of one update by shape."""
    cfg = compose([f"algo={algo}", f"env={env_name}", *overrides])
    _, trainer = build(cfg)
    state = trainer.init(jax.random.PRNGKey(0))
    dots: Counter[MatmulShape] = Counter()
    count_flops(trainer.update, state, dots=dots)
    return dots


def shape_rates(
    dots: Counter[MatmulShape], coverage: float, seconds: float
) -> list[dict[str, Any]]:
    """The biggest shapes (``coverage`` of the FLOPs), each with its standalone rate."""
    total = sum(dots.values())
    rows, covered = [], 0.0
    for (b, n, k, m), flops in dots.most_common():
        if covered >= coverage * total:
            break
        covered += flops
        rate = matmul_rate(n, k, m, seconds=seconds, batch=b)
        rows.append({
            "batch": b, "rows": n, "contracted": k, "columns": m,
            "flop_share": flops / total, "standalone_gflops": rate / 1e9,
        })  # fmt: skip
    return rows


def achievable_rate(rows: list[dict[str, Any]]) -> float:
    """FLOP/s of the profiled shapes run back to back at their standalone rates."""
    share = sum(r["flop_share"] for r in rows)
    seconds = sum(r["flop_share"] / (r["standalone_gflops"] * 1e9) for r in rows)
    return share / seconds


def profile(
    algo: str, env_name: str, overrides: list[str], chunks: int, coverage: float, seconds: float
) -> dict[str, Any]:
    full = bench_train.bench(algo, env_name, chunks, overrides)
    rollout = bench_train.bench(algo, env_name, chunks, [*overrides, "algo.num_epochs=0"])
    env_rate = bench_env.bench(
        env_name, full["num_envs"], bench_env.default_steps(env_name, full["num_envs"])
    )["env_steps_per_s"]
    per_update = full["env_steps_per_update"]
    update_ms = 1e3 * per_update / full["env_steps_per_s"]
    rollout_ms = 1e3 * per_update / rollout["env_steps_per_s"]
    env_ms = 1e3 * per_update / env_rate
    dots = matmul_shapes(algo, env_name, overrides)
    rows = shape_rates(dots, coverage, seconds)
    peak = matmul_peak()
    learning_flops = full["matmul_flops_per_update"] - rollout["matmul_flops_per_update"]
    return {
        "algo": algo,
        "env": env_name,
        "overrides": overrides,
        "update_ms": update_ms,
        "env_ms": env_ms,
        "acting_ms": rollout_ms - env_ms,
        "learning_ms": update_ms - rollout_ms,
        "matmul_gflops": full["matmul_gflops"],
        "learning_matmul_gflops": learning_flops / (update_ms - rollout_ms) / 1e6,
        "peak_gflops": peak / 1e9,
        "shapes_gflops": achievable_rate(rows) / 1e9,
        "shapes": rows,
    }


def report(p: dict[str, Any]) -> str:
    u = p["update_ms"]
    lines = [
        f"{p['algo']} on {p['env']} {' '.join(p['overrides'])}".rstrip(),
        f"  update {u:.1f} ms = env {p['env_ms']:.1f} ({100 * p['env_ms'] / u:.0f}%) "
        f"+ acting, ghost and critic targets {p['acting_ms']:.1f} "
        f"({100 * p['acting_ms'] / u:.0f}%) "
        f"+ learning {p['learning_ms']:.1f} ({100 * p['learning_ms'] / u:.0f}%)",
        f"  matmul rate: whole update {p['matmul_gflops']:.1f} GFLOP/s, learning phase "
        f"{p['learning_matmul_gflops']:.1f}; its shapes standalone {p['shapes_gflops']:.1f}; "
        f"square peak {p['peak_gflops']:.1f}",
        "  | batch x rows x contracted x columns | share of matmul FLOPs | standalone GFLOP/s |",
        "  |---|---:|---:|",
    ]
    for r in p["shapes"]:
        lines.append(
            f"  | {r['batch']} x {r['rows']} x {r['contracted']} x {r['columns']} "
            f"| {100 * r['flop_share']:.1f}% | {r['standalone_gflops']:.1f} |"
        )
    return "\n".join(lines)


def config_arguments(parser: argparse.ArgumentParser) -> None:
    """``--algo``, ``--env`` and ``--override``: the one training config a profile reads."""
    parser.add_argument("--algo", default="poca")
    parser.add_argument("--env", default="soccer_twos")
    parser.add_argument("--override", nargs="*", default=[], help="Hydra overrides")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    config_arguments(parser)
    parser.add_argument("--chunks", type=int, default=2, help="timed chunks per measurement")
    parser.add_argument("--coverage", type=float, default=0.95, help="share of FLOPs profiled")
    parser.add_argument("--seconds", type=float, default=0.3, help="timing per matmul shape")
    args = parser.parse_args()
    p = profile(args.algo, args.env, args.override, args.chunks, args.coverage, args.seconds)
    print(json.dumps(p))
    print(report(p))


if __name__ == "__main__":
    main()
