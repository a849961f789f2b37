"""Strikers vs Goalie: each role's sensors on hand-built scenes, the blocker, the rewards, the
spawns and kicks, and scripted matches."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs import match, render, scripted
from envs.soccer_twos import env as soccer
from envs.strikers_vs_goalie import env as svg
from envs.strikers_vs_goalie import render as svg_render
from envs.strikers_vs_goalie import scripted as svg_scripted
from tests.conftest import soccer_scene

IDLE = jnp.zeros((3, 3), jnp.int32)
FAR = [(-12.0, 6.5), (-12.0, -6.5), (12.0, 6.5)]  # corners, out of the way
AGENT_CONTACT = soccer._contact_radius(soccer.AGENT_RADIUS)  # 0.866
BALL_CONTACT = soccer._contact_radius(soccer.BALL_RADIUS)  # 1.007


@pytest.fixture(scope="module")
def env() -> svg.StrikersVsGoalie:
    return envs.make("strikers_vs_goalie")


def scene(
    env: svg.StrikersVsGoalie,
    agents: list[tuple[float, float]] = FAR,
    yaw: tuple[float, float, float] = (90.0, 90.0, -90.0),
    ball: tuple[float, float] = (0.0, 0.0),
    ball_vel: tuple[float, float] = (0.0, 0.0),
    timer: int = 0,
) -> svg.StrikersVsGoalieState:
    """A state with bodies where the test puts them, at rest but for the ball, and no history."""
    _, state = jax.jit(env.reset)(jax.random.PRNGKey(0))  # one program, not ~100 eager ops
    pitch = state.pitch.replace(
        x=jnp.array([p[0] for p in agents] + [ball[0]], jnp.float32),
        z=jnp.array([p[1] for p in agents] + [ball[1]], jnp.float32),
        vx=jnp.zeros(4).at[svg.BALL].set(ball_vel[0]),
        vz=jnp.zeros(4).at[svg.BALL].set(ball_vel[1]),
        yaw=jnp.array(yaw, jnp.float32),
        timer=jnp.int32(timer),
    )
    return state.replace(
        pitch=pitch,
        stack_fwd=jnp.zeros_like(state.stack_fwd),
        stack_rev=jnp.zeros_like(state.stack_rev),
        stack_goalie=jnp.zeros_like(state.stack_goalie),
    )


def frames(state: svg.StrikersVsGoalieState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strikers' forward ``[2, 11, 7]`` and reverse ``[2, 3, 7]`` rays, the goalie's ``[41, 6]``."""
    fwd, rev, goalie = svg.ray_frames(state.pitch.x, state.pitch.z, state.pitch.yaw)
    per_striker_ray, per_goalie_ray = svg.STRIKER_TAGS + 2, svg.GOALIE_TAGS + 2
    return (
        np.asarray(fwd).reshape(2, -1, per_striker_ray),
        np.asarray(rev).reshape(2, -1, per_striker_ray),
        np.asarray(goalie).reshape(-1, per_goalie_ray),
    )


def hit(tag: int, distance: float, num_tags: int) -> np.ndarray:
    """One ray's floats for a hit on ``tag`` that the sphere makes after ``distance`` metres."""
    ray = np.zeros(num_tags + 2)
    ray[tag], ray[-1] = 1.0, distance / svg.RAY_LENGTH
    return ray


# ----------------------------------------------------------------- spec and observation layout
def test_spec_declares_both_behaviours(env):
    spec = env.spec
    assert spec.agent_names == ("blue_striker_0", "blue_striker_1", "purple_goalie")
    assert spec.teams == (0, 0, 1) and spec.obs_shape == (738,) and spec.max_steps == 1000
    striker, goalie = spec.behaviour_specs
    assert (striker.name, striker.obs_shape, goalie.name, goalie.obs_shape) == (
        "Striker",
        (294,),
        "Goalie",
        (738,),
    )
    assert striker.sensors == (
        ("BlueRayPerceptionSensor", 231),
        ("BlueRayPerceptionSensorReverse", 63),
    )
    assert goalie.sensors == (("PurpleGoalieRayPerceptionSensor", 738),)
    assert [spec.behaviour_of(t) for t in (0, 1)] == [0, 1] and spec.asymmetric
    assert (svg.FRAME_FWD, svg.FRAME_REV, svg.FRAME_GOALIE) == (77, 21, 246)


