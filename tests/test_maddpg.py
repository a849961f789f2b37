"""MADDPG: Gumbel-Softmax, centralised critic inputs, ensemble routing, a cooperative optimum."""

from __future__ import annotations

from threading import Thread

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from toy_games import SplitTheTarget

import algos
from algos import maddpg, optim
from algos.networks import MLP, init_each
from algos.selfplay import SelfPlayConfig
from algos.trainer import Trainer, scan_updates
from experiments.core.build import build
from tests.tiny import config, tiny

SELFPLAY = SelfPlayConfig.mlagents(save_steps=200, team_change=500, swap_steps=100, window=3)
TINY = dict(
    num_envs=16,
    rollout_len=1,
    grad_steps=2,
    batch_size=64,
    buffer_size=1024,
    learning_starts=128,
    hidden=[32],
    critic_hidden=[32, 32],
    noise_std=0.2,
)


def make_trainer(**overrides) -> Trainer:
    return algos.make("maddpg", SplitTheTarget(), {**TINY, **overrides}, SELFPLAY, 10**6)


def make(**overrides) -> maddpg.MADDPG:
    return make_trainer(**overrides).learners[0]


def init(learner: maddpg.MADDPG) -> maddpg.MADDPGState:
    # Jitted: op by op, a learner's init is hundreds of small compilations.
    return jax.jit(learner.init)(*jax.random.split(jax.random.PRNGKey(0), learner.init_keys))


def test_gumbel_softmax_is_one_hot_forward_with_soft_gradients():
    logits = jnp.array([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]])
    sample = maddpg.gumbel_softmax(jax.random.PRNGKey(0), logits, 1.0)
    one_hot = jax.nn.one_hot(jnp.argmax(sample, -1), 3)
    np.testing.assert_allclose(sample, one_hot, atol=1e-6)  # forward: exactly one branch
    weights = jnp.array([1.0, 2.0, 3.0])
    grad = jax.grad(
        lambda lg: jnp.sum(maddpg.gumbel_softmax(jax.random.PRNGKey(0), lg, 1.0) * weights)
    )(logits)
    assert float(jnp.abs(grad).sum()) > 1e-3  # straight-through: the soft sample's gradient
    # Many samples follow softmax(logits).
    draws = jax.vmap(lambda k: maddpg.gumbel_softmax(k, logits[0], 1.0))(
        jax.random.split(jax.random.PRNGKey(1), 4000)
    )
    np.testing.assert_allclose(draws.mean(0), jax.nn.softmax(logits[0]), atol=0.03)


def sub_policy(actor, slot: int, k: int):
    return jax.tree.map(lambda p: p[slot, k], actor)


def batch_where_reward_is(fn, learner: maddpg.MADDPG, key: jax.Array, size: int = 256):
    """A replay batch ``[B, 2, ...]`` of one-shot steps with random actions for all 4 agents."""
    k_l, k_g = jax.random.split(key)
    obs = jnp.broadcast_to(SplitTheTarget()._obs()[:2], (size, 2, 2, 2))
    action = jax.random.uniform(k_l, (size, 2, 2, 1), minval=-1, maxval=1)
    ghost_action = jax.random.uniform(k_g, (size, 2, 2, 1), minval=-1, maxval=1)
    reward = fn(action[..., 0], ghost_action[..., 0])  # [B, 2, n]
    ones = jnp.ones((size, 2, 2), bool)
    return {
        "obs": obs,
        "ghost_obs": obs,
        "action": action,
        "ghost_action": ghost_action,
        "reward": reward,
        "terminal": ones,
        "truncated": ~ones,
        "active": ones,
        "sub": jnp.zeros((size, 2, 2), jnp.int32),
        "team": jnp.zeros((size, 2), jnp.int32),
    }


def fit_critic(learner: maddpg.MADDPG, reward_fn, steps: int = 400) -> tuple[float, float]:
    """Train the critics alone on a fixed batch; return (initial, final) loss."""
    state = init(learner)
    batch = batch_where_reward_is(reward_fn, learner, jax.random.PRNGKey(1))
    nets, norm = state.nets, state.obs_norm

    def step(nets, k):
        (loss, _), grads = jax.value_and_grad(learner._critic_loss, has_aux=True)(
            nets.critic, nets, norm, batch, k
        )
        updates, opt = learner.critic_tx.update(grads, nets.critic_opt, nets.critic)
        return nets.replace(critic=optax.apply_updates(nets.critic, updates), critic_opt=opt), loss

    _, losses = jax.jit(
        lambda n: jax.lax.scan(step, n, jax.random.split(jax.random.PRNGKey(2), steps))
    )(nets)
    return float(losses[0]), float(losses[-10:].mean())


