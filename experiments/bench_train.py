"""Training throughput: env-steps/s and agent-steps/s of each algorithm on each game.

Builds the learner exactly as ``experiments.run`` does (same Hydra config, same jitted chunk
of ``chunk_env_steps`` worth of updates), compiles it ahead of time (reported separately),
then times ``--chunks`` chunks. Agent-steps count every agent on the field (learners and ghosts).

    python -m experiments.bench_train                           # every algo x env
    python -m experiments.bench_train --algo ippo --env tennis --chunks 5
    python -m experiments.bench_train --override algo.hidden=[512,512]
"""

from __future__ import annotations

import argparse
import json
import time

import jax
from hydra import compose, initialize_config_dir

import algos
import envs
from experiments.builder import build, chunk_updates
from experiments.run import CONF_DIR


def bench(algo: str, env_name: str, chunks: int, overrides: list[str]) -> dict[str, float]:
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose("config", overrides=[f"algo={algo}", f"env={env_name}", *overrides])
    env, learner = build(cfg)
    state = learner.init(jax.random.PRNGKey(0))
    updates = chunk_updates(cfg, learner)
    chunk = jax.jit(lambda s: jax.lax.scan(lambda c, _: learner.update(c), s, None, length=updates))
    t = time.perf_counter()
    compiled = chunk.lower(state).compile()
    compile_s = time.perf_counter() - t
    state, _ = compiled(state)  # warm-up
    jax.block_until_ready(state)
    t = time.perf_counter()
    for _ in range(chunks):
        state, _ = compiled(state)
    jax.block_until_ready(state)
    elapsed = time.perf_counter() - t
    env_steps = chunks * updates * learner.env_steps_per_update
    return {
        "algo": algo,
        "env": env_name,
        "num_envs": int(cfg.algo.num_envs),
        "compile_s": round(compile_s, 2),
        "env_steps_per_s": round(env_steps / elapsed),
        "agent_steps_per_s": round(env_steps * env.spec.num_agents / elapsed),
        "device": jax.devices()[0].platform,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", nargs="*", default=sorted(algos.REGISTRY))
    parser.add_argument("--env", nargs="*", default=list(envs.GAMES))
    parser.add_argument("--chunks", type=int, default=3, help="timed chunks after warm-up")
    parser.add_argument("--override", nargs="*", default=[], help="Hydra overrides")
    args = parser.parse_args()
    for algo in args.algo:
        for env_name in args.env:
            print(json.dumps(bench(algo, env_name, args.chunks, args.override)), flush=True)


if __name__ == "__main__":
    main()
