"""Ghost self-play: ELO by hand, and the save / swap / team-change cadence of ML-Agents."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algos import rollout, selfplay
from algos.selfplay import SelfPlayConfig
from tests.toy_games import DominantDuel


def test_elo_change_by_hand():
    # Equal ratings: E = 0.5.
    assert float(selfplay.elo_change(1200.0, 1200.0, 1.0)) == pytest.approx(0.5)
    assert float(selfplay.elo_change(1200.0, 1200.0, 0.0, k=16)) == pytest.approx(-8.0)
    # 200 points ahead: E = 1 / (1 + 10^(-0.5)) = 0.759747
    assert float(selfplay.elo_change(1400.0, 1200.0, 1.0)) == pytest.approx(1 - 0.759747, abs=1e-5)
    assert float(selfplay.elo_change(1400.0, 1200.0, 0.5, k=32)) == pytest.approx(
        32 * (0.5 - 0.759747), abs=1e-3
    )


def sp_state(window: int = 3) -> selfplay.SelfPlayState:
    return selfplay.init({"w": jnp.zeros(2)}, SelfPlayConfig.mlagents(window=window))


def test_record_games_is_sequential_and_ignores_unfinished():
    sp = sp_state().replace(ghost_index=jnp.asarray(1))
    results = jnp.array([[1.0, 0.0], [1.0, 0.5]])
    finished = jnp.array([[True, False], [True, True]])
    out = selfplay.record_games(sp, results, finished, k=1.0)
    learner, ghost = 1200.0, 1200.0
    for s in (1.0, 1.0, 0.5):  # time-major order of the finished entries
        e = 1 / (1 + 10 ** ((ghost - learner) / 400))
        learner, ghost = learner + (s - e), ghost - (s - e)
    assert float(out.elos[-1]) == pytest.approx(learner, abs=1e-4)
    assert float(out.elos[1]) == pytest.approx(ghost, abs=1e-4)
    assert float(out.elos[0]) == 1200.0 and float(out.elos[2]) == 1200.0


def test_games_against_current_leave_elo_unchanged():
    sp = sp_state().replace(ghost_index=jnp.asarray(3))  # index == window: "current"
    out = selfplay.record_games(sp, jnp.array([1.0, 1.0, 0.0]), jnp.ones(3, bool), k=1.0)
    np.testing.assert_allclose(out.elos, sp.elos)


def test_game_result_compares_with_the_ghost_team():
    def episodes(mine, theirs):
        mine, theirs = jnp.asarray(mine), jnp.asarray(theirs)
        z = jnp.zeros(mine.shape[0])
        return rollout.Episodes(z, z, mine, z, mine, theirs, z)

    # SoccerTwos goal (+0.9 vs -1), own goal, Tennis fault by the ghost (0 vs -0.01).
    res = rollout.game_result(
        episodes([[0.9, 0.9], [-1, -1], [0.0, 0.0]], [[-1, -1], [0.8, 0.8], [-0.01, -0.01]])
    )
    np.testing.assert_array_equal(res, [[1, 1], [0, 0], [1, 1]])


def reference_schedule(cfg: SelfPlayConfig, increments: int, calls: int):
    """ML-Agents' GhostTrainer.advance bookkeeping, one call per update, in Python."""
    learner_steps = ghost_steps = last_save = last_swap = last_change = 0
    team, counter, saved = 0, 1 % cfg.window, 1
    log = []
    for _ in range(calls):
        learner_steps += increments
        ghost_steps += increments
        changed = learner_steps - last_change > cfg.team_change
        if changed:
            team, last_change = 1 - team, learner_steps
        saving = learner_steps - last_save > cfg.save_steps
        if saving:
            counter, saved, last_save = (
                (counter + 1) % cfg.window,
                min(saved + 1, cfg.window),
                learner_steps,
            )
        swapped = changed or ghost_steps - last_swap > cfg.swap_steps
        if swapped:
            last_swap = ghost_steps
        log.append((team, counter, saved, saving, swapped))
    return log


def test_schedule_follows_ml_agents_cadence():
    cfg = SelfPlayConfig.mlagents(save_steps=100, team_change=300, swap_steps=150, window=3)
    params = {"w": jnp.zeros(2)}
    sp = selfplay.init(params, cfg)
    step = jax.jit(
        lambda sp, p, k: selfplay.advance(sp, p, k, jnp.asarray(40), jnp.asarray(40), cfg)
    )
    expected = reference_schedule(cfg, 40, 20)
    for i, (team, counter, saved, saving, swapped) in enumerate(expected):
        before = sp
        new_params = {"w": jnp.full(2, float(i + 1))}
        sp = step(sp, new_params, jax.random.PRNGKey(i))
        assert int(sp.learning_team) == team, i
        assert int(sp.counter) == counter and int(sp.num_saved) == saved, i
        if saving:  # the current weights went into the slot before ``counter``
            slot = (counter - 1) % cfg.window
            np.testing.assert_array_equal(sp.pool["w"][slot], new_params["w"])
            assert float(sp.elos[slot]) == float(before.elos[-1])
        if not swapped:
            np.testing.assert_array_equal(sp.ghost["w"], before.ghost["w"])
            assert int(sp.ghost_index) == int(before.ghost_index)