def test_ray_angles_follow_unity():
    assert len(svg.FORWARD_ANGLES) == 11 and len(svg.REVERSE_ANGLES) == 3
    np.testing.assert_allclose(svg.GOALIE_ANGLES[:5], [90, 81, 99, 72, 108])
    assert len(svg.GOALIE_ANGLES) == 41
    np.testing.assert_allclose(svg.GOALIE_ANGLES[-2:], [-90.0, 270.0])  # both straight back


def test_rows_are_sensors_in_unity_order_then_padding(env):
    obs, state = jax.jit(env.reset)(jax.random.PRNGKey(3))
    obs, state, *_ = jax.jit(env.step_env)(jax.random.PRNGKey(0), state, IDLE.at[:, 0].set(1))
    obs = np.asarray(obs)
    assert obs.shape == (3, 738)
    np.testing.assert_array_equal(obs[:2, 294:], 0.0)  # a striker's row past its 294 floats
    fwd, rev, goalie = (
        np.asarray(f) for f in svg.ray_frames(state.pitch.x, state.pitch.z, state.pitch.yaw)
    )
    for i in range(2):  # forward stack (newest frame last), then reverse stack
        np.testing.assert_allclose(obs[i, 231 - 77 : 231], fwd[i], atol=1e-5)
        np.testing.assert_allclose(obs[i, 294 - 21 : 294], rev[i], atol=1e-5)
        np.testing.assert_array_equal(obs[i, :154], np.asarray(state.stack_fwd[i, :2]).ravel())
    np.testing.assert_allclose(obs[2, -246:], goalie[0], atol=1e-5)
    assert obs[2, :492].sum() > 0, "the reset frame and the first step's are in the stack"


# ----------------------------------------------------------------- sensors, hand-built scenes
def test_striker_sees_the_ball_straight_ahead(env):
    d = 6.0
    state = scene(env, agents=[(-5.0, 0.0), *FAR[1:]], ball=(-5.0 + d, 0.0))
    fwd, _, _ = frames(state)
    ball = hit(svg.TAG_BALL, d - BALL_CONTACT, svg.STRIKER_TAGS)
    np.testing.assert_allclose(fwd[0, 0], ball, atol=1e-5)
    assert fwd[0, 1, svg.TAG_BALL] == 0.0 and fwd[0, 2, svg.TAG_BALL] == 0.0  # 12 deg off


def test_striker_sees_the_goalie_as_purple_agent_and_its_mate_as_blue_agent(env):
    agents = [(-5.0, 0.0), (-10.0, 0.0), (0.0, 0.0)]  # in a row along +x, 5 m apart
    state = scene(env, agents=agents, yaw=(90.0, 90.0, 90.0), ball=(5.0, 6.0))
    fwd, rev, _ = frames(state)
    apart = 5.0 - AGENT_CONTACT
    np.testing.assert_allclose(fwd[0, 0], hit(svg.TAG_PURPLE_AGENT, apart, 5), atol=1e-5)
    np.testing.assert_allclose(fwd[1, 0], hit(svg.TAG_BLUE_AGENT, apart, 5), atol=1e-5)
    np.testing.assert_allclose(rev[0, 0], hit(svg.TAG_BLUE_AGENT, apart, 5), atol=1e-5)


def test_striker_sees_its_blocked_goal_as_wall_and_purples_goal_as_goal(env):
    agents = [(-10.0, 0.0), (5.0, 2.0), FAR[2]]
    state = scene(env, agents=agents, yaw=(-90.0, 90.0, -90.0), ball=(0.0, 5.0))
    fwd, rev, _ = frames(state)
    to_blocker = -10.0 - svg.BLOCKER_FACE_X - svg.CAST_RADIUS  # 4.49 m
    np.testing.assert_allclose(fwd[0, 0], hit(svg.TAG_WALL, to_blocker, 5), atol=1e-5)
    to_blocker = 5.0 - svg.BLOCKER_FACE_X - svg.CAST_RADIUS  # 19.51 m, behind striker 1
    np.testing.assert_allclose(rev[1, 0], hit(svg.TAG_WALL, to_blocker, 5), atol=1e-5)
    to_net = soccer.GOAL_BACK_X - 5.0 - svg.CAST_RADIUS  # through the mouth to the back net
    np.testing.assert_allclose(fwd[1, 0], hit(svg.TAG_PURPLE_GOAL, to_net, 5), atol=1e-5)


