"""Side by side with JaxMARL: a JaxMARL-style IPPO loop and ours on the same env, one process.

JaxMARL's IPPO baselines (``baselines/IPPO/ippo_ff_*.py`` in its repository, not part of the
pip package) are PureJaxRL-style: every agent of every env is one "actor" row of one shared
actor-critic, trajectories are scanned, GAE is scanned backwards, and shuffled minibatch
epochs update a ``TrainState``. ``jaxmarl_style_ippo`` below is that loop, written here against
JaxMARL's own env API (dict observations, JaxMARL's auto-resetting ``step``). Ours is
``algos.ippo`` through ``envs.jaxmarl`` with the same network, rollout length, epochs
and minibatches.

The loops differ in what a step trains: JaxMARL's trains every agent (both teams share the
network); ours trains the learning team and runs a snapshot for the other (self-play). Two
pairings make that explicit:

- ``same_envs``: the same number of envs; ours trains on half the samples per update;
- ``same_samples``: ours runs twice the envs, so both train on the same samples per update
  with the same minibatch size (ours also steps twice the envs and runs the ghosts).

Every row splits an update's time into env stepping, acting (the networks in the rollout,
our ghost, bookkeeping, advantages) and the learning phase, so a ratio comes with where the
time goes.

    pip install -e ".[bench]"
    python -m experiments.bench.vs_jaxmarl                       # SMAX 3m (3 vs 3)
    python -m experiments.bench.vs_jaxmarl --env coin_game --scenario none --json out.json
    python -m experiments.bench.vs_jaxmarl --pairings same_samples  # one of our rows only
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState

import algos
from algos.distributions import Categorical
from algos.selfplay import SelfPlayConfig
from envs.jaxmarl import JaxMARLEnv, make_jaxmarl
from experiments.bench import env_steps as bench_env
from experiments.bench.flops import count_flops
from experiments.core.config import experiment_algo


class ActorCritic(nn.Module):
    """JaxMARL's feed-forward IPPO network: separate actor and critic MLPs, orthogonal init."""

    num_actions: int
    hidden: tuple[int, ...]
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[Categorical, jax.Array]:
        act = nn.relu if self.activation == "relu" else nn.tanh
        init = nn.initializers.orthogonal(np.sqrt(2))
        a, v = x, x
        for width in self.hidden:
            a = act(nn.Dense(width, kernel_init=init)(a))
        logits = nn.Dense(self.num_actions, kernel_init=nn.initializers.orthogonal(0.01))(a)
        for width in self.hidden:
            v = act(nn.Dense(width, kernel_init=init)(v))
        value = nn.Dense(1, kernel_init=nn.initializers.orthogonal(1.0))(v)
        return Categorical.from_logits(logits[..., None, :]), value[..., 0]  # one branch


class Transition(NamedTuple):
    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    done: jax.Array


