"""The benchmark machinery: FLOP counting, seeds in one program, and the JaxMARL side by side."""

from __future__ import annotations

import json
from collections import Counter

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from algos.trainer import scan_updates
from experiments.bench.flops import count_flops
from experiments.bench.profile import achievable_rate, shape_rates
from experiments.bench.train import seed_states
from experiments.core.build import build, chunk_updates
from tests.tiny import config, tiny


def test_flops_count_matmuls_through_scan_cond_and_vmap() -> None:
    x, w = jnp.ones((8, 5)), jnp.ones((5, 3))
    assert count_flops(lambda x, w: x @ w, x, w).matmul_flops == 2 * 8 * 5 * 3
    assert count_flops(lambda x, w: jnp.tanh(x @ w), x, w).elementwise_ops == 8 * 3

    def scanned(x, w):
        return jax.lax.scan(lambda c, _: (c, jnp.sum(c @ w)), x, None, length=7)[1]

    assert count_flops(scanned, x, w).matmul_flops == 7 * 2 * 8 * 5 * 3

    def branchy(p, x, w):  # the costlier branch is the upper bound
        return jax.lax.cond(p, lambda: (x @ w) @ w.T, lambda: x)

    assert count_flops(branchy, True, x, w).matmul_flops == 2 * (2 * 8 * 5 * 3)
    batched = jax.vmap(lambda x, w: x @ w, in_axes=(0, None))
    assert count_flops(batched, jnp.ones((4, 8, 5)), w).matmul_flops == 4 * 2 * 8 * 5 * 3


def test_flops_of_an_mlp_forward_and_backward() -> None:
    mlp = nn.Sequential([nn.Dense(32), nn.relu, nn.Dense(4)])
    x = jnp.ones((16, 10))
    params = mlp.init(jax.random.PRNGKey(0), x)
    forward = 2 * 16 * (10 * 32 + 32 * 4)
    assert count_flops(mlp.apply, params, x).matmul_flops == forward
    grad = jax.grad(lambda p: jnp.sum(mlp.apply(p, x)))
    # Backward: a weight gradient per layer and an input gradient for the second layer.
    backward = 2 * 16 * (10 * 32 + 32 * 4) + 2 * 16 * 32 * 4
    assert count_flops(grad, params).matmul_flops == forward + backward


def test_flops_by_matmul_shape_and_the_rate_those_shapes_allow() -> None:
    mlp = nn.Sequential([nn.Dense(32), nn.relu, nn.Dense(4)])
    x = jnp.ones((16, 10))
    params = mlp.init(jax.random.PRNGKey(0), x)
    dots: Counter = Counter()
    count_flops(mlp.apply, params, x, dots=dots)
    assert dots == {(1, 16, 10, 32): 2 * 16 * 10 * 32, (1, 16, 32, 4): 2 * 16 * 32 * 4}
    # Batch dimensions stay apart from rows; a scan multiplies the shape's FLOPs.
    dots = Counter()

    def scanned(a, b):
        return jax.lax.scan(lambda c, _: (c, jnp.einsum("bnk,bkm->bnm", a, b)), 0, None, 3)[1]

    count_flops(scanned, jnp.ones((4, 8, 5)), jnp.ones((4, 5, 3)), dots=dots)
    assert dots == {(4, 8, 5, 3): 3 * 2 * 4 * 8 * 5 * 3}
    # Shapes are profiled biggest first until the coverage is reached.
    rows = shape_rates(Counter({(1, 64, 64, 64): 60.0, (1, 8, 8, 8): 40.0}), 0.5, 0.01)
    assert [(r["rows"], r["flop_share"]) for r in rows] == [(64, 0.6)]
    assert rows[0]["standalone_gflops"] > 0
    # Back to back, the time per FLOP adds: half at 10 and half at 30 GFLOP/s is 15.
    halves = [{"flop_share": 0.5, "standalone_gflops": g} for g in (10.0, 30.0)]
    assert achievable_rate(halves) == pytest.approx(15e9)


