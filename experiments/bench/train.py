"""Training throughput: env-steps/s, agent-steps/s, FLOPs and memory of each algorithm x game.

Builds the trainer exactly as ``experiments.run`` does (same Hydra config, same jitted chunk
of ``chunk_env_steps`` worth of updates), compiles it ahead of time (reported separately),
then times ``--chunks`` chunks. Agent-steps count every agent on the field (learners and
ghosts). With ``--seeds S`` the chunk is ``vmap``-ed over S independent training states (S
seeds in one program) and the throughput is the total over seeds.

FLOPs per update come from the jaxpr (``experiments.bench.flops``); ``matmul_gflops`` is what the
training loop achieves, to be compared with the machine's measured matmul rate. Memory is
XLA's buffer plan for one chunk (arguments + outputs + temporaries, less donated aliases).

    python -m experiments.bench.train                           # every algo x env
    python -m experiments.bench.train --algo poca --env soccer_twos --seeds 1 2 4
    python -m experiments.bench.train --override algo.hidden=[512,512]
    python -m experiments.bench.train --env soccer_twos --num-envs 64 256 1024 4096 --chunks 1

``--num-envs`` is the scaling table: each algorithm at each width (``algo.num_envs``, the rest
of its config unchanged, so an update's buffer grows with it), for picking the width that
fits a machine's cores and memory.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import jax
import jax.numpy as jnp

import envs
from algos.trainer import Trainer, TrainState, scan_updates
from experiments.bench.flops import count_flops
from experiments.core.build import build, chunk_updates
from experiments.core.config import algo_names, compose


def unbatch(state: Any) -> Any:
    """The first seed's state of a seed-batched state."""
    return jax.tree.map(lambda x: x[0], state)


def seed_states(trainer: Trainer, keys: jax.Array) -> TrainState:
    """Each seed's first state as ``experiments.run`` builds it, stacked on a leading axis (a
    vmapped ``trainer.init`` would be a batched QR: see ``algos.networks.init_each``)."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *[trainer.init(k) for k in keys])


def bench(
    algo: str, env_name: str, chunks: int, overrides: list[str], seeds: int = 1
) -> dict[str, Any]:
    cfg = compose([f"algo={algo}", f"env={env_name}", *overrides])
    env, trainer = build(cfg)
    state = seed_states(trainer, jax.random.split(jax.random.PRNGKey(0), seeds))
    updates = chunk_updates(cfg, trainer)
    flops = count_flops(trainer.update, unbatch(state))

    one_seed = scan_updates(trainer, updates)

    # One seed runs the chunk exactly as experiments.run does; S seeds vmap it.
    if seeds == 1:
        state, chunk = unbatch(state), jax.jit(one_seed)
    else:
        chunk = jax.jit(jax.vmap(one_seed))
    t = time.perf_counter()
    compiled = chunk.lower(state).compile()
    compile_s = time.perf_counter() - t
    mem = compiled.memory_analysis()
    state, _ = compiled(state)  # warm-up
    jax.block_until_ready(state)
    t = time.perf_counter()
    for _ in range(chunks):
        state, _ = compiled(state)
    jax.block_until_ready(state)
    elapsed = time.perf_counter() - t
    total_updates = seeds * chunks * updates
    env_steps = total_updates * trainer.env_steps_per_update
    memory = mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
    return {
        "algo": algo,
        "env": env_name,
        "seeds": seeds,
        "num_envs": int(cfg.algo.num_envs),
        "compile_s": round(compile_s, 2),
        "env_steps_per_s": round(env_steps / elapsed),
        "agent_steps_per_s": round(env_steps * env.spec.num_agents / elapsed),
        "env_steps_per_update": trainer.env_steps_per_update,
        "matmul_flops_per_update": flops.matmul_flops,
        "elementwise_ops_per_update": flops.elementwise_ops,
        "matmul_flops_per_env_step": flops.matmul_flops / trainer.env_steps_per_update,
        "matmul_gflops": flops.matmul_flops * total_updates / elapsed / 1e9,
        "memory_mb": round((memory - mem.alias_size_in_bytes) / 2**20, 3),
        "device": jax.devices()[0].platform,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", nargs="*", default=algo_names())
    parser.add_argument("--env", nargs="*", default=envs.games())
    parser.add_argument("--chunks", type=int, default=3, help="timed chunks after warm-up")
    parser.add_argument("--seeds", nargs="*", type=int, default=[1], help="seeds per program")
    parser.add_argument("--num-envs", nargs="*", type=int, default=[], help="widths to time")
    parser.add_argument("--override", nargs="*", default=[], help="Hydra overrides")
    args = parser.parse_args()
    widths = [[f"algo.num_envs={n}"] for n in args.num_envs] or [[]]
    for algo in args.algo:
        for env_name in args.env:
            for width in widths:
                for seeds in args.seeds:
                    row = bench(algo, env_name, args.chunks, [*args.override, *width], seeds)
                    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