def jaxmarl_style_ippo(
    env: Any, cfg: dict[str, Any]
) -> tuple[Callable[[jax.Array], Any], Callable[[Any], Any], int]:
    """``(init, update, samples_per_update)`` of the JaxMARL-style loop on JaxMARL ``env``.

    ``update(carry) -> (carry, metrics)``: the mean loss and, when ``env`` is wrapped in one
    of JaxMARL's log wrappers, the mean of its ``returned_episode_returns`` over the rollout
    (what JaxMARL's baselines log). ``cfg["anneal_updates"]``, when given, decays the rate
    linearly to 0 over that many updates, as JaxMARL's ``ANNEAL_LR``.
    """
    agents = env.agents
    num_envs, num_steps = cfg["num_envs"], cfg["rollout_len"]
    actors = len(agents) * num_envs
    net = ActorCritic(env.action_space(agents[0]).n, tuple(cfg["hidden"]), cfg["activation"])
    rate: float | optax.Schedule = cfg["learning_rate"]
    if cfg.get("anneal_updates"):
        steps = cfg["anneal_updates"] * cfg["num_epochs"] * cfg["num_minibatches"]
        rate = optax.linear_schedule(cfg["learning_rate"], 0.0, steps)
    tx = optax.chain(optax.clip_by_global_norm(cfg["max_grad_norm"]), optax.adam(rate, eps=1e-5))

    def batchify(x: dict[str, jax.Array]) -> jax.Array:
        return jnp.stack([x[a] for a in agents]).reshape(actors, -1)

    def init(key: jax.Array) -> Any:
        k_net, k_env, k_run = jax.random.split(key, 3)
        obs_dim = env.observation_space(agents[0]).shape
        params = net.init(k_net, jnp.zeros(obs_dim))
        train_state = TrainState.create(apply_fn=net.apply, params=params, tx=tx)
        obs, env_state = jax.vmap(env.reset)(jax.random.split(k_env, num_envs))
        return train_state, env_state, obs, k_run

    def env_step(carry: Any, _: Any) -> tuple[Any, Transition]:
        train_state, env_state, obs, key = carry
        key, k_act, k_env = jax.random.split(key, 3)
        obs_batch = batchify(obs).astype(jnp.float32)
        pi, value = net.apply(train_state.params, obs_batch)
        action = pi.sample(k_act)[..., 0]
        env_act = {a: action.reshape(len(agents), num_envs)[i] for i, a in enumerate(agents)}
        obs, env_state, reward, done, info = jax.vmap(env.step)(
            jax.random.split(k_env, num_envs), env_state, env_act
        )
        step = Transition(
            obs_batch,
            action,
            pi.log_prob(action[..., None]),
            value,
            batchify(reward)[:, 0],
            batchify(done)[:, 0],
        )
        logged = jnp.mean(info.get("returned_episode_returns", jnp.zeros(())))
        return (train_state, env_state, obs, key), (step, logged)

    def loss_fn(params: Any, mb: tuple[Transition, jax.Array, jax.Array]):
        traj, gae, targets = mb
        pi, value = net.apply(params, traj.obs)
        clip = cfg["clip_eps"]
        value_clipped = traj.value + (value - traj.value).clip(-clip, clip)
        value_loss = (
            0.5
            * jnp.maximum(jnp.square(value - targets), jnp.square(value_clipped - targets)).mean()
        )
        ratio = jnp.exp(pi.log_prob(traj.action[..., None]) - traj.log_prob)
        gae = (gae - gae.mean()) / (gae.std() + 1e-8)
        actor_loss = -jnp.minimum(ratio * gae, jnp.clip(ratio, 1 - clip, 1 + clip) * gae).mean()
        return actor_loss + cfg["vf_coef"] * value_loss - cfg["ent_coef"] * pi.entropy().mean()

    def update(carry: Any) -> tuple[Any, dict[str, jax.Array]]:
        carry, (traj, logged) = jax.lax.scan(env_step, carry, None, num_steps)
        train_state, env_state, obs, key = carry
        _, last_value = net.apply(train_state.params, batchify(obs).astype(jnp.float32))

        def gae_step(acc: Any, t: Transition) -> tuple[Any, jax.Array]:
            gae, next_value = acc
            delta = t.reward + cfg["gamma"] * next_value * (1 - t.done) - t.value
            gae = delta + cfg["gamma"] * cfg["gae_lambda"] * (1 - t.done) * gae
            return (gae, t.value), gae

        _, advantages = jax.lax.scan(
            gae_step, (jnp.zeros_like(last_value), last_value), traj, reverse=True
        )
        batch = jax.tree.map(
            lambda x: x.reshape(-1, *x.shape[2:]), (traj, advantages, advantages + traj.value)
        )
        size, minibatches = num_steps * actors, cfg["num_minibatches"]
        grad_fn = jax.value_and_grad(loss_fn)

        def minibatch(ts: TrainState, mb: Any) -> tuple[TrainState, jax.Array]:
            loss, grads = grad_fn(ts.params, mb)
            return ts.apply_gradients(grads=grads), loss

        def epoch(state: Any, _: Any) -> tuple[Any, jax.Array]:
            ts, k = state
            k, k_perm = jax.random.split(k)
            perm = jax.random.permutation(k_perm, size)
            shuffled = jax.tree.map(
                lambda x: jnp.take(x, perm, axis=0).reshape(minibatches, -1, *x.shape[1:]), batch
            )
            ts, losses = jax.lax.scan(minibatch, ts, shuffled)
            return (ts, k), losses

        (train_state, key), losses = jax.lax.scan(
            epoch, (train_state, key), None, cfg["num_epochs"]
        )
        metrics = {"loss": losses.mean(), "returned_episode_returns": logged.mean()}
        return (train_state, env_state, obs, key), metrics

    return init, update, num_steps * actors