@pytest.mark.parametrize("who", ["teammate", "ghost"])
def test_critic_fits_rewards_that_only_other_agents_actions_explain(who):
    """Slot i is paid the *other* agent's action: a critic that saw only its own could not fit
    it (its loss would stay near the reward variance, 1/3)."""

    def reward(action, ghost_action):
        other = action[..., ::-1] if who == "teammate" else ghost_action[..., ::-1]
        return other

    learner = make(critic_lr=3e-3)
    first, last = fit_critic(learner, reward)
    assert first > 0.2
    assert last < 0.02


def test_subpolicy_draw_is_fixed_per_episode_and_uniform():
    key = jax.random.PRNGKey(3)
    ids = jnp.arange(3000) % 1000  # 16 envs would never share a key: use one env per id
    a = maddpg.draw_subpolicies(key, jnp.zeros(4, jnp.int32), 2, 3)
    b = maddpg.draw_subpolicies(key, jnp.zeros(4, jnp.int32), 2, 3)
    np.testing.assert_array_equal(a, b)  # same env, same episode: same draw
    draws = jax.vmap(lambda e: maddpg.draw_subpolicies(key, e[None], 2, 3)[0])(ids)
    np.testing.assert_allclose(
        np.bincount(np.asarray(draws).ravel(), minlength=3) / draws.size, 1 / 3, atol=0.03
    )
    assert len({tuple(r) for r in np.asarray(draws[:50]).tolist()}) > 3  # episodes differ


def test_actor_gradient_reaches_only_the_subpolicies_that_played():
    learner = make(ensemble_size=3)
    state = init(learner)
    batch = batch_where_reward_is(lambda a, g: a, learner, jax.random.PRNGKey(1))
    batch["sub"] = batch["sub"].at[:, :, 0].set(2)  # slot 0 only ever played sub-policy 2
    grads = jax.jit(jax.grad(learner._actor_loss))(
        state.nets.actor, state.nets, state.obs_norm, batch, jax.random.PRNGKey(2)
    )
    norm = jax.vmap(jax.vmap(lambda g: sum(jnp.abs(x).sum() for x in jax.tree.leaves(g))))(grads)
    assert float(norm[0, 2]) > 0 and float(norm[0, 0]) == 0 and float(norm[0, 1]) == 0
    assert float(norm[1, 0]) > 0 and float(norm[1, 1]) == 0  # slot 1 played sub-policy 0


def test_tiny_run_stores_each_step_under_the_subpolicy_that_played_it():
    trainer = make_trainer(ensemble_size=3, noise_std=0.0, learning_starts=10**4, buffer_size=10**4)
    (learner,) = trainer.learners
    run, _ = jax.jit(scan_updates(trainer, 20))(trainer.init(jax.random.PRNGKey(0)))
    (state,) = run.learners
    buf = state.buffer
    stored = int(buf.current_index)
    sub = buf.experience["sub"][:, :stored]  # [E, T, n]
    action = buf.experience["action"][:, :stored, :, 0]
    assert set(np.unique(sub).tolist()) == {0, 1, 2}
    # No learning happened (learning_starts not reached): each stored action is what the
    # tagged sub-policy plays deterministically from the slot's observation.
    obs = SplitTheTarget()._obs()[:2]
    for slot in range(2):
        for k in range(3):
            params = sub_policy(state.nets.actor, slot, k)
            expected = jnp.tanh(learner.actor.apply(params, obs[slot]))[0]
            mine = np.asarray(sub[..., slot] == k)
            np.testing.assert_allclose(
                np.asarray(action[..., slot])[mine], float(expected), atol=1e-6
            )


@pytest.mark.parametrize("ensemble", [1, 2])
def test_maddpg_finds_the_cooperative_optimum(ensemble):
    trainer = make_trainer(ensemble_size=ensemble)
    (learner,) = trainer.learners
    run, metrics = jax.jit(scan_updates(trainer, 400))(trainer.init(jax.random.PRNGKey(0)))
    (state,) = run.learners
    obs = SplitTheTarget()._obs()[:2]
    for k in range(ensemble):  # every sub-policy, deterministically
        for slot, target in ((0, 0.5), (1, 0.1)):
            params = sub_policy(state.nets.actor, slot, k)
            action = float(jnp.tanh(learner.actor.apply(params, obs[slot]))[0])
            assert action == pytest.approx(target, abs=0.1), (k, slot)
    assert float(metrics["critic_loss"][-10:].mean()) < 0.01


