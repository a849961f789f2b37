"""Ray encoding against hand-built scenes whose answers follow from the geometry."""

from __future__ import annotations

import numpy as np
import pytest

from envs import ray_perception
from envs.soccer_twos import env as soccer
from tests.conftest import soccer_scene

PER_RAY = soccer.NUM_TAGS + 2


def frames(state):
    fwd, rev = soccer.ray_frames(state.pitch.x, state.pitch.z, state.pitch.yaw)
    return np.asarray(fwd).reshape(4, -1, PER_RAY), np.asarray(rev).reshape(4, -1, PER_RAY)


def test_unity_ray_angle_order():
    np.testing.assert_allclose(
        ray_perception.ray_angles(5, 60.0), [90, 78, 102, 66, 114, 54, 126, 42, 138, 30, 150]
    )
    np.testing.assert_allclose(ray_perception.ray_angles(1, 45.0), [90, 45, 135])


def test_ball_straight_ahead_on_middle_ray(soccer_env):
    d = 6.0
    agents = [(-5.0, 0.0), (-12.0, 6.5), (12.0, 6.5), (12.0, -6.5)]
    state = soccer_scene(soccer_env, agents=agents, ball=(-5.0 + d, 0.0))
    fwd, _ = frames(state)
    ray = fwd[0, 0]  # blue_0, forward sensor, angle 90 = straight ahead
    expected = np.zeros(PER_RAY)
    expected[soccer.TAG_BALL] = 1.0
    expected[-1] = (d - soccer._contact_radius(soccer.BALL_RADIUS)) / soccer.RAY_LENGTH
    np.testing.assert_allclose(ray, expected, atol=1e-5)
    # The sphere cast of radius 0.5 touches the ball with the central ray and the two next
    # ones (12 deg off at 6 m passes 1.25 m from the centre, beyond the 1.007 contact radius).
    assert fwd[0, 1, soccer.TAG_BALL] == 0.0 and fwd[0, 2, soccer.TAG_BALL] == 0.0


def test_wall_behind_and_ahead(soccer_env):
    agents = [(0.0, 0.0), (-12.0, 6.5), (12.0, 6.5), (12.0, -6.5)]
    state = soccer_scene(soccer_env, agents=agents, yaw=[0.0, 90, -90, -90], ball=(8.0, -4.0))
    fwd, rev = frames(state)  # blue_0 faces +z: side wall ahead and behind, 7.02 m away
    gap = (soccer.SIDE_Z - soccer.CAST_RADIUS) / soccer.RAY_LENGTH
    for ray in (fwd[0, 0], rev[0, 0]):
        assert ray[soccer.TAG_WALL] == 1.0 and ray[soccer.NUM_TAGS] == 0.0
        assert ray[-1] == pytest.approx(gap, abs=1e-5)


def test_nothing_in_range_is_a_miss(soccer_env):
    # purple_0 at x=10 looks along -x: Blue's goal back is 27 m away, beyond the 20 m rays.
    agents = [(-12.0, 6.5), (-12.0, -6.5), (10.0, 0.0), (12.0, -6.5)]
    state = soccer_scene(soccer_env, agents=agents, ball=(3.0, 5.0))
    fwd, _ = frames(state)
    np.testing.assert_array_equal(fwd[2, 0], [0, 0, 0, 0, 0, 0, 1.0, 1.0])


def test_tags_are_relative_to_the_observers_team(soccer_env):
    # blue_0 and purple_0 stand at the centre back to back, each looking at a goal mouth.
    agents = [(-3.0, 0.0), (-3.0, 3.0), (3.0, 0.0), (3.0, 3.0)]
    yaw = [-90.0, 90.0, 90.0, -90.0]  # blue_0 looks at Blue's goal, purple_0 at Purple's
    state = soccer_scene(soccer_env, agents=agents, yaw=yaw, ball=(0.0, -5.0))
    fwd, rev = frames(state)
    assert fwd[0, 0, soccer.TAG_OWN_GOAL] == 1.0  # blue_0 sees Blue's goal: own goal
    assert fwd[2, 0, soccer.TAG_OWN_GOAL] == 1.0  # purple_0 sees Purple's goal: own goal
    # Behind blue_0 (reverse centre ray, along +x) stands purple_0 at 6 m: an opponent.
    assert rev[0, 0, soccer.TAG_OPPONENT] == 1.0
    contact = soccer._contact_radius(soccer.AGENT_RADIUS)
    assert rev[0, 0, -1] == pytest.approx((6.0 - contact) / soccer.RAY_LENGTH, abs=1e-5)
    # blue_1 looks along +x at z=3 and sees purple_1 (an opponent) 6 m ahead.
    assert fwd[1, 0, soccer.TAG_OPPONENT] == 1.0
    # purple_1 looks along -x at z=3 and sees blue_1: an opponent, not a teammate.
    assert fwd[3, 0, soccer.TAG_OPPONENT] == 1.0 and fwd[3, 0, soccer.TAG_TEAMMATE] == 0.0


def test_teammate_tag_and_alternating_side(soccer_env):
    # blue_1 stands ahead and to the right of blue_0 (which faces +x): right is -z.
    agents = [(-6.0, 0.0), (-2.0, -0.85), (12.0, 6.5), (12.0, -6.5)]
    state = soccer_scene(soccer_env, agents=agents, ball=(5.0, 5.0))
    fwd, _ = frames(state)
    assert fwd[0, 1, soccer.TAG_TEAMMATE] == 1.0  # ray 1 = 78 deg, to the right
    assert fwd[0, 2, soccer.TAG_TEAMMATE] == 0.0  # ray 2 = 102 deg, to the left


def test_frames_stack_oldest_first_and_start_zeroed(soccer_env):
    import jax

    obs, state = soccer_env.reset(jax.random.PRNGKey(1))
    obs = np.asarray(obs)
    assert obs.shape == (4, 336)
    np.testing.assert_array_equal(obs[:, : 2 * soccer.FRAME_FWD], 0.0)
    newest = obs[:, 2 * soccer.FRAME_FWD : 3 * soccer.FRAME_FWD]
    assert np.all(
        newest.reshape(4, 11, PER_RAY)[..., soccer.NUM_TAGS : soccer.NUM_TAGS + 2].sum(-1) > 0
    )
    obs2, *_ = soccer_env.step_env(jax.random.PRNGKey(2), state, np.zeros((4, 3), np.int32))
    obs2 = np.asarray(obs2)
    np.testing.assert_array_equal(obs2[:, soccer.FRAME_FWD : 2 * soccer.FRAME_FWD], newest)
    rev_newest = obs[:, 264 + 2 * soccer.FRAME_REV :]
    np.testing.assert_array_equal(
        obs2[:, 264 + soccer.FRAME_REV : 264 + 2 * soccer.FRAME_REV], rev_newest
    )