def time_chunks(
    init: Callable, update: Callable, updates: int, chunks: int
) -> tuple[float, float, Any]:
    """``(seconds per update, compile seconds, state)``: the fastest of ``chunks`` timed scans
    of ``updates`` updates (the least disturbed by whatever else the machine runs)."""
    state = init(jax.random.PRNGKey(0))
    run = jax.jit(lambda s: jax.lax.scan(lambda c, _: update(c), s, None, length=updates))
    t = time.perf_counter()
    compiled = run.lower(state).compile()
    compile_s = time.perf_counter() - t
    state, _ = compiled(state)
    jax.block_until_ready(state)
    best = float("inf")
    for _ in range(chunks):
        t = time.perf_counter()
        state, _ = compiled(state)
        jax.block_until_ready(state)
        best = min(best, time.perf_counter() - t)
    return best / updates, compile_s, state


def env_seconds(
    env: Any, num_envs: int, num_steps: int, chunks: int, reset_form: str = "ended"
) -> float:
    """Seconds for ``num_steps`` random-action steps of ``num_envs`` envs of ``env`` (our
    protocol), every output consumed, with ``experiments.bench.env_steps``'s ``reset_form``."""
    run = bench_env.make_rollout(env, num_envs, num_steps, reset_form)
    jax.block_until_ready(run(jax.random.PRNGKey(0)))
    best = float("inf")
    for i in range(chunks):
        t = time.perf_counter()
        jax.block_until_ready(run(jax.random.PRNGKey(i + 1)))
        best = min(best, time.perf_counter() - t)
    return best


def split(total_s: float, rollout_s: float, env_s: float) -> dict[str, float]:
    """Milliseconds per update: env stepping, the rest of the rollout (networks acting, the
    ghost, bookkeeping, advantages) and the learning phase (minibatch epochs)."""
    return {
        "update_ms": 1e3 * total_s,
        "env_ms": 1e3 * env_s,
        "acting_ms": 1e3 * (rollout_s - env_s),
        "learning_ms": 1e3 * (total_s - rollout_s),
    }


# Our rows' env counts, as multiples of JaxMARL's (see the module's docstring).
PAIRINGS = {"same_envs": 1, "same_samples": 2}


def compare(
    name: str,
    scenario: str | None,
    cfg: dict[str, Any],
    updates: int,
    chunks: int,
    pairings: Sequence[str] = tuple(PAIRINGS),
) -> list[dict[str, Any]]:
    """Both loops on ``name``: JaxMARL's row, then one of ours per pairing in ``pairings``,
    with ratios ours / JaxMARL's.

    Each row also splits an update's time (``split``): the rollout alone is the same loop
    with no epochs, the env alone is its stepping with random actions. JaxMARL's loop steps
    JaxMARL's ``step``, which computes a reset for every env on every step; our rows use our
    ``step_batch``, which resets only the envs whose episode ended.
    """
    unknown = sorted(set(pairings) - set(PAIRINGS))
    if unknown:
        raise ValueError(f"unknown pairings {unknown}; valid: {', '.join(PAIRINGS)}")
    inner = make_jaxmarl(name, scenario)
    adapter = JaxMARLEnv(name, scenario)
    spec = adapter.spec
    team_size = spec.num_agents // 2
    steps = cfg["rollout_len"]
    init, update, samples = jaxmarl_style_ippo(inner, cfg)
    theirs_s, theirs_compile, state = time_chunks(init, update, updates, chunks)
    theirs_rollout_s, _, _ = time_chunks(
        *jaxmarl_style_ippo(inner, cfg | {"num_epochs": 0})[:2], updates, chunks
    )
    theirs_env_s = env_seconds(adapter, cfg["num_envs"], steps, chunks, "every_step")
    theirs_flops = count_flops(update, state).matmul_flops
    env_steps = steps * cfg["num_envs"]
    rows = [
        {
            "loop": "jaxmarl_style",
            "pairing": "reference",
            "num_envs": cfg["num_envs"],
            "env_steps_per_s": env_steps / theirs_s,
            "trained_samples_per_s": samples / theirs_s,
            "matmul_gflops": theirs_flops / theirs_s / 1e9,
            "compile_s": theirs_compile,
            **split(theirs_s, theirs_rollout_s, theirs_env_s),
        }
    ]
    ours_keys = [k for k in DEFAULTS if k != "num_envs"]
    for pairing in pairings:
        envs_factor = PAIRINGS[pairing]
        ours_cfg = {k: cfg[k] for k in ours_keys} | {"num_envs": cfg["num_envs"] * envs_factor}
        trainer = algos.make("ippo", adapter, ours_cfg, SelfPlayConfig.mlagents(), 10**9)
        ours_s, ours_compile, ours_state = time_chunks(
            trainer.init, trainer.update, updates, chunks
        )
        rollout_only = algos.make(
            "ippo", adapter, ours_cfg | {"num_epochs": 0}, SelfPlayConfig.mlagents(), 10**9
        )
        ours_rollout_s, _, _ = time_chunks(rollout_only.init, rollout_only.update, updates, chunks)
        ours_env_s = env_seconds(adapter, ours_cfg["num_envs"], steps, chunks)
        ours_flops = count_flops(trainer.update, ours_state).matmul_flops
        ours_env_steps = trainer.env_steps_per_update
        ours_samples = ours_env_steps * team_size
        rows.append(
            {
                "loop": "ours",
                "pairing": pairing,
                "num_envs": ours_cfg["num_envs"],
                "env_steps_per_s": ours_env_steps / ours_s,
                "trained_samples_per_s": ours_samples / ours_s,
                "matmul_gflops": ours_flops / ours_s / 1e9,
                "compile_s": ours_compile,
                "env_steps_ratio": (ours_env_steps / ours_s) / (env_steps / theirs_s),
                "samples_ratio": (ours_samples / ours_s) / (samples / theirs_s),
                **split(ours_s, ours_rollout_s, ours_env_s),
            }
        )
    for row in rows:
        row["env"] = spec.name
    return rows