def test_seeds_vmapped_in_one_program_match_separate_runs() -> None:
    # The tiny run's chunk (tests/test_run.py compiles the same program: the cache shares it).
    cfg = config("env=tennis", *tiny("ippo"))
    _, trainer = build(cfg)
    keys = jax.random.split(jax.random.PRNGKey(3), 2)

    two_updates = scan_updates(trainer, chunk_updates(cfg, trainer))

    together, metrics = jax.jit(jax.vmap(two_updates))(seed_states(trainer, keys))
    for i, key in enumerate(keys):
        alone, alone_metrics = jax.jit(two_updates)(trainer.init(key))
        pairs = zip(
            jax.tree.leaves(alone.learners), jax.tree.leaves(together.learners), strict=True
        )
        for a, b in pairs:
            np.testing.assert_allclose(a, b[i], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(alone_metrics["loss"], metrics["loss"][i], rtol=1e-4, atol=1e-5)
    # Different seeds train differently: the vmap did not collapse them into one.
    first = jax.tree.leaves(together.learners)[0]
    assert not np.allclose(first[0], first[1])


def test_the_scaling_table_times_each_width(monkeypatch, capsys) -> None:
    from experiments.bench import train as bench_train

    shrunk = [o for o in tiny("ippo")[1:] if not o.startswith("algo.num_envs=")]
    argv = ["--algo", "ippo", "--env", "tennis", "--num-envs", "4", "8", "--chunks", "1"]
    monkeypatch.setattr("sys.argv", ["train", *argv, "--override", *shrunk])
    bench_train.main()
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["algo"], r["num_envs"]) for r in rows] == [("ippo", 4), ("ippo", 8)]
    assert [r["env_steps_per_update"] for r in rows] == [4 * 8, 8 * 8]  # rollout_len 8
    assert rows[1]["memory_mb"] > rows[0]["memory_mb"]  # the buffer grows with the width
    assert all(r["env_steps_per_s"] > 0 for r in rows)


def test_jaxmarl_adapter_on_a_hand_built_smax_scene() -> None:
    pytest.importorskip("jaxmarl")
    from envs.jaxmarl import JaxMARLEnv

    env = envs.make("jaxmarl", env_id="SMAX", scenario="3m")
    spec = env.spec
    assert spec.teams == (0, 0, 0, 1, 1, 1)
    assert spec.agent_names[0] == "ally_0" and spec.agent_names[3] == "enemy_0"
    key = jax.random.PRNGKey(0)
    obs, state = env.reset(key)
    inner_obs, _ = env.inner.reset(key)
    np.testing.assert_array_equal(obs[4], inner_obs["enemy_1"])

    # ally_0 has 0 health left: its unit dies on this step and it leaves the game alone.
    state = state.replace(unit_health=state.unit_health.at[0].set(0.0))
    stop = jnp.full((spec.num_agents, 1), 4, jnp.int32)  # SMAX's stop action
    obs, state, reward, done, info = env.step(key, state, stop)
    assert done.tolist() == [True, False, False, False, False, False]
    assert obs.shape == (6, *spec.obs_shape) and reward.shape == (6,)
    assert not info.truncated.any()

    # The enemy team wiped out: the episode ends for every agent.
    state = state.replace(unit_health=state.unit_health.at[3:].set(0.0))
    _, _, reward, done, info = env.step(key, state, stop)
    assert done.all() and info.terminated.all()
    assert float(reward[1]) > float(reward[4])  # allies win

    # One team: a cooperative task (trained with no ghost).
    spread = JaxMARLEnv("MPE_simple_spread_v3", None).spec
    assert spread.num_teams == 1 and not spread.asymmetric and spread.obs_shape == (18,)
    # Unequal teams in different spaces: one behaviour per team, rows padded to the widest.
    tag = JaxMARLEnv("MPE_simple_tag_v3", None)
    assert tag.spec.teams == (0, 0, 0, 1) and tag.spec.asymmetric
    assert [(b.name, b.obs_shape) for b in tag.spec.behaviours] == [
        ("adversary", (16,)),
        ("agent", (14,)),
    ]
    obs, _ = tag.reset(key)
    inner_obs, _ = tag.inner.reset(key)
    np.testing.assert_array_equal(obs[3, :14], inner_obs["agent_0"])
    np.testing.assert_array_equal(obs[3, 14:], 0.0)
    with pytest.raises(ValueError, match="one or two teams"):
        JaxMARLEnv("MPE_simple_world_comm_v3", None)


