"""The PPO core on problems with known answers: GAE against a loop, a bandit, IPPO duels."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import algos
import envs
from algos import ppo
from algos.distributions import Categorical
from algos.selfplay import SelfPlayConfig
from algos.trainer import scan_updates
from tests.toy_games import DominantDuel, Stalemate


def gae_loop(reward, value, done, last_value, gamma, lam):
    """Textbook GAE, one step at a time."""
    T = len(reward)
    adv = np.zeros_like(reward)
    running = np.zeros_like(last_value)
    for t in reversed(range(T)):
        next_v = last_value if t == T - 1 else value[t + 1]
        nd = 1.0 - done[t]
        delta = reward[t] + gamma * next_v * nd - value[t]
        running = delta + gamma * lam * nd * running
        adv[t] = running
    return adv, adv + value


def test_gae_matches_loop():
    rng = np.random.default_rng(0)
    reward = rng.normal(size=(12, 5)).astype(np.float32)
    value = rng.normal(size=(12, 5)).astype(np.float32)
    done = (rng.random((12, 5)) < 0.2).astype(np.float32)
    last = rng.normal(size=(5,)).astype(np.float32)
    adv, ret = ppo.gae(reward, value, done, last, 0.97, 0.9)
    ref_adv, ref_ret = gae_loop(reward, value, done, last, 0.97, 0.9)
    np.testing.assert_allclose(adv, ref_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret, ref_ret, rtol=1e-5, atol=1e-5)


def test_clipped_losses_by_hand():
    # ratio 2 with positive advantage is clipped at 1.2; negative advantage keeps 2 * A.
    lp, old = jnp.log(jnp.array([2.0, 2.0])), jnp.zeros(2)
    loss, frac = ppo.clipped_surrogate(lp, old, jnp.array([1.0, -1.0]), 0.2)
    assert float(loss) == pytest.approx(-(1.2 - 2.0) / 2)
    assert float(frac) == 1.0
    # value moved 1.0 from old 0 towards target 2: clipped to 0.2, the larger error counts.
    v = ppo.clipped_value_loss(jnp.array([1.0]), jnp.array([0.0]), jnp.array([2.0]), 0.2)
    assert float(v) == pytest.approx(1.8**2)


def bandit_run(sign: float) -> float:
    """PPO on a two-armed bandit (arm 1 pays 1, arm 0 pays 0); returns P(arm 1)."""
    params = {"logits": jnp.zeros(2)}
    tx = ppo.optimizer(0.05, 0.5)
    opt_state = tx.init(params)

    def loss_fn(p, mb):
        dist = Categorical.from_logits(p["logits"])
        surrogate, _ = ppo.clipped_surrogate(
            dist.branch_log_prob(mb["action"]), mb["log_prob"], mb["advantage"], 0.2
        )
        return sign * surrogate, {}

    key = jax.random.PRNGKey(0)
    for _ in range(30):
        key, k_act, k_epochs = jax.random.split(key, 3)
        dist = Categorical.from_logits(jnp.broadcast_to(params["logits"], (256, 1, 2)))
        action = dist.sample(k_act)[:, 0]  # 256 draws of the one branch
        reward = action.astype(jnp.float32)
        batch = {
            "action": action,
            "log_prob": dist.log_prob(action[:, None]),
            "advantage": ppo.standardise(reward),
        }
        params, opt_state, _ = ppo.minibatch_epochs(
            k_epochs, params, opt_state, batch, loss_fn, tx, num_epochs=3, num_minibatches=4
        )
    return float(jax.nn.softmax(params["logits"])[1])


def test_ppo_learns_bandit_and_broken_sign_does_not():
    assert bandit_run(1.0) > 0.95
    assert bandit_run(-1.0) < 0.05


TINY = dict(num_envs=32, rollout_len=4, hidden=[16], num_minibatches=4, learning_rate=3e-3)


def train_duel(continuous: bool, updates: int, **overrides):
    env = DominantDuel(continuous=continuous)
    sp = SelfPlayConfig.mlagents(save_steps=200, team_change=500, swap_steps=100, window=3)
    trainer = algos.make("ippo", env, {**TINY, **overrides}, sp, 10**6)
    state = trainer.init(jax.random.PRNGKey(0))
    chunk = jax.jit(scan_updates(trainer, updates))
    state, metrics = chunk(state)
    return env, trainer, state, metrics


def test_ippo_self_play_finds_the_dominant_action_and_gains_elo():
    _, trainer, state, metrics = train_duel(False, 60)
    params = trainer.policy_params(state)
    keys = jax.random.split(jax.random.PRNGKey(1), 200)
    actions = jax.vmap(lambda k: trainer.team_policy(params, jnp.ones((1, 3)), k))(keys)
    assert float(jnp.mean(actions == 1)) > 0.9
    # Against its older snapshots the improving learner wins more than it loses.
    assert float(metrics["elo"][-1]) > 1200.0
    # Both sides were learned from (team change) and the ghost came from the pool and current.
    assert set(np.asarray(metrics["learning_team"]).tolist()) == {0, 1}
    assert set(np.asarray(metrics["ghost_index"]).tolist()) >= {0, 3}


def test_ippo_gaussian_head_finds_the_optimum():
    _, trainer, state, _ = train_duel(True, 60, ent_coef=0.0)
    params = trainer.policy_params(state)
    keys = jax.random.split(jax.random.PRNGKey(1), 500)
    actions = jax.vmap(lambda k: trainer.team_policy(params, jnp.ones((1, 3)), k))(keys)
    assert float(jnp.mean(actions)) == pytest.approx(0.5, abs=0.1)


def test_annealed_learning_rate_reaches_zero_at_the_end_of_the_budget():
    # anneal_lr decays linearly to 0 over exactly the run's updates (total_env_steps): the
    # last budgeted update still learns, one past the budget moves nothing; constant keeps on.
    env = DominantDuel()
    sp = SelfPlayConfig.mlagents(save_steps=200, team_change=500, swap_steps=100, window=3)

    def largest_change(before, after) -> float:
        leaves = zip(jax.tree.leaves(before), jax.tree.leaves(after), strict=True)
        return max(float(jnp.max(jnp.abs(a - b))) for a, b in leaves)

    moved = {}
    for anneal in (True, False):
        budget = 2 * TINY["num_envs"] * TINY["rollout_len"]  # two updates
        trainer = algos.make("ippo", env, {**TINY, "anneal_lr": anneal}, sp, budget)
        update = jax.jit(trainer.update)
        states = [update(trainer.init(jax.random.PRNGKey(0)))[0]]
        for _ in range(2):
            states.append(update(states[-1])[0])
        params = [s.learners[0].params for s in states]
        moved[anneal] = [largest_change(b, a) for b, a in itertools.pairwise(params)]
    assert moved[True][0] > 0.0 and moved[True][1] == 0.0
    assert min(moved[False]) > 0.0


def test_annealed_beta_and_epsilon_follow_ml_agents_linear_schedules():
    # ML-Agents' beta_schedule / epsilon_schedule "linear": from the configured values at the
    # first update to 1e-5 and 0.1 at the end of the budget, and no further; off, constant.
    env = DominantDuel()
    sp = SelfPlayConfig.mlagents(save_steps=200, team_change=500, swap_steps=100, window=3)
    budget = 4 * TINY["num_envs"] * TINY["rollout_len"]  # four updates
    cfg = {**TINY, "ent_coef": 0.005, "clip_eps": 0.2}
    both = {**cfg, "anneal_ent_coef": True, "anneal_clip_eps": True}
    learner = algos.make("ippo", env, both, sp, budget).learners[0]
    coefficients = [[float(c) for c in learner.coefficients(jnp.int32(u))] for u in (0, 2, 4, 9)]
    expected = [[0.005, 0.2], [(0.005 + 1e-5) / 2, 0.15], [1e-5, 0.1], [1e-5, 0.1]]
    np.testing.assert_allclose(coefficients, expected, rtol=1e-6)
    off = algos.make("ippo", env, cfg, sp, budget).learners[0]
    assert off.coefficients(jnp.int32(4)) == (0.005, 0.2)
    # The loss uses the decayed beta: one minibatch step from the same state, batch and key,
    # at the first update and at the last, differs by exactly (beta_0 - beta_end) x entropy.
    one_step = {**cfg, "num_epochs": 1, "num_minibatches": 1, "anneal_ent_coef": True}
    trainer = algos.make("ippo", env, one_step, sp, budget)
    state = trainer.init(jax.random.PRNGKey(0))
    update = jax.jit(trainer.update)
    _, metrics = update(state)
    late = state.replace(learners=(state.learners[0].replace(updates=jnp.int32(4)),))
    _, late_metrics = update(late)
    gap = float(late_metrics["loss"] - metrics["loss"])
    assert gap == pytest.approx((0.005 - 1e-5) * float(metrics["entropy"]), rel=1e-3)


def test_unshared_params_have_an_agent_axis_and_learn():
    env = DominantDuel()
    sp = SelfPlayConfig.mlagents(save_steps=200, team_change=500, swap_steps=100, window=3)
    trainer = algos.make("ippo", env, {**TINY, "share_params": False}, sp, 10**6)
    state = trainer.init(jax.random.PRNGKey(0))
    kernel = state.learners[0].params["actor"]["params"]["MLP_0"]["Dense_0"]["kernel"]
    assert kernel.shape == (1, 3, 16)  # team size 1
    state, metrics = jax.jit(trainer.update)(state)
    assert np.isfinite(float(metrics["loss"]))


def test_mirror_symmetric_actor_is_equivariant_and_keeps_its_params():
    # pi(a | o) = pi(M a | M o) for every branch value, with the same parameter tree as the
    # plain actor (so checkpoints, ghosts and export read it the same way).
    from algos.networks import Actor
    from envs.base import Mirror, MultiDiscrete

    space = MultiDiscrete((3, 2))
    mirror = Mirror(obs_index=(1, 0, 2, 4, 3), action_index=((0, 2, 1), (1, 0)))
    index = np.asarray(mirror.obs_index)
    sym, plain = Actor(space, (16,), "relu", mirror), Actor(space, (16,), "relu")
    obs = jax.random.normal(jax.random.PRNGKey(0), (7, 5))
    params = sym.init(jax.random.PRNGKey(1), obs)
    assert jax.tree.structure(params) == jax.tree.structure(plain.init(jax.random.PRNGKey(1), obs))
    probs = jnp.exp(sym.apply(params, obs).logits)
    probs_m = jnp.exp(sym.apply(params, obs[:, index]).logits)
    np.testing.assert_allclose(probs_m[:, 0], probs[:, 0][:, [0, 2, 1]], atol=1e-6)
    np.testing.assert_allclose(probs_m[:, 1, :2], probs[:, 1, [1, 0]], atol=1e-6)
    assert not np.allclose(probs, probs_m, atol=1e-3)  # and the policy is not trivially flat
    assert not np.allclose(probs[:, 0], probs[:, 0][:, [0, 2, 1]], atol=1e-3)


def test_mirror_symmetric_needs_an_env_that_declares_a_mirror():
    with pytest.raises(ValueError, match="declares no mirror symmetry"):
        algos.make(
            "ippo", DominantDuel(), {"mirror_symmetric": True}, SelfPlayConfig.mlagents(), 1000
        )


def test_surrogate_clips_one_ratio_per_branch_as_ml_agents_does():
    # One sample, two branches: ratios 2 and 1 with advantage 1 and eps 0.2. ML-Agents clips
    # each (1.2 and 1) and averages: -1.1. One joint ratio of the summed log-probs is 2,
    # clipped to 1.2: -1.2, and it counts as one clipped ratio, not one of two.
    log_prob, old = jnp.log(jnp.array([[2.0, 1.0]])), jnp.zeros((1, 2))
    advantage = jnp.ones(1)
    loss, frac = ppo.clipped_surrogate(log_prob, old, advantage, 0.2)
    assert float(loss) == pytest.approx(-1.1) and float(frac) == 0.5
    joint, joint_frac = ppo.clipped_surrogate(log_prob.sum(-1), old.sum(-1), advantage, 0.2)
    assert float(joint) == pytest.approx(-1.2) and float(joint_frac) == 1.0
    # A mask over samples reaches every branch of the sample.
    masked, _ = ppo.clipped_surrogate(
        jnp.concatenate([log_prob, jnp.zeros((1, 2))]), jnp.zeros((2, 2)), jnp.ones(2), 0.2,
        jnp.array([False, True]),
    )  # fmt: skip
    assert float(masked) == pytest.approx(-1.0)


def test_the_learner_keeps_a_log_probability_per_branch():
    env = envs.make("soccer_twos")
    (learner,) = algos.make("ippo", env, TINY, SelfPlayConfig.mlagents(), 10**6).learners
    state = jax.jit(learner.init)(jax.random.PRNGKey(0))
    obs = jnp.zeros((5, learner.team_size, *env.spec.obs_shape))
    action, log_prob = learner._team_sample(
        learner.policy_params(state), obs, jax.random.PRNGKey(1)
    )
    branches = len(env.spec.action_space.branches)
    assert log_prob.shape == (5, learner.team_size, branches)
    dist = learner.actor.apply(state.params["actor"], obs)
    np.testing.assert_allclose(log_prob.sum(-1), dist.log_prob(action), rtol=1e-5)
    with pytest.raises(ValueError, match="valid: per_action, joint"):
        algos.make("ippo", env, {**TINY, "ratio": "summed"}, SelfPlayConfig.mlagents(), 10**6)


@pytest.mark.parametrize("mode", ["mlagents", "clip"])
def test_initial_gaussian_policy_sends_ml_agents_action_spread(mode):
    # The initial policy is N(~0, 1). ML-Agents sends clamp(a, -3, 3) / 3: std ~1/3 and
    # almost nothing on the bounds (P(|z| > 3) = 0.27%). Clipping the sample to [-1, 1] gives
    # std ~0.72 with 31.7% of the actions on the bounds.
    env = DominantDuel(continuous=True)
    trainer = algos.make(
        "ippo", env, {**TINY, "continuous_actions": mode}, SelfPlayConfig.mlagents(), 10**6
    )
    (learner,) = trainer.learners
    params = learner.policy_params(jax.jit(learner.init)(jax.random.PRNGKey(0)))
    obs = jnp.zeros((learner.team_size, *env.spec.obs_shape))
    keys = jax.random.split(jax.random.PRNGKey(1), 4000)
    actions = np.asarray(jax.vmap(lambda k: learner.act(params, obs, k))(keys))
    on_bounds = float(np.mean(np.abs(actions) >= 1.0))
    if mode == "mlagents":
        assert 0.31 < actions.std() < 0.35 and on_bounds < 0.01
    else:
        assert 0.68 < actions.std() < 0.76 and 0.29 < on_bounds < 0.345
    assert np.all(np.abs(actions) <= 1.0)


def test_standardising_leaves_value_noise_small_and_real_advantages_at_unit_scale():
    rng = np.random.default_rng(0)
    noise = jnp.asarray(1e-3 * rng.standard_normal(4096))  # a batch with no reward in it
    signal = jnp.asarray(0.5 * rng.standard_normal(4096))
    assert float(jnp.std(ppo.standardise(noise))) == pytest.approx(1.0, rel=1e-3)  # ML-Agents
    scaled = float(jnp.std(ppo.standardise(noise, std_floor=0.01)))
    assert scaled == pytest.approx(float(jnp.std(noise)) / 0.01, rel=1e-3)
    assert float(jnp.std(ppo.standardise(signal, std_floor=0.01))) == pytest.approx(1.0, rel=1e-3)


def test_with_no_decided_game_the_floor_lets_the_entropy_bonus_steer_not_the_value_noise():
    """A stalled run's updates (README § Stalls), in a game that is never decided: once the
    critic has learned that nothing is paid, its advantages are noise. Standardised to unit
    scale (ML-Agents'), they walk the policy at random, and entropy drifts down, as it fell
    from 2.95 to 2.04 in a stalled SoccerTwos run; under the floor the entropy bonus is the
    only signal left and the policy returns to exploring (maximum entropy ln 3)."""
    sp = SelfPlayConfig.mlagents(save_steps=200, team_change=500, swap_steps=100, window=3)
    final = {}
    for floor in (0.01, 0.0):
        cfg = {**TINY, "advantage_std_floor": floor}
        trainer = algos.make("ippo", Stalemate(), cfg, sp, 10**6)
        state = trainer.init(jax.random.PRNGKey(0))
        (own,) = state.learners
        # start from a settled policy: logits (2, 0, -2), entropy 0.44
        peaked = jax.tree.map(
            lambda p: jnp.array([2.0, 0.0, -2.0]) if p.shape == (3,) else p, own.params["actor"]
        )
        params = {**own.params, "actor": peaked}
        own = own.replace(params=params, opt_state=trainer.learners[0].tx.init(params))
        _, metrics = jax.jit(scan_updates(trainer, 150))(state.replace(learners=(own,)))
        assert int(np.sum(metrics["decided_games"])) == 0
        assert float(metrics["advantage_std"][-1]) < 1e-3  # the critic has settled on zero
        final[floor] = float(np.mean(metrics["entropy"][-10:]))
    assert final[0.01] > 0.95 * np.log(3)
    assert final[0.0] < 0.75 * np.log(3)