# JaxMARL's IPPO-FF settings (conf/experiment/jaxmarl_ippo.yaml), at a constant rate: the
# benchmark times updates, so neither loop anneals.
DEFAULTS = {k: v for k, v in experiment_algo("jaxmarl_ippo").items() if k != "anneal_lr"}


def updates_for(env_steps: int, algo: dict[str, Any]) -> int:
    """JaxMARL's ``NUM_UPDATES = TOTAL_TIMESTEPS // NUM_STEPS // NUM_ENVS``."""
    return max(1, env_steps // algo["rollout_len"] // algo["num_envs"])


def jaxmarl_curve(config: dict[str, Any]) -> list[float]:
    """Per-update logged return of JaxMARL's loop on JaxMARL's wrapped env, with a run's
    settings (its ``config.json``: algorithm, env, seed, budget): the ``mpe_spread`` preset's
    ``jaxmarl`` stage, what JaxMARL's script logs (``returned_episode_returns``: each agent's
    reward x 3, the team's summed return, averaged over every step of the rollout)."""
    from jaxmarl.wrappers.baselines import MPELogWrapper

    algo = config["algo"]
    updates = updates_for(int(config["total_env_steps"]), algo)
    env = MPELogWrapper(make_jaxmarl(config["env"]["options"]["env_id"]))
    init, update, _ = jaxmarl_style_ippo(env, algo | {"anneal_updates": updates})
    run = jax.jit(lambda s: jax.lax.scan(lambda c, _: update(c), s, None, length=updates))
    _, metrics = run(init(jax.random.PRNGKey(int(config["seed"]))))
    return [float(x) for x in np.asarray(metrics["returned_episode_returns"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="SMAX", help="JaxMARL env id with two equal teams")
    parser.add_argument("--scenario", default="3m", help="SMAX map; 'none' for other envs")
    parser.add_argument("--updates", type=int, default=4, help="updates per timed chunk")
    parser.add_argument("--chunks", type=int, default=3, help="timed chunks (the fastest counts)")
    parser.add_argument("--num-envs", type=int, default=DEFAULTS["num_envs"])
    parser.add_argument("--hidden", type=int, nargs="*", default=DEFAULTS["hidden"])
    parser.add_argument("--pairings", nargs="+", choices=list(PAIRINGS), default=list(PAIRINGS))
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    cfg = DEFAULTS | {"num_envs": args.num_envs, "hidden": args.hidden}
    scenario = None if args.scenario.lower() == "none" else args.scenario
    rows = compare(args.env, scenario, cfg, args.updates, args.chunks, args.pairings)
    print(f"{'loop':<15}{'pairing':<14}{'envs':>5}{'env-steps/s':>13}{'samples/s':>12}"
          f"{'GFLOP/s':>9}{'ratio env':>11}{'ratio smp':>11}"
          f"{'env ms':>8}{'acting ms':>10}{'learn ms':>9}")  # fmt: skip
    for r in rows:
        print(
            f"{r['loop']:<15}{r['pairing']:<14}{r['num_envs']:>5}{r['env_steps_per_s']:>13,.0f}"
            f"{r['trained_samples_per_s']:>12,.0f}{r['matmul_gflops']:>9.1f}"
            f"{r.get('env_steps_ratio', 1.0):>11.2f}{r.get('samples_ratio', 1.0):>11.2f}"
            f"{r['env_ms']:>8.1f}{r['acting_ms']:>10.1f}{r['learning_ms']:>9.1f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