def test_gradients_are_clipped_per_variable_of_each_network_as_the_reference_does():
    learner = make(ensemble_size=3)
    assert learner.cfg.grad_clip == "per_variable"
    state = init(learner)
    batch = batch_where_reward_is(lambda a, g: a, learner, jax.random.PRNGKey(1))
    grads = jax.jit(jax.grad(learner._actor_loss))(
        state.nets.actor, state.nets, state.obs_norm, batch, jax.random.PRNGKey(2)
    )
    grads = jax.tree.map(lambda g: g.at[0].multiply(1e4), grads)  # slot 0's networks explode

    def clipped(mode: str):
        out, _ = optim.gradient_clip(0.5, mode, block_dims=2).update(grads, optax.EmptyState())
        return out

    def leaf_norms(tree) -> np.ndarray:  # [leaves, n, K]: each variable of each network
        return np.stack([
            np.sqrt(np.sum(np.square(np.asarray(x)), axis=tuple(range(2, x.ndim))))
            for x in jax.tree.leaves(tree)
        ])  # fmt: skip

    before, per_var = leaf_norms(grads), leaf_norms(clipped("per_variable"))
    # Each variable of each (agent, sub-policy) network is clipped on its own norm ...
    np.testing.assert_allclose(per_var, np.minimum(before, 0.5), rtol=1e-5)
    # ... so slot 1's small gradients pass untouched, while one global norm shrinks them too.
    small = (before[:, 1] > 0) & (before[:, 1] < 0.5)
    assert small.any()
    assert np.all(leaf_norms(clipped("global"))[:, 1][small] < 0.01 * before[:, 1][small])
    per_net = leaf_norms(clipped("per_network"))
    net_norm = np.sqrt(np.sum(before**2, axis=0))  # [n, K]
    np.testing.assert_allclose(per_net, before * np.minimum(1.0, 0.5 / net_norm), rtol=1e-5)


def test_ensemble_init_is_the_vmapped_init_and_two_learners_init_in_one_program():
    """``init_each`` gives ``vmap(init)``'s values; and two MADDPG learners' inits in one
    program finish: vmapped, their two batched QRs each held one of a 2-core machine's two
    intra-op threads while waiting for work queued behind the other, and hung for good."""
    net, x = MLP((16, 16)), jnp.zeros((1, 5))
    keys = jax.random.split(jax.random.PRNGKey(1), (2, 3))
    looped = init_each(lambda k: net.init(k, x), keys)
    vmapped = jax.vmap(jax.vmap(lambda k: net.init(k, x)))(keys)
    for a, b in zip(jax.tree.leaves(looped), jax.tree.leaves(vmapped), strict=True):
        assert a.shape[:2] == (2, 3)
        np.testing.assert_array_equal(a, b)

    _, trainer = build(config("env=strikers_vs_goalie", *tiny("maddpg")))
    assert len(trainer.learners) == 2
    done = []

    def init_state() -> None:
        done.append(jax.block_until_ready(trainer.init(jax.random.PRNGKey(0))))

    init = Thread(target=init_state, daemon=True)
    init.start()
    init.join(timeout=120)
    assert done, "two MADDPG learners' init did not finish in 120 s: a batched QR deadlock"


def test_joined_first_layer_is_dense_on_the_concatenation_and_skips_unasked_gradients():
    """MADDPG's critic reads observations and actions apart (``JoinedDense``): the same
    parameters and outputs as ``nn.Dense`` on their concatenation, and a gradient for the
    actions alone computes no ``[batch, observation width]`` product."""
    obs = jax.random.normal(jax.random.PRNGKey(0), (32, 300))
    act = jax.random.normal(jax.random.PRNGKey(1), (32, 9))
    joined, plain = MLP((16, 8)), MLP((16, 8))
    params = joined.init(jax.random.PRNGKey(2), (obs, act))
    same = plain.init(jax.random.PRNGKey(2), jnp.concatenate([obs, act], -1))
    assert jax.tree.all(jax.tree.map(np.array_equal, params, same))  # same init, same names
    np.testing.assert_allclose(
        joined.apply(params, (obs, act)),
        plain.apply(params, jnp.concatenate([obs, act], -1)),
        rtol=1e-5,
        atol=1e-6,
    )

    def product_widths(model: nn.Module, inputs) -> set[int]:
        jaxpr = jax.make_jaxpr(jax.grad(lambda a: jnp.sum(model.apply(params, inputs(a)))))(act)
        return {
            e.outvars[0].aval.shape[-1] for e in jaxpr.eqns if e.primitive.name == "dot_general"
        }

    assert 309 in product_widths(plain, lambda a: jnp.concatenate([obs, a], -1))
    assert not {300, 309} & product_widths(joined, lambda a: (obs, a))