@pytest.mark.parametrize("ratio", [0.0, 1.0])
def test_swap_draws_from_the_pool_or_current(ratio):
    cfg = SelfPlayConfig.mlagents(
        save_steps=10**9,
        team_change=10**9,
        swap_steps=0,
        window=4,
        play_against_latest_model_ratio=ratio,
    )
    sp = selfplay.init({"w": jnp.zeros(1)}, cfg)
    sp = sp.replace(num_saved=jnp.asarray(2))
    for i in range(30):
        sp = selfplay.advance(sp, {"w": jnp.full(1, 7.0)}, jax.random.PRNGKey(i), 1, 1, cfg)
        if ratio == 1.0:
            assert int(sp.ghost_index) == cfg.window and float(sp.ghost["w"][0]) == 7.0
        else:
            assert int(sp.ghost_index) in (0, 1) and float(sp.ghost["w"][0]) == 0.0


def swapping_every_update(**overrides) -> SelfPlayConfig:
    """A config whose ghost is redrawn after every update, with no saves or team changes,
    and three frozen opponents ``a``, ``b``, ``c``."""
    fixed = {"save_steps": 10**9, "team_change": 10**9, "swap_steps": 0}
    return SelfPlayConfig.mlagents(**fixed, opponents=("a", "b", "c"), **overrides)


def test_frozen_opponents_are_drawn_at_swaps_and_leave_elo_alone():
    cfg = swapping_every_update(opponents_ratio=0.9)
    sp = selfplay.init({"w": jnp.zeros(1)}, cfg)
    assert int(sp.ghost_opponent) == -1  # the first ghost is the initial network
    drawn = set()
    for i in range(40):
        sp = selfplay.advance(sp, {"w": jnp.ones(1)}, jax.random.PRNGKey(i), 1, 1, cfg)
        drawn.add(int(sp.ghost_opponent))
    assert drawn == {-1, 0, 1, 2}
    sp = sp.replace(ghost_opponent=jnp.asarray(1))
    out = selfplay.record_games(sp, jnp.array([1.0, 1.0]), jnp.ones(2, bool), k=16.0)
    np.testing.assert_array_equal(out.elos, sp.elos)
    # With ratio 0 (ML-Agents) a swap never hands the ghost to a frozen opponent.
    plain = SelfPlayConfig.mlagents(
        save_steps=10**9, team_change=10**9, swap_steps=0, opponents=("a",)
    )
    sp = selfplay.init({"w": jnp.zeros(1)}, plain)
    for i in range(20):
        sp = selfplay.advance(sp, {"w": jnp.ones(1)}, jax.random.PRNGKey(i), 1, 1, plain)
        assert int(sp.ghost_opponent) == -1
    # With ratio 1 every game is against the population, the first one included.
    only = SelfPlayConfig.mlagents(opponents=("a",), opponents_ratio=1.0)
    assert int(selfplay.init({"w": jnp.zeros(1)}, only).ghost_opponent) == 0


def test_the_opponent_record_counts_the_current_opponent_and_forgets():
    cfg = SelfPlayConfig.mlagents(opponents=("a", "b"), opponents_ratio=0.5)
    sp = selfplay.init({"w": jnp.zeros(1)}, cfg).replace(ghost_opponent=jnp.asarray(1))
    results, finished = jnp.array([1.0, 0.0, 1.0, 0.5]), jnp.array([True, True, True, False])
    sp = selfplay.record_opponent_games(sp, results, finished)
    np.testing.assert_allclose(sp.opponent_score, [0.0, 2.0])
    np.testing.assert_allclose(sp.opponent_games, [0.0, 3.0])
    snapshot = sp.replace(ghost_opponent=jnp.asarray(-1))  # a snapshot's games: forget only
    out = selfplay.record_opponent_games(snapshot, results, finished)
    np.testing.assert_allclose(out.opponent_games, [0.0, 3.0 * selfplay.PFSP_MEMORY])


