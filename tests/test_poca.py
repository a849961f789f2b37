"""MA-POCA: attention masking, hand-computed advantages, posthumous credit on a toy task."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import algos
from algos import rollout
from algos.networks import action_features
from algos.poca import POCACritic, counterfactual_advantages
from algos.selfplay import SelfPlayConfig
from algos.trainer import scan_updates
from envs.base import MultiDiscrete
from tests.toy_games import Sacrifice


def test_absent_agents_cannot_reach_the_critic():
    critic = POCACritic(hidden=16, num_layers=1)
    space = MultiDiscrete((3, 3))
    obs = jax.random.normal(jax.random.PRNGKey(0), (5, 3, 7))
    act = action_features(space, jax.random.randint(jax.random.PRNGKey(1), (5, 3, 2), 0, 3))
    mask = jnp.array([True, True, False])
    params = critic.init(jax.random.PRNGKey(2), obs, act, jnp.broadcast_to(mask, (5, 3)))
    mask = jnp.broadcast_to(mask, (5, 3))
    apply = jax.jit(critic.apply, static_argnames="method")  # one program, not ~400 eager ops
    value, baseline = apply(params, obs, act, mask)
    assert value.shape == (5,) and baseline.shape == (5, 3)

    garbage_obs = obs.at[:, 2].set(1e6)
    garbage_act = act.at[:, 2].set(-3.0)
    value2, baseline2 = apply(params, garbage_obs, garbage_act, mask)
    np.testing.assert_allclose(value2, value, rtol=1e-6)
    np.testing.assert_allclose(baseline2[:, :2], baseline[:, :2], rtol=1e-6)
    # ... while a present agent's input does move the value.
    value3, _ = apply(params, obs.at[:, 1].add(1.0), act, mask)
    assert not np.allclose(value3, value)
    # The fused pass the learner uses computes the same two heads, masking included.
    fused = POCACritic.value_and_baseline
    value4, baseline4 = apply(params, garbage_obs, garbage_act, mask, method=fused)
    np.testing.assert_allclose(value4, value, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(baseline4, baseline, rtol=1e-5, atol=1e-6)


def test_baseline_depends_on_the_others_actions_not_its_own():
    critic = POCACritic(hidden=16, num_layers=1)
    space = MultiDiscrete((3,))
    obs = jax.random.normal(jax.random.PRNGKey(0), (4, 2, 5))
    a = jnp.zeros((4, 2, 1), jnp.int32)
    mask = jnp.ones((4, 2), bool)
    params = critic.init(jax.random.PRNGKey(1), obs, action_features(space, a), mask)
    apply = jax.jit(critic.apply)  # one program, not ~200 eager ops
    _, base = apply(params, obs, action_features(space, a), mask)
    _, moved = apply(params, obs, action_features(space, a.at[:, 0].set(2)), mask)
    np.testing.assert_allclose(moved[:, 0], base[:, 0], rtol=1e-6)  # own action: no effect
    assert not np.allclose(moved[:, 1], base[:, 1])  # teammate's action: counterfactual input


def test_counterfactual_advantages_by_hand():
    # One env, two steps, two agents; gamma 0.9, lambda 0.5; the episode ends after t = 1.
    reward = jnp.array([[0.0], [1.0]])
    value = jnp.array([[0.5], [0.8]])
    done = jnp.array([[False], [True]])
    baseline = jnp.array([[[0.2, 0.4]], [[0.1, 0.3]]])
    returns, adv = counterfactual_advantages(
        reward, value, done, jnp.array([7.0]), baseline, 0.9, 0.5
    )
    # G1 = 1 (terminal); G0 = 0 + 0.9 * ((1 - 0.5) * 0.8 + 0.5 * 1) = 0.81
    np.testing.assert_allclose(returns[:, 0], [0.81, 1.0], rtol=1e-6)
    np.testing.assert_allclose(adv[:, 0], [[0.61, 0.41], [0.9, 0.7]], rtol=1e-5)


def test_rollout_marks_agents_that_left():
    env = Sacrifice()

    def always_leave(obs, key, episode_id):
        action = jnp.ones((*obs.shape[:2], 1), jnp.int32)
        return action, action, None

    runner = rollout.init_runner(env, jax.random.PRNGKey(0), 3)
    _, steps, episodes = rollout.collect(
        env,
        runner,
        jax.random.PRNGKey(1),
        4,
        rollout.symmetric_seats(env.spec, jnp.asarray(1)),
        always_leave,
        lambda obs, key, episode_id: jnp.zeros((*obs.shape[:2], 1), jnp.int32),
    )
    # a (slot 0) plays at t = 0, is gone at t = 1, and is back for the next episode.
    np.testing.assert_array_equal(steps.active[:, 0], [[1, 1], [0, 1], [1, 1], [0, 1]])
    np.testing.assert_array_equal(episodes.ended[:, 0], [0, 1, 0, 1])
    np.testing.assert_allclose(steps.group_reward[1, 0], [1.0, 1.0])  # b played 1 too
    np.testing.assert_array_equal(steps.episode_id[:, 0], [0, 0, 1, 1])  # one id per episode


def act_probs(policy, params):
    keys = jax.random.split(jax.random.PRNGKey(1), 400)
    a_first = jnp.array([[1.0, 0, 1, 0], [1.0, 0, 0, 1]])
    b_second = jnp.array([[0.0, 0, 0, 0], [0.0, 1, 0, 1]])
    leave = jax.vmap(lambda k: policy(params, a_first, k))(keys)[:, 0, 0].mean()
    play = jax.vmap(lambda k: policy(params, b_second, k))(keys)[:, 1, 0].mean()
    return float(leave), float(play)


@pytest.mark.parametrize("algo", ["poca", "ippo"])
def test_posthumous_credit_teaches_the_sacrifice(algo):
    cfg = dict(num_envs=32, rollout_len=8, hidden=[16], num_minibatches=4, learning_rate=3e-3)
    if algo == "poca":
        cfg.update(critic_hidden=16, critic_layers=1)
    sp = SelfPlayConfig.mlagents(save_steps=200, team_change=500, swap_steps=100, window=3)
    trainer = algos.make(algo, Sacrifice(), cfg, sp, 10**6)
    state = trainer.init(jax.random.PRNGKey(0))
    step = jax.jit(scan_updates(trainer, 80))
    state, metrics = step(state)
    leave, play = act_probs(trainer.team_policy, trainer.policy_params(state))
    assert play > 0.85  # both learn that b should play 1 once a has left
    if algo == "poca":  # the team's later reward reaches a, which has left: it learns to go
        assert leave > 0.9
        assert float(metrics["episode_return"][-1]) > 0.9
    else:  # without posthumous credit a only sees 0 (leave) against 0.3 (stay)
        assert leave < 0.2
        assert float(metrics["episode_return"][-1]) < 0.5


PROJECTIONS = ("query", "key", "value")


def mlagents_residual_self_attention(p: dict, x: np.ndarray, mask: np.ndarray, heads: int):
    """ML-Agents' ``ResidualSelfAttention.forward`` (``torch/attention.py``) in NumPy:
    plain layer norm, scores over sqrt(embedding size), output added to the normalised input,
    layer norm, masked mean. ``mask`` is True for present entities."""

    def layer_norm(y):
        mean = y.mean(-1, keepdims=True)
        return (y - mean) / np.sqrt(((y - mean) ** 2).mean(-1, keepdims=True) + 1e-5)

    def dense(name, y):
        return y @ np.asarray(p[name]["kernel"]) + np.asarray(p[name]["bias"])

    b, n, emb = x.shape
    x = layer_norm(x)
    q, k, v = (
        dense(name, x).reshape(b, n, heads, emb // heads) for name in ("query", "key", "value")
    )
    qk = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(emb)
    qk = np.where(mask[:, None, None, :], qk, -1e9)
    att = np.exp(qk - qk.max(-1, keepdims=True))
    att = att / att.sum(-1, keepdims=True)
    out = np.einsum("bhqk,bkhd->bqhd", att, v).reshape(b, n, emb)
    out = layer_norm(dense("out", out) + x)
    keep = mask[..., None].astype(np.float64)
    return (out * keep).sum(1) / keep.sum(1)


def test_residual_self_attention_is_ml_agents_forward():
    from algos.networks import ResidualSelfAttention

    attention = ResidualSelfAttention(heads=4)
    x = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (6, 3, 16)), np.float64)
    mask = np.array([[True, True, True]] * 3 + [[True, False, True]] * 3)
    params = attention.init(jax.random.PRNGKey(1), jnp.asarray(x, jnp.float32), jnp.asarray(mask))
    # Only the four projections are learned: ML-Agents' layer norms have no scale or bias.
    assert sorted(params["params"]) == ["key", "out", "query", "value"]
    got = attention.apply(params, jnp.asarray(x, jnp.float32), jnp.asarray(mask))
    want = mlagents_residual_self_attention(params["params"], x, mask, heads=4)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)