def test_jaxmarl_side_by_side_pairs_the_loops_on_one_env() -> None:
    pytest.importorskip("jaxmarl")
    from experiments.bench import vs_jaxmarl as bench_jaxmarl

    cfg = bench_jaxmarl.DEFAULTS | {"num_envs": 4, "rollout_len": 8, "hidden": [16]}
    with pytest.raises(ValueError, match="valid: same_envs, same_samples"):
        bench_jaxmarl.compare("coin_game", None, cfg, 1, 1, pairings=["same_steps"])
    # One of our pairings (each compiles three programs): the one whose samples match.
    rows = bench_jaxmarl.compare("coin_game", None, cfg, 1, 1, pairings=["same_samples"])
    ref, ours = rows
    assert ref["loop"] == "jaxmarl_style" and {r["env"] for r in rows} == {"jaxmarl_coin_game"}
    assert (ref["num_envs"], ours["pairing"], ours["num_envs"]) == (4, "same_samples", 8)
    for r in rows:
        assert r["env_steps_per_s"] > 0 and r["matmul_gflops"] > 0
        # A learning phase this tiny is within timing noise of zero, so only its bound holds.
        assert r["env_ms"] > 0 and r["learning_ms"] < r["update_ms"]
    # Samples per update: both teams' agents for JaxMARL's loop, the learning team for ours.
    ref_samples = ref["trained_samples_per_s"] / ref["env_steps_per_s"]
    ours_samples = ours["trained_samples_per_s"] / ours["env_steps_per_s"]
    assert ref_samples == pytest.approx(2 * ours_samples)
    assert ours["samples_ratio"] == pytest.approx(
        ours["trained_samples_per_s"] / ref["trained_samples_per_s"]
    )


def compiled_flops(fn, *args) -> float:
    """What XLA's cost model counts in the optimised program: work it deleted is not there."""
    return jax.jit(fn).lower(*args).compile().cost_analysis()["flops"]


def test_the_env_benchmark_times_the_observations() -> None:
    from toy_games import HeavyObservation

    from experiments.bench.env_steps import make_rollout

    key = jax.random.PRNGKey(0)

    def hollow(env):  # a benchmark that drops what step returns, as ours once did
        def run(key):
            _, state = env.reset_batch(jax.random.split(key, 4))

            def body(state, k):
                actions = env.spec.action_space.sample(k, (4, 2))
                _, state, _, done, _ = env.step_batch(jax.random.split(k, 4), state, actions)
                return state, jnp.sum(done)

            return jax.lax.scan(body, state, jax.random.split(key, 3))[1].sum()

        return run

    light, heavy = HeavyObservation(work=0), HeavyObservation(work=8)
    matmuls = 4 * 8 * (2 * 2 * 64 * 64)  # one step of 4 envs: 8 chained [2, 64] x [64, 64]
    ours = [compiled_flops(make_rollout(env, 4, 3), key) for env in (light, heavy)]
    assert ours[1] - ours[0] >= matmuls, "the benchmark lets XLA drop the observation work"
    # The check can fail: a hollow benchmark's program does not grow with the observations.
    dropped = [compiled_flops(hollow(env), key) for env in (light, heavy)]
    assert dropped[1] - dropped[0] < matmuls / 4


@pytest.mark.parametrize("name", envs.games())
def test_step_batch_resets_only_ended_envs_and_matches_vmapped_step(name, optimized) -> None:
    """``step_batch`` resets only where an episode ended, yet plays the same episodes as
    ``vmap(step)`` (a reset computed for every env) with the same keys, bit for bit, through
    waves of simultaneous time-outs larger than one pass of resets, as users compile it."""
    env = envs.make(name, max_physics_steps=100)
    spec, num_envs = env.spec, 37  # 37 // 16 = 2 resets per pass: a time-out wave takes 19

    def play(step):
        def body(state, k):
            k_act, k_step = jax.random.split(k)
            actions = spec.action_space.sample(k_act, (num_envs, spec.num_agents))
            obs, state, reward, done, info = step(
                jax.random.split(k_step, num_envs), state, actions
            )
            return state, (obs, reward, done, info)

        def run(key):
            _, state = env.reset_batch(jax.random.split(key, num_envs))
            steps = jax.random.split(jax.random.PRNGKey(1), 3 * spec.max_steps)
            return jax.lax.scan(body, state, steps)

        return jax.jit(run)(jax.random.PRNGKey(0))

    batched, vmapped = play(env.step_batch), play(jax.vmap(env.step))
    for a, b in zip(jax.tree.leaves(batched), jax.tree.leaves(vmapped), strict=True):
        np.testing.assert_array_equal(a, b)
    _, (obs, _, done, info) = batched
    ended = np.asarray(done).all(-1)
    assert ended.sum() >= 3 * num_envs, "every env ended several episodes"
    # Where an episode ended, the next observation is a fresh one, not the terminal one.
    changed = np.any(np.asarray(obs) != np.asarray(info.terminal_obs), axis=(-2, -1))
    np.testing.assert_array_equal(changed, ended)