@pytest.mark.parametrize(
    ("pfsp", "weights"),
    [("hard", [0.01, 0.81, 0.25]), ("variance", [0.09, 0.09, 0.25]), ("uniform", [1, 1, 1])],
)
def test_pfsp_draws_the_opponents_its_rule_favours(pfsp, weights):
    """The learner scores 0.9 against opponent 0, 0.1 against 1 and 0.5 against 2: ``hard``
    weighs them (1 - p)^2 (the one it loses to), ``variance`` p (1 - p) (the even one) and
    ``uniform`` alike (AlphaStar's f_hard with p = 2, and f_var); swaps draw in proportion."""
    cfg = swapping_every_update(opponents_ratio=1.0, pfsp=pfsp)
    sp = selfplay.init({"w": jnp.zeros(1)}, cfg)
    sp = sp.replace(
        opponent_score=jnp.array([90.0, 10.0, 50.0]) - 0.5,  # one prior draw is added
        opponent_games=jnp.array([100.0, 100.0, 100.0]) - 1.0,
    )
    np.testing.assert_allclose(selfplay.pfsp_weights(sp, cfg), weights, atol=1e-5)
    swap = jax.jit(lambda key: selfplay.swap_ghost(sp, {"w": jnp.ones(1)}, key, True, cfg))
    drawn = np.array([int(swap(jax.random.PRNGKey(i)).ghost_opponent) for i in range(800)])
    shares = np.bincount(drawn, minlength=3) / drawn.size
    np.testing.assert_allclose(shares, np.array(weights) / np.sum(weights), atol=0.06)


def test_ghost_policy_plays_the_drawn_opponent():
    sp = selfplay.init(
        {"w": jnp.full(1, 5)}, SelfPlayConfig.mlagents(opponents=("x", "y"), opponents_ratio=0.5)
    )

    def network(params, obs, key, episode_id):  # [E, n, D] -> [E, n], int like a discrete head
        return jnp.broadcast_to(params["w"][0], obs.shape[:2]).astype(jnp.int32)

    def constant(value):
        return lambda params, obs, key: jnp.full(obs.shape[0], value, jnp.float32)  # [n]

    obs = jnp.zeros((3, 2, 4))
    for index, expected in ((-1, 5), (0, 1), (1, 2)):
        act = selfplay.ghost_policy(
            sp.replace(ghost_opponent=jnp.asarray(index)), network, [constant(1.0), constant(2.0)]
        )
        out = jax.jit(act)(obs, jax.random.PRNGKey(0), jnp.zeros(3, jnp.int32))
        assert out.dtype == jnp.int32 and out.shape == (3, 2)
        np.testing.assert_array_equal(out, expected)


def test_opponent_settings_are_checked():
    with pytest.raises(ValueError, match="needs a list of frozen players"):
        SelfPlayConfig.mlagents(opponents_ratio=0.2)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        SelfPlayConfig.mlagents(opponents=("chaser",), opponents_ratio=1.5)
    with pytest.raises(ValueError, match="uniform, hard, variance"):
        SelfPlayConfig.mlagents(pfsp="greedy")


@dataclass(frozen=True)
class TimedOutDuel(DominantDuel):
    """DominantDuel whose every game ends at the time limit (ML-Agents: ``interrupted``)."""

    def step_env(self, key, state, actions):
        obs, state, reward, done, info = super().step_env(key, state, actions)
        return obs, state, reward, done, info.replace(terminated=~done, truncated=done)


@pytest.mark.parametrize("timed_out", [False, True])
def test_only_decided_games_move_elo_as_in_ml_agents(timed_out):
    # The learner always plays the winning action against a pool snapshot: every decided game
    # raises its ELO, and games that hit the time limit leave it alone (mlagents 0.28.0,
    # ghost/trainer.py l.197-201: ``... and not trajectory.interrupted``).
    env = TimedOutDuel() if timed_out else DominantDuel()
    cfg = SelfPlayConfig.mlagents(window=3)
    sp = selfplay.init({"w": jnp.zeros(2)}, cfg).replace(ghost_index=jnp.asarray(0))
    runner = rollout.init_runner(env, jax.random.PRNGKey(0), 8)

    def learner_act(obs, key, episode_id):
        action = jnp.ones((*obs.shape[:-1], 1), jnp.int32)
        return action, action, None

    def ghost_act(params, obs, key, episode_id):
        return jnp.zeros((*obs.shape[:-1], 1), jnp.int32)

    _, _, episodes, out = selfplay.collect_vs_ghost(
        env, runner, sp, jax.random.PRNGKey(1), 4, cfg, learner_act, ghost_act
    )
    assert int(np.sum(episodes.ended)) == 4 * 8
    if timed_out:
        np.testing.assert_array_equal(out.elos, sp.elos)
    else:
        assert float(out.elos[-1]) > 1200.0 + 4 * 8 * 0.4 and float(out.elos[0]) < 1200.0
