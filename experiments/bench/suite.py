"""The benchmark suite: one command, one JSON file and one Markdown table.

In one process, so every number shares the machine's state:

1. the machine's float32 matmul rate (square 2048 products: the peak a training loop is
   compared with);
2. env throughput of each game at each algorithm's ``num_envs`` (random actions);
3. training throughput of each algorithm x game (``experiments.bench.train``): env-steps/s,
   agent-steps/s, matmul FLOPs per update, the achieved fraction of the matmul rate, the share
   of the time that stepping the envs alone would take, XLA's memory plan and peak RSS;
4. seeds per program: the default algorithm and game with the chunk ``vmap``-ed over S seeds;
5. JaxMARL side by side (``experiments.bench.vs_jaxmarl``) when the ``bench`` extra is installed,
   each update split into env, acting and learning;
6. the default algorithm's profile (``experiments.bench.profile``): rollout vs learning, and
   the matmul rate its own matmul shapes reach standalone.

    python -m experiments.bench                       # everything, results/bench/
    python -m experiments.bench --algo poca --env soccer_twos --seeds 1 2 4 --no-jaxmarl
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
from pathlib import Path
from typing import Any

import jax

import envs
from experiments.bench import env_steps as bench_env
from experiments.bench import profile as bench_profile
from experiments.bench import train as bench_train
from experiments.bench import vs_jaxmarl as bench_jaxmarl
from experiments.bench.flops import matmul_peak
from experiments.core.config import algo_names


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train_rows(
    algo_names: list[str], games: list[str], chunks: int, peak: float
) -> list[dict[str, Any]]:
    rows, env_rate = [], {}
    for algo in algo_names:
        for game in games:
            row = bench_train.bench(algo, game, chunks, [])
            key = (game, row["num_envs"])
            if key not in env_rate:
                steps = bench_env.default_steps(game, row["num_envs"])
                env_rate[key] = bench_env.bench(game, row["num_envs"], steps)
            env_sps = env_rate[key]["env_steps_per_s"]
            row |= {
                "matmul_fraction": row["matmul_gflops"] * 1e9 / peak,
                "env_only_steps_per_s": env_sps,
                "env_time_share": row["env_steps_per_s"] / env_sps,
                "peak_rss_mb": round(peak_rss_mb()),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Machine: {m['cpus']} CPUs, jax {m['jax']} on {m['device']}; float32 matmul "
        f"{m['matmul_gflops']:.1f} GFLOP/s (2048 x 2048).",
        "",
        "| algo | env | envs | env-steps/s | agent-steps/s | MFLOP/env-step | GFLOP/s "
        "| of matmul peak | env time share | XLA MB | compile s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["train"]:
        lines.append(
            f"| {r['algo']} | {r['env']} | {r['num_envs']} | {r['env_steps_per_s']:,} "
            f"| {r['agent_steps_per_s']:,} | {r['matmul_flops_per_env_step'] / 1e6:.2f} "
            f"| {r['matmul_gflops']:.1f} | {100 * r['matmul_fraction']:.0f}% "
            f"| {100 * r['env_time_share']:.0f}% | {r['memory_mb']:.0f} | {r['compile_s']:.0f} |"
        )
    if results["seeds"]:
        base = results["seeds"][0]["env_steps_per_s"]
        lines += ["", "| seeds | env-steps/s (all seeds) | x one seed | XLA MB |"]
        lines.append("|---:|---:|---:|---:|")
        for r in results["seeds"]:
            lines.append(
                f"| {r['seeds']} | {r['env_steps_per_s']:,} | "
                f"{r['env_steps_per_s'] / base:.2f} | {r['memory_mb']:.0f} |"
            )
    if results["jaxmarl"]:
        lines += [
            "",
            "| loop | pairing | envs | env-steps/s | trained samples/s | ours / JaxMARL-style "
            "| ms per update: env + acting + learning |",
            "|---|---|---:|---:|---:|---|---|",
        ]
        for r in results["jaxmarl"]:
            ratio = (
                f"{r['env_steps_ratio']:.2f} (env steps), {r['samples_ratio']:.2f} (samples)"
                if "samples_ratio" in r
                else "reference"
            )
            lines.append(
                f"| {r['loop']} | {r['pairing']} | {r['num_envs']} | "
                f"{r['env_steps_per_s']:,.0f} | {r['trained_samples_per_s']:,.0f} | {ratio} "
                f"| {r['update_ms']:.0f} = {r['env_ms']:.0f} + {r['acting_ms']:.0f} "
                f"+ {r['learning_ms']:.0f} |"
            )
    if results["profile"]:
        lines += ["", bench_profile.report(results["profile"])]
    lines.append(f"\nPeak RSS of the benchmark process: {results['peak_rss_mb']:.0f} MB.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", nargs="*", default=algo_names())
    parser.add_argument("--env", nargs="*", default=envs.games())
    parser.add_argument("--chunks", type=int, default=2, help="timed chunks per training row")
    parser.add_argument("--seeds", nargs="*", type=int, default=[1, 2, 4])
    parser.add_argument("--seeds-algo", default="poca")
    parser.add_argument("--seeds-env", default="soccer_twos")
    parser.add_argument("--no-jaxmarl", action="store_true", help="skip the JaxMARL comparison")
    parser.add_argument("--out", default="results/bench")
    args = parser.parse_args()

    peak = matmul_peak()
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "jax": jax.__version__,
            "device": jax.devices()[0].platform,
            "matmul_gflops": peak / 1e9,
        }
    }
    print(json.dumps(results["machine"]), flush=True)
    results["train"] = train_rows(args.algo, args.env, args.chunks, peak)
    results["seeds"] = [
        bench_train.bench(args.seeds_algo, args.seeds_env, args.chunks, [], s) for s in args.seeds
    ]
    results["jaxmarl"] = []
    if not args.no_jaxmarl and importlib.util.find_spec("jaxmarl") is not None:
        results["jaxmarl"] = bench_jaxmarl.compare("SMAX", "3m", bench_jaxmarl.DEFAULTS, 4, 2)
    results["profile"] = bench_profile.profile(
        args.seeds_algo, args.seeds_env, [], args.chunks, 0.95, 0.3
    )
    results["peak_rss_mb"] = peak_rss_mb()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    table = markdown(results)
    (out / "bench.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
