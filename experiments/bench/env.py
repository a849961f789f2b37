"""Environment throughput: env-steps/s and agent-steps/s for 1, 64, 1024 and 4096 parallel envs.

Random actions, auto-reset on, the whole rollout one jitted ``lax.scan`` over ``vmap``-ed
envs, as training uses it. Compile time is measured and reported separately.

    python -m experiments.bench.env                      # both games, default sizes
    python -m experiments.bench.env --env soccer_twos --num-envs 1024 --steps 200
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp

import envs


def make_rollout(env: envs.MultiAgentEnv, num_envs: int, num_steps: int):
    """A jitted function running ``num_steps`` random-action steps in ``num_envs`` envs."""
    spec = env.spec
    step = env.step_batch

    def run(key: jax.Array):
        key, k_reset = jax.random.split(key)
        _, state = env.reset_batch(jax.random.split(k_reset, num_envs))

        def body(carry, _):
            state, key, episodes = carry
            key, k_act, k_step = jax.random.split(key, 3)
            actions = spec.action_space.sample(k_act, (num_envs, spec.num_agents))
            _, state, _, done, _ = step(jax.random.split(k_step, num_envs), state, actions)
            return (state, key, episodes + jnp.sum(done[:, 0])), None

        (state, _, episodes), _ = jax.lax.scan(body, (state, key, jnp.int32(0)), None, num_steps)
        return episodes

    return jax.jit(run)


def bench(name: str, num_envs: int, num_steps: int, repeats: int = 3) -> dict:
    env = envs.make(name)
    run = make_rollout(env, num_envs, num_steps)
    key = jax.random.PRNGKey(0)
    t0 = time.perf_counter()
    run.lower(key).compile()
    compile_s = time.perf_counter() - t0
    run(key).block_until_ready()  # warm-up (allocations)
    best = float("inf")
    for i in range(repeats):
        t0 = time.perf_counter()
        run(jax.random.PRNGKey(i + 1)).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    env_sps = num_envs * num_steps / best
    return {
        "env": name,
        "num_envs": num_envs,
        "steps_per_env": num_steps,
        "compile_s": round(compile_s, 2),
        "run_s": round(best, 4),
        "env_steps_per_s": round(env_sps),
        "agent_steps_per_s": round(env_sps * env.spec.num_agents),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", nargs="*", default=envs.games(), choices=envs.games())
    parser.add_argument("--num-envs", nargs="*", type=int, default=[1, 64, 1024, 4096])
    parser.add_argument(
        "--steps", type=int, default=0, help="steps per env (default: ~200k env steps, >= 50)"
    )
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {jax.device_count()} device(s)")
    print(
        f"{'env':<12}{'envs':>6}{'steps':>7}{'compile s':>10}"
        f"{'env-steps/s':>13}{'agent-steps/s':>15}"
    )
    results = []
    for name in args.env:
        for n in args.num_envs:
            steps = args.steps or max(50, 200_000 // n)
            r = bench(name, n, steps)
            results.append(r)
            print(
                f"{name:<12}{n:>6}{steps:>7}{r['compile_s']:>10.1f}"
                f"{r['env_steps_per_s']:>13,}{r['agent_steps_per_s']:>15,}",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
