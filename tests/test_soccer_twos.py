"""SoccerTwos rules, physics invariants and the JAX transformations."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import envs
from envs.soccer_twos import env as soccer
from tests.conftest import soccer_scene

IDLE = jnp.zeros((4, 3), jnp.int32)


def test_spec_matches_unity(soccer_env):
    spec = soccer_env.spec
    assert spec.obs_shape == (336,) and spec.num_agents == 4
    assert spec.action_space.branches == (3, 3, 3)
    assert spec.teams == (0, 0, 1, 1)
    assert spec.max_steps == 1000
    obs, _ = soccer_env.reset(jax.random.PRNGKey(0))
    assert obs.shape == (4, 336)


@pytest.mark.parametrize("timer", [0, 2500])
def test_blue_goal_pays_win_minus_time_penalty(soccer_env, timer):
    state = soccer_scene(soccer_env, ball=(14.8, 0.0), ball_vel=(10.0, 0.0), timer=timer)
    _obs, nxt, reward, done, info = soccer_env.step_env(jax.random.PRNGKey(0), state, IDLE)
    steps_taken = int(nxt.pitch.timer) - timer
    assert 0 < steps_taken < 5, "the decision stops at the goal's physics step"
    expected = 1.0 - (timer + steps_taken) / 5000
    np.testing.assert_allclose(info.group_reward, [expected, expected, -1.0, -1.0], rtol=1e-6)
    assert bool(jnp.all(done)) and bool(jnp.all(info.terminated))
    assert not bool(jnp.any(info.truncated))
    np.testing.assert_array_equal(reward, 0.0)


def test_purple_goal_is_mirrored(soccer_env):
    state = soccer_scene(soccer_env, ball=(-14.8, 1.0), ball_vel=(-10.0, 0.0))
    _, nxt, _, done, info = soccer_env.step_env(jax.random.PRNGKey(0), state, IDLE)
    win = 1.0 - int(nxt.pitch.timer) / 5000
    np.testing.assert_allclose(info.group_reward, [-1.0, -1.0, win, win], rtol=1e-6)
    assert bool(done[0])


def test_ball_progress_shaping_is_zero_sum_and_follows_the_ball():
    """A free ball rolling towards Purple's goal pays Blue ``c * dx / goal line`` per decision."""
    env = envs.make("soccer_twos", ball_progress=0.5)
    state = soccer_scene(env, ball=(0.0, 0.0), ball_vel=(10.0, 0.0))
    _, nxt, reward, done, info = env.step_env(jax.random.PRNGKey(0), state, IDLE)
    dx = float(nxt.pitch.x[4])
    assert dx > 0.5 and not bool(done[0])
    blue = 0.5 * dx / soccer.GOAL_LINE_X
    np.testing.assert_allclose(info.group_reward, [blue, blue, -blue, -blue], rtol=1e-5)
    np.testing.assert_array_equal(reward, 0.0)
    # Without the option the same scene pays nothing.
    _, _, _, _, plain = envs.make("soccer_twos").step_env(jax.random.PRNGKey(0), state, IDLE)
    np.testing.assert_array_equal(plain.group_reward, 0.0)


def test_ball_progress_shaping_telescopes_over_a_game():
    """A game's shaping sums to ``c * (phi_end - phi_start)``: it cannot be farmed."""
    env = envs.make("soccer_twos", ball_progress=1.0)
    state = soccer_scene(env, ball=(-3.0, 0.0), ball_vel=(8.0, 20.0))
    total = np.zeros(4)
    for _ in range(20):  # bounces between the side walls, drifting towards Purple's half
        _, state, _, done, info = env.step_env(jax.random.PRNGKey(0), state, IDLE)
        total += np.asarray(info.group_reward)
        assert not bool(done[0])
    phi = (float(state.pitch.x[4]) - -3.0) / soccer.GOAL_LINE_X
    np.testing.assert_allclose(total, [phi, phi, -phi, -phi], rtol=1e-4, atol=1e-6)


def test_ball_progress_never_flips_a_goal():
    env = envs.make("soccer_twos", ball_progress=2.0)
    state = soccer_scene(env, ball=(14.8, 0.0), ball_vel=(10.0, 0.0), timer=4990)
    _, _, _, _, info = env.step_env(jax.random.PRNGKey(0), state, IDLE)
    assert bool(info.terminated[0])
    assert float(info.group_reward[0]) > 0.0 > float(info.group_reward[2])