def test_goalie_sees_strikers_as_blue_agents_all_round(env):
    agents = [(4.0, 0.0), (12.5, 0.0), (10.0, 0.0)]  # striker 6 m ahead, striker 2.5 m behind
    state = scene(env, agents=agents, yaw=(90.0, 90.0, -90.0), ball=(0.0, 5.0))
    _, _, goalie = frames(state)
    assert goalie.shape == (41, 6)
    ahead, behind = hit(3, 6.0 - AGENT_CONTACT, 4), hit(3, 2.5 - AGENT_CONTACT, 4)
    np.testing.assert_allclose(goalie[0], ahead, atol=1e-5)
    np.testing.assert_allclose(goalie[-2], behind, atol=1e-5)  # rays at -90 and 270 deg
    np.testing.assert_allclose(goalie[-1], behind, atol=1e-5)
    # Turned round, it sees its own goal through the mouth (the striker moved aside).
    state = scene(env, agents=[(4.0, 0.0), (12.0, 6.5), (10.0, 0.0)], yaw=(90, 90, 90))
    _, _, goalie = frames(state)
    to_net = soccer.GOAL_BACK_X - 10.0 - svg.CAST_RADIUS
    np.testing.assert_allclose(goalie[0], hit(svg.TAG_PURPLE_GOAL, to_net, 4), atol=1e-5)


# ----------------------------------------------------------------- goals and the blocker
@pytest.mark.parametrize("timer", [0, 2500])
def test_purple_goal_pays_blue_and_ends_the_game(env, timer):
    state = scene(env, ball=(14.8, 0.0), ball_vel=(10.0, 0.0), timer=timer)
    _, nxt, reward, done, info = env.step_env(jax.random.PRNGKey(0), state, IDLE)
    steps = int(nxt.pitch.timer) - timer
    assert 0 < steps < 5, "the decision stops at the goal's physics step"
    win = 1.0 - (timer + steps) / 5000
    np.testing.assert_allclose(info.group_reward, [win, win, -1.0], rtol=1e-6)
    np.testing.assert_allclose(reward, np.array([-1.0, -1.0, 1.0]) * steps / 5000, rtol=1e-6)
    assert bool(jnp.all(done)) and bool(jnp.all(info.terminated))
    assert not bool(jnp.any(info.truncated))


