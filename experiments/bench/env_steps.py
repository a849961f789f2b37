"""Environment throughput: env-steps/s and agent-steps/s for 1, 64, 1024 and 4096 parallel envs.

Random actions, auto-reset on, the whole rollout one jitted ``lax.scan`` over the batched
env, as training uses it. Everything a step returns (observations, rewards, dones, infos) is
folded into a checksum the program returns, as a rollout stores all of it: a benchmark that
drops the observations lets XLA delete the work that builds them and times a hollow program.
Compile time is measured and reported separately.

``--reset-form`` chooses the auto-reset: ``ended`` (``step_batch``: reset only the envs whose
episode ended, what training runs) or ``every_step`` (``vmap(step)``: a reset computed for
every env on every step and selected where an episode ended, the textbook form).

    python -m experiments.bench.env_steps                      # both games, default sizes
    python -m experiments.bench.env_steps --env soccer_twos --num-envs 1024 --steps 200
    python -m experiments.bench.env_steps --reset-form ended every_step
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import jax
import jax.numpy as jnp

import envs

RESET_FORMS = ("ended", "every_step")


def batched_step(env: envs.MultiAgentEnv, reset_form: str):
    """The batched ``step`` of ``env`` with the chosen auto-reset (see the module docstring)."""
    if reset_form not in RESET_FORMS:
        raise ValueError(f"unknown reset form {reset_form!r}; choose one of {RESET_FORMS}")
    return env.step_batch if reset_form == "ended" else jax.vmap(env.step)


def checksum(*outputs: Any) -> jax.Array:
    """One float that depends on every element of ``outputs`` (any pytrees of arrays)."""
    return sum(jnp.sum(x.astype(jnp.float32)) for x in jax.tree.leaves(outputs))


def make_rollout(env: envs.MultiAgentEnv, num_envs: int, num_steps: int, reset_form: str = "ended"):
    """A jitted ``key -> (episodes, checksum)`` running ``num_steps`` random-action steps in
    ``num_envs`` envs and consuming every output of every step."""
    spec = env.spec
    step = batched_step(env, reset_form)

    def run(key: jax.Array):
        key, k_reset = jax.random.split(key)
        obs, state = env.reset_batch(jax.random.split(k_reset, num_envs))

        def body(carry, _):
            state, key, episodes, total = carry
            key, k_act, k_step = jax.random.split(key, 3)
            actions = spec.action_space.sample(k_act, (num_envs, spec.num_agents))
            obs, state, reward, done, info = step(
                jax.random.split(k_step, num_envs), state, actions
            )
            total = total + checksum(obs, reward, done, info)
            return (state, key, episodes + jnp.sum(done[:, 0]), total), None

        init = (state, key, jnp.int32(0), checksum(obs))
        (_, _, episodes, total), _ = jax.lax.scan(body, init, None, num_steps)
        return episodes, total

    return jax.jit(run)


def bench(
    name: str, num_envs: int, num_steps: int, repeats: int = 3, reset_form: str = "ended"
) -> dict:
    env = envs.make(name)
    run = make_rollout(env, num_envs, num_steps, reset_form)
    key = jax.random.PRNGKey(0)
    t0 = time.perf_counter()
    run.lower(key).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(run(key))  # warm-up (allocations)
    best = float("inf")
    for i in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(run(jax.random.PRNGKey(i + 1)))
        best = min(best, time.perf_counter() - t0)
    env_sps = num_envs * num_steps / best
    return {
        "env": name,
        "reset_form": reset_form,
        "num_envs": num_envs,
        "steps_per_env": num_steps,
        "compile_s": round(compile_s, 2),
        "run_s": round(best, 4),
        "env_steps_per_s": round(env_sps),
        "agent_steps_per_s": round(env_sps * env.spec.num_agents),
    }


def default_steps(env_name: str, num_envs: int) -> int:
    """Steps per env: ~200k env steps, and at least one whole episode past its time limit, so
    the resets of every env (the time-outs' wave included) are inside the timing."""
    return max(envs.make(env_name).spec.max_steps + 1, 200_000 // num_envs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", nargs="*", default=envs.games(), choices=envs.games())
    parser.add_argument("--num-envs", nargs="*", type=int, default=[1, 64, 1024, 4096])
    parser.add_argument(
        "--steps", type=int, default=0, help="steps per env (default: see default_steps)"
    )
    parser.add_argument("--reset-form", nargs="*", default=["ended"], choices=RESET_FORMS)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {jax.device_count()} device(s)")
    print(
        f"{'env':<12}{'reset':>11}{'envs':>6}{'steps':>7}{'compile s':>10}"
        f"{'env-steps/s':>13}{'agent-steps/s':>15}"
    )
    results = []
    for name in args.env:
        for n in args.num_envs:
            for form in args.reset_form:
                steps = args.steps or default_steps(name, n)
                r = bench(name, n, steps, reset_form=form)
                results.append(r)
                print(
                    f"{name:<12}{form:>11}{n:>6}{steps:>7}{r['compile_s']:>10.1f}"
                    f"{r['env_steps_per_s']:>13,}{r['agent_steps_per_s']:>15,}",
                    flush=True,
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