def test_ball_wide_of_the_goal_bounces_off_the_corner(soccer_env):
    state = soccer_scene(soccer_env, ball=(14.0, 6.0), ball_vel=(15.0, 0.0))
    _, nxt, _, done, _info = soccer_env.step_env(jax.random.PRNGKey(0), state, IDLE)
    assert not bool(done[0])
    assert float(nxt.pitch.vx[4]) < 0.0, "the corner wall sends the ball back"


def test_time_limit_truncates_without_outcome(soccer_env):
    state = soccer_scene(soccer_env, timer=4995)
    _, _, _, done, info = soccer_env.step_env(jax.random.PRNGKey(0), state, IDLE)
    assert bool(done[0]) and bool(info.truncated[0]) and not bool(info.terminated[0])
    np.testing.assert_array_equal(info.group_reward, 0.0)


def test_step_auto_resets_and_keeps_terminal_obs(soccer_env):
    state = soccer_scene(soccer_env, ball=(14.8, 0.0), ball_vel=(10.0, 0.0), timer=100)
    obs, nxt, _, done, info = soccer_env.step(jax.random.PRNGKey(3), state, IDLE)
    assert bool(done[0])
    assert int(nxt.pitch.timer) == 0 and int(nxt.steps) == 0
    np.testing.assert_array_equal(np.asarray(obs)[:, :176], 0.0)  # fresh, zeroed stack
    assert np.abs(np.asarray(info.terminal_obs)[:, :176]).sum() > 0  # the old history


def test_forward_moves_and_kicks(soccer_env):
    agents = [(-2.0, 0.0), (-12.0, 6.5), (12.0, 6.5), (12.0, -6.5)]
    state = soccer_scene(soccer_env, agents=agents, ball=(-0.5, 0.0))
    forward = IDLE.at[0, 0].set(1)
    _, nxt, *_ = soccer_env.step_env(jax.random.PRNGKey(0), state, forward)
    # Kick impulse alone is 40 N s / 3 kg = 13.3 m/s; the bounce off a 50 kg agent adds more.
    assert float(nxt.pitch.vx[4]) > 13.3
    assert float(nxt.pitch.x[0]) > -2.0


def test_lateral_replaces_forward(soccer_env):
    agents = [(-5.0, 0.0), (-12.0, 6.5), (12.0, 6.5), (12.0, -6.5)]
    state = soccer_scene(soccer_env, agents=agents, ball=(5.0, 5.0))
    both = IDLE.at[0, 0].set(1).at[0, 1].set(1)  # forward AND right
    _, nxt, *_ = soccer_env.step_env(jax.random.PRNGKey(0), state, both)
    dx, dz = float(nxt.pitch.x[0]) + 5.0, float(nxt.pitch.z[0])
    assert abs(dx) < 1e-5 and dz < -0.1, "facing +x, right is -z; forward is ignored"


def test_turning_follows_unity(soccer_env):
    state = soccer_scene(soccer_env)
    turn = IDLE.at[:, 2].set(jnp.array([1, 2, 0, 0]))
    _, nxt, *_ = soccer_env.step_env(jax.random.PRNGKey(0), state, turn)
    np.testing.assert_allclose(nxt.pitch.yaw[:2], [90.0 - 10.0, 90.0 + 10.0], atol=1e-4)


def _rollout(env, key, actions):
    def body(carry, a):
        state, key = carry
        key, k = jax.random.split(key)
        obs, state, r, _d, info = env.step(k, state, a)
        return (state, key), (obs, state.pitch, r, info.group_reward)

    _obs, state = env.reset(key)
    return jax.lax.scan(body, (state, key), actions)[1]


def test_same_key_same_trajectory_and_vmap_matches_single(soccer_env):
    keys = jax.random.split(jax.random.PRNGKey(7), 2)
    acts = jax.random.randint(jax.random.PRNGKey(8), (2, 60, 4, 3), 0, 3)
    run = jax.jit(lambda k, a: _rollout(soccer_env, k, a))
    a1 = run(keys[0], acts[0])
    a2 = run(keys[0], acts[0])
    jax.tree.map(np.testing.assert_array_equal, a1, a2)
    batched = jax.jit(jax.vmap(lambda k, a: _rollout(soccer_env, k, a)))(keys, acts)
    for i in range(2):
        single = run(keys[i], acts[i])
        jax.tree.map(
            lambda b, s, i=i: np.testing.assert_allclose(b[i], s, atol=1e-4), batched, single
        )