def test_blocker_keeps_the_ball_out_of_blues_goal(env):
    """A 60 m/s shot at Blue's goal, seen physics step by physics step: the ball stops with
    its surface on the blocker's face (x = -15.01 + 0.624) and bounces back; no goal. The
    same shot scores in SoccerTwos."""
    one_step = envs.make("strikers_vs_goalie", decision_period=1)

    def shot(z0: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        state = scene(one_step, ball=(-11.0, 0.0), ball_vel=(-60.0, 0.0))
        state = state.replace(pitch=state.pitch.replace(z=state.pitch.z.at[svg.BALL].set(z0)))

        def body(state, _):
            _, state, _, done, _ = one_step.step_env(jax.random.PRNGKey(0), state, IDLE)
            return state, (state.pitch.x[svg.BALL], done[0])

        state, (x, done) = jax.lax.scan(body, state, None, 20)  # there and back to midfield
        return x, done, state.pitch.vx[svg.BALL]

    z0 = jnp.linspace(-3.8, 3.8, 9)
    x, done, vx = jax.device_get(jax.jit(jax.vmap(shot))(z0))
    assert not done.any()
    face_contact = svg.BLOCKER_FACE_X + soccer.BALL_RADIUS  # -14.386
    np.testing.assert_allclose(x[1:-1].min(1), face_contact, atol=1e-4)  # face-on shots
    assert x.min() >= face_contact - 1e-3 and (vx > 0.0).all()
    soccer_env = envs.make("soccer_twos")
    state = soccer_scene(soccer_env, ball=(-11.0, 0.0), ball_vel=(-60.0, 0.0))
    idle = jnp.zeros((4, 3), jnp.int32)
    _, _, _, done, info = soccer_env.step_env(jax.random.PRNGKey(0), state, idle)
    assert bool(done[0]) and float(info.group_reward[2]) > 0.0, "Purple scores there"


def test_time_out_is_truncated_and_existential_rewards_sum_to_one(env):
    state = scene(env)  # nothing moves: no goal in 5000 physics steps

    def body(state, _):
        _, state, reward, done, info = env.step_env(jax.random.PRNGKey(0), state, IDLE)
        return state, (reward, done, info.group_reward, info.truncated, info.terminated)

    _, out = jax.jit(lambda s: jax.lax.scan(body, s, None, env.spec.max_steps))(state)
    reward, done, group, truncated, terminated = jax.device_get(out)
    np.testing.assert_allclose(reward[0], [-0.001, -0.001, 0.001], rtol=1e-5)
    np.testing.assert_allclose(reward.sum(0), [-1.0, -1.0, 1.0], atol=1e-4)
    assert done[-1].all() and truncated[-1].all() and not terminated.any()
    assert not done[:-1].any()
    np.testing.assert_array_equal(group, 0.0)


def test_random_play_keeps_bodies_on_the_field_and_out_of_blues_goal(env):
    """Sticky random actions (each agent repeats one of the 27 joint actions, switching at
    random): the driving that pushes bodies into walls, corners and the blocker at top speed."""
    num_envs, num_steps = 64, 200

    def run(key: jax.Array):
        _, state = env.reset_batch(jax.random.split(key, num_envs))
        habit = jax.random.randint(key, (num_envs, 3, 3), 0, 3)

        def body(state, k):
            k_noise, k_switch, k_step = jax.random.split(k, 3)
            noise = jax.random.randint(k_noise, (num_envs, 3, 3), 0, 3)
            switch = jax.random.bernoulli(k_switch, 0.2, (num_envs, 3, 1))
            actions = jnp.where(switch, noise, habit)
            obs, state, _, _, info = env.step_batch(
                jax.random.split(k_step, num_envs), state, actions
            )
            return state, (state.pitch.x, state.pitch.z, obs.min(), obs.max(), info.group_reward)

        return jax.lax.scan(body, state, jax.random.split(key, num_steps))[1]

    x, z, low, high, group = jax.device_get(jax.jit(run)(jax.random.PRNGKey(0)))
    assert low.min() >= 0.0 and high.max() <= 1.0
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(z))
    assert (group[..., 0] > 0).sum() >= 5, "Blue scores now and then"
    assert not (group[..., 2] > 0).any(), "Purple never does"
    in_field = (np.abs(x) <= soccer.POST_X) & (np.abs(z) <= soccer.SIDE_Z)
    in_purple_goal = (x > 0.0) & (x <= soccer.GOAL_BACK_X) & (np.abs(z) <= soccer.GOAL_HALF_WIDTH)
    assert np.all(in_field | in_purple_goal)
    ball_x, ball_z = x[..., svg.BALL], z[..., svg.BALL]
    facing_blocker = np.abs(ball_z) < svg.BLOCKER_HALF_WIDTH
    face_contact = svg.BLOCKER_FACE_X + soccer.BALL_RADIUS
    assert ball_x[facing_blocker].min() >= face_contact - 1e-3


# ----------------------------------------------------------------- reset, kicks, picture
def test_spawns_follow_unity_ranges(env):
    _, state = jax.jit(env.reset_batch)(jax.random.split(jax.random.PRNGKey(0), 2000))
    p = jax.device_get(state.pitch)
    bounds = {  # body: (x range, z range)
        0: ((-13.19, -3.19), (1.2, 1.2)),
        1: ((-13.19, -3.19), (-1.2, -1.2)),
        2: ((4.0, 14.0), (0.0, 0.0)),
        3: ((-2.5, 2.5), (-2.5, 2.5)),
    }
    for body, ((x_lo, x_hi), (z_lo, z_hi)) in bounds.items():
        x, z = p.x[:, body], p.z[:, body]
        assert x.min() >= x_lo - 1e-5 and x.max() <= x_hi + 1e-5
        assert x.min() < x_lo + 0.1 and x.max() > x_hi - 0.1, "the whole range is drawn"
        assert z.min() >= z_lo - 1e-5 and z.max() <= z_hi + 1e-5
    assert p.yaw[:, :2].min() >= 80.0 and p.yaw[:, :2].max() <= 100.0  # Blue faces +x
    assert p.yaw[:, 2].min() >= -100.0 and p.yaw[:, 2].max() <= -80.0  # Purple faces -x
    assert not p.vx.any() and not p.vz.any() and not p.timer.any()


