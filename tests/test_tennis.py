"""Tennis rules on hand-built scenes, and the Udacity 'solved' helper."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envs.tennis import env as tennis

STILL = jnp.zeros((2, 2))


def scene(
    env,
    ball,
    ball_vel,
    rackets=((-6.0, tennis.RACKET_REST_Y), (6.0, tennis.RACKET_REST_Y)),
    last=-1,
):
    _, state = env.reset(jax.random.PRNGKey(0))
    return state.replace(
        racket_pos=jnp.array(rackets, jnp.float32),
        racket_vel=jnp.zeros((2, 2)),
        ball_pos=jnp.array(ball, jnp.float32),
        ball_vel=jnp.array(ball_vel, jnp.float32),
        last_hitter=jnp.int32(last),
    )


def test_spec(tennis_env):
    spec = tennis_env.spec
    assert spec.obs_shape == (24,) and spec.num_agents == 2
    assert spec.action_space.shape == (2,) and spec.action_space.low == -1.0
    obs, _ = tennis_env.reset(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(np.asarray(obs)[:, :16], 0.0)  # stack zeroed on reset
    left, right = np.asarray(obs)[:, 16:]
    assert left[0] < 0 and right[0] < 0, "each agent sees its own side as negative x"
    assert left[1] == pytest.approx(-1.5) and left[5] == pytest.approx(6.0)


def test_hit_over_the_net_pays_the_hitter(tennis_env):
    state = scene(tennis_env, ball=(-0.3, 1.0), ball_vel=(8.0, 1.0), last=0)
    _, _, reward, done, _ = tennis_env.step_env(jax.random.PRNGKey(0), state, STILL)
    np.testing.assert_allclose(reward, [0.1, 0.0])
    assert not bool(done[0])


def test_racket_contact_sets_the_hitter_and_returns_the_ball(tennis_env):
    racket = (-6.0, tennis.RACKET_REST_Y)
    state = scene(
        tennis_env,
        ball=(-6.0, racket[1] + 1.2),
        ball_vel=(0.0, -9.0),
        rackets=(racket, (6.0, racket[1])),
    )
    _, nxt, _, _done, _ = tennis_env.step_env(jax.random.PRNGKey(0), state, STILL)
    assert int(nxt.last_hitter) == 0
    assert float(nxt.ball_vel[0]) > 0.0 and float(nxt.ball_vel[1]) > 0.0, (
        "face points net-wards and up"
    )


def test_ball_on_the_ground_ends_the_episode_with_fault(tennis_env):
    state = scene(tennis_env, ball=(3.0, tennis.FLOOR_Y + 0.6), ball_vel=(0.0, -5.0), last=0)
    _, _, reward, done, info = tennis_env.step_env(jax.random.PRNGKey(0), state, STILL)
    np.testing.assert_allclose(reward, [0.0, -0.01])  # it fell on the right's floor
    assert bool(done[0]) and bool(info.terminated[0])


def test_ball_into_the_net_is_the_hitters_fault(tennis_env):
    state = scene(tennis_env, ball=(-0.8, -2.0), ball_vel=(9.0, 0.0), last=0)
    _, _, reward, done, _ = tennis_env.step_env(jax.random.PRNGKey(0), state, STILL)
    np.testing.assert_allclose(reward, [-0.01, 0.0])
    assert bool(done[0])


def test_ball_out_over_the_back_wall_is_the_hitters_fault(tennis_env):
    state = scene(tennis_env, ball=(12.0, 3.0), ball_vel=(9.0, 0.0), last=0)
    _, _, reward, done, _ = tennis_env.step_env(jax.random.PRNGKey(0), state, STILL)
    np.testing.assert_allclose(reward, [-0.01, 0.0])
    assert bool(done[0])


def test_racket_stays_a_metre_from_the_net_and_jumps_only_when_low(tennis_env):
    low = tennis.RACKET_REST_Y
    state = scene(
        tennis_env, ball=(8.0, 6.0), ball_vel=(0.0, 0.0), rackets=((-2.0, low), (6.0, low))
    )
    push = jnp.array([[1.0, 1.0], [0.0, 0.0]])  # left runs at the net and jumps
    _, nxt, *_ = tennis_env.step_env(jax.random.PRNGKey(0), state, push)
    assert float(nxt.racket_pos[0, 0]) == pytest.approx(-tennis.MIN_NET_DISTANCE)
    assert float(nxt.racket_pos[0, 1]) > tennis.RACKET_REST_Y + 0.3


def test_episode_score_and_episodes_to_solve():
    np.testing.assert_allclose(
        tennis.episode_score(jnp.array([[0.1, -0.01], [0.0, 0.3]])), [0.1, 0.3]
    )
    scores = np.r_[np.zeros(150), np.full(100, 1.0)]
    # mean of the last 100 first reaches 0.5 once 50 of the 1.0 episodes are in: episode 200
    assert tennis.episodes_to_solve(scores) == 200
    assert tennis.episodes_to_solve(np.full(300, 0.49)) is None
    assert tennis.episodes_to_solve(np.ones(99)) is None