_ROLL = jax.jit(lambda k, a: _rollout(envs.make("soccer_twos"), k, a))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), pattern=st.lists(st.integers(0, 26), min_size=4, max_size=4))
def test_bodies_stay_on_the_pitch_and_obs_in_bounds(seed, pattern):
    # Each agent repeats one of the 27 joint actions, switching at random steps: the kind of
    # persistent driving that pushes bodies into walls and corners at top speed.
    key = jax.random.PRNGKey(seed)
    base = jnp.array([[p // 9, (p // 3) % 3, p % 3] for p in pattern], jnp.int32)
    noise = jax.random.randint(key, (150, 4, 3), 0, 3)
    switch = jax.random.bernoulli(key, 0.2, (150, 4, 1))
    actions = jnp.where(switch, noise, base)
    obs, pitch, _reward, group = jax.device_get(_ROLL(key, actions))
    assert np.all(np.isfinite(obs)) and obs.min() >= 0.0 and obs.max() <= 1.0
    x, z = pitch.x, pitch.z
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(z))
    in_field = (np.abs(x) <= soccer.POST_X) & (np.abs(z) <= soccer.SIDE_Z)
    in_goal = (np.abs(x) <= soccer.GOAL_BACK_X) & (np.abs(z) <= soccer.GOAL_HALF_WIDTH)
    assert np.all(in_field | in_goal)
    assert np.all((group == 0.0) | (group == -1.0) | ((group > 0.0) & (group <= 1.0)))


def _reflect(state: soccer.SoccerState) -> soccer.SoccerState:
    """The scene mirrored in z: z and vz flip sign, yaw a -> 180 - a."""
    p = state.pitch
    yaw = jnp.mod(180.0 - p.yaw + 180.0, 360.0) - 180.0
    return state.replace(pitch=p.replace(z=-p.z, vz=-p.vz, yaw=yaw))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mirror_symmetry_matches_the_reflected_game(soccer_env, seed):
    # A random scene and its reflection, driven by random actions and their reflections:
    # every agent's observation of the mirrored game is its observation permuted by
    # EnvSpec.mirror, and the rewards are the same. A wrong ray pairing or action swap fails.
    mirror = soccer_env.spec.mirror
    k_pos, k_yaw, k_act = jax.random.split(jax.random.PRNGKey(seed), 3)
    pos = jax.random.uniform(k_pos, (5, 2), minval=-6.0, maxval=6.0)
    yaw = jax.random.uniform(k_yaw, (4,), minval=-180.0, maxval=180.0)
    scene = soccer_scene(
        soccer_env,
        agents=[tuple(map(float, p)) for p in pos[:4]],
        yaw=[float(y) for y in yaw],
        ball=tuple(map(float, pos[4])),
    )
    zeros = (jnp.zeros_like(scene.stack_fwd), jnp.zeros_like(scene.stack_rev))
    scene = scene.replace(stack_fwd=zeros[0], stack_rev=zeros[1])
    acts = jax.random.randint(k_act, (12, 4, 3), 0, 3)
    table = jnp.asarray(mirror.action_index)  # [branch, value]
    reflected_acts = table[jnp.arange(3), acts]
    index = np.asarray(mirror.obs_index)
    state, state_m = scene, _reflect(scene)
    key = jax.random.PRNGKey(0)
    for a, a_m in zip(acts, reflected_acts, strict=True):
        obs, state, reward, _, info = soccer_env.step_env(key, state, a)
        obs_m, state_m, reward_m, _, info_m = soccer_env.step_env(key, state_m, a_m)
        np.testing.assert_allclose(reward_m, reward, atol=1e-6)
        np.testing.assert_allclose(obs_m, obs[:, index], atol=1e-4)
        np.testing.assert_allclose(info_m.group_reward, info.group_reward, atol=1e-5)
        np.testing.assert_allclose(state_m.pitch.x, state.pitch.x, atol=1e-4)
        np.testing.assert_allclose(state_m.pitch.z, -state.pitch.z, atol=1e-4)
    assert not np.allclose(obs, obs[:, index])  # the scene itself is not symmetric