def _ball_speed_after_touch(env, agent: int, action: list[int]) -> float:
    """The ball, 0.05 m from ``agent`` and rolling into it at 10 m/s, one decision later:
    its speed away from the agent (a bounce alone gives 2-7 m/s; a kick adds 13.3, less drag)."""
    agents = list(FAR)
    sign = 1.0 if agent < 2 else -1.0  # strikers face +x, the goalie -x
    agents[agent] = (0.0, 0.0)
    gap = svg.FIELD.radius[agent] + soccer.BALL_RADIUS + 0.05
    state = scene(env, agents=agents, ball=(sign * gap, 0.0), ball_vel=(-sign * 10.0, 0.0))
    _, nxt, *_ = env.step_env(jax.random.PRNGKey(0), state, IDLE.at[agent].set(jnp.array(action)))
    return sign * float(nxt.pitch.vx[svg.BALL])


@pytest.mark.parametrize("action", [[0, 0, 0], [2, 0, 0], [0, 1, 0], [0, 0, 2]])
def test_goalie_always_kicks_and_a_striker_only_moving_forward(env, action):
    goalie, striker = (_ball_speed_after_touch(env, a, action) for a in (2, 0))
    assert 0.0 < striker < 8.0, "bounced off, not kicked"
    assert goalie - striker > 10.0, "kicked, whatever the goalie does"
    assert _ball_speed_after_touch(env, 0, [1, 0, 0]) > 15.0  # forward: the striker kicks


def test_picture_shows_the_blocker(env):
    state = scene(env)
    frame = render.render("strikers_vs_goalie", state)
    half_w, half_h, scale = soccer.GOAL_BACK_X + 0.5, soccer.SIDE_Z + 0.5, 20.0
    col, row = int((svg.BLOCKER_FACE_X - 0.5 + half_w) * scale), int(half_h * scale)
    assert tuple(frame[row, col]) == svg_render.BLOCKER


# ----------------------------------------------------------------- scripted players
def test_scripted_players_come_per_role():
    assert scripted.names("strikers_vs_goalie") == ["random", "scripted"]
    with pytest.raises(ValueError, match="Goalie"):
        scripted.get("strikers_vs_goalie", "scripted")


def test_scripted_striker_plays_the_same_on_its_row_and_its_own_view(env):
    obs, state = jax.jit(env.reset)(jax.random.PRNGKey(5))
    obs, *_ = jax.jit(env.step_env)(jax.random.PRNGKey(0), state, IDLE.at[:, 0].set(1))
    striker = jax.jit(scripted.get("strikers_vs_goalie", "scripted", "Striker"))
    for row in obs[:2]:
        full, own = svg_scripted.striker_rays(row), svg_scripted.striker_rays(row[:294])
        jax.tree.map(np.testing.assert_array_equal, full, own)
        np.testing.assert_array_equal(striker(None, row, None), striker(None, row[:294], None))


def test_scripted_strikers_beat_a_random_goalie(env):
    """Only Blue can score, so every decided game is a striker win: the scripted pair scores
    several times as often as random strikers, and a scripted goalie concedes less."""

    def goals(strikers: str, goalie: str) -> int:
        lineup = [
            scripted.team("strikers_vs_goalie", strikers, "Striker"),
            scripted.team("strikers_vs_goalie", goalie, "Goalie"),
        ]
        counts = match.play(env, lineup, jax.random.PRNGKey(0), 64, 300).counts()
        assert counts["team1"] == 0 and counts["draw"] == 0, counts
        return counts["team0"]

    scripted_vs_random = goals("scripted", "random")  # measured 135 goals in 64 x 300
    assert scripted_vs_random >= 100
    assert scripted_vs_random >= 3 * goals("random", "random")  # measured 24
    assert goals("scripted", "scripted") < 0.75 * scripted_vs_random  # measured 73
