"""Unity ML-Agents StrikersVsGoalie (2 strikers vs 1 goalie) as a pure-JAX, top-down 2-D game.

The SoccerTwos pitch, bodies, physics and ray sensors (``envs.soccer_twos.env``: coordinates,
yaw and action branches as there), with what the Strikers vs Goalie scene changes. Unity
facts are from ml-agents a66ffbf0, ``Project/Assets/ML-Agents/Examples/Soccer/`` (**S**):

- ``S/Prefabs/StrikersVsGoalieField.prefab`` is SoccerFieldTwos' field plus
  ``BlueGoalBlocker`` (tag ``wall``), a box filling Blue's goal mouth over x -16.01..-15.01,
  |z| <= 3.96: only Purple's goal (x > 0) can be scored, and rays see the blocked mouth as wall.
- Blue (team 0) is two ``Striker`` agents, Purple (team 1) one ``Goalie``: different speeds,
  kick rule, sensors and an existential reward of opposite signs (``S/Scripts/AgentSoccer.cs``).

Agent order is ``[blue_striker_0, blue_striker_1, purple_goalie]``; the observation of each
row is padded with zeros to the goalie's 738 floats (``EnvSpec.behaviours``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs import physics, ray_perception
from envs.base import Behaviour, EnvSpec, MultiAgentEnv, MultiDiscrete, StepInfo, stack_frame
from envs.soccer_twos import env as soccer
from envs.soccer_twos.env import (
    AGENT_RADIUS,
    BALL_RADIUS,
    CAST_RADIUS,
    RAY_LENGTH,
    heading,
)

NUM_AGENTS = 3
TEAMS = (0, 0, 1)
NUM_STRIKERS = 2  # agents 0 and 1; agent 2 is the goalie
BALL = NUM_AGENTS  # index of the ball among the bodies
TEAM_SIGN = np.array([1.0, 1.0, -1.0], np.float32)  # +1 attacks +x (Blue)
# AgentSoccer.cs Initialize: Striker 1.3 forward / 0.3 lateral, Goalie 1.0 / 1.0.
FORWARD_SPEED = np.array([1.3, 1.3, 1.0], np.float32)
LATERAL_SPEED = np.array([0.3, 0.3, 1.0], np.float32)
# OnCollisionEnter: a Goalie kicks with the full k_Power = 2000 whatever its action; a
# Striker with 2000 * m_KickPower, 1 only while branch 0 is forward.
ALWAYS_KICKS = np.array([False, False, True])
# OnActionReceived, every physics step: Goalie +1 / MaxEnvironmentSteps, Striker -1 / ...
EXISTENTIAL_SIGN = np.array([-1.0, -1.0, 1.0], np.float32)

# --- BlueGoalBlocker: local (-1551, 155, 0) scale (100, 395.98, 791.47) in the 0.01 field,
# so a 1.00 x 3.96 x 7.91 m box centred at (-15.51, 1.55, 0) (derived). Only its field-side
# face and that face's two corners can be reached; its other faces lie inside Blue's goal.
BLOCKER_FACE_X = -15.01
BLOCKER_HALF_WIDTH = 3.96
BLOCKER_CORNERS = np.array([[BLOCKER_FACE_X, sz * BLOCKER_HALF_WIDTH] for sz in (1.0, -1.0)])
# Ours: the 0.24 m slot between the box's side and the goal's side net (z = 4.2), narrower
# than any body or cast sphere, is closed by a wall from each box corner to the post beside
# it, so that no body is wedged between the corner wall and the box's corner.
_BLUE_POSTS = soccer.POSTS[soccer.POST_GOAL_SIDE < 0]  # z = +4.2, -4.2, as the corners
BLOCKER_WALLS = np.concatenate(  # [wall, end, (x, z)]: the face, then the two slot walls
    [BLOCKER_CORNERS[None, ::-1], np.stack([BLOCKER_CORNERS, _BLUE_POSTS], axis=1)]
)

# --- ray sensors (prefab RayPerceptionSensorComponent3D; tag lists in the prefab's order) ---
# Striker: [ball, purpleGoal, wall, blueAgent, purpleAgent] (no blueGoal: its own mouth is
# the blocker, a wall). Goalie: [ball, purpleGoal, wall, blueAgent] (no tag for its team).
TAG_BALL, TAG_PURPLE_GOAL, TAG_WALL, TAG_BLUE_AGENT, TAG_PURPLE_AGENT = range(5)
STRIKER_TAGS, GOALIE_TAGS = 5, 4
NO_TAG = ray_perception.NO_TAG  # a hit not reported: the goalie's own body
FORWARD_ANGLES = soccer.FORWARD_ANGLES  # BlueRayPerceptionSensor: 5 per side over 60 deg
REVERSE_ANGLES = soccer.REVERSE_ANGLES  # BlueRayPerceptionSensorReverse: 1 over 45, yawed 180
GOALIE_ANGLES = ray_perception.ray_angles(20, 180.0)  # PurpleGoalie...: 41 rays, 2 point back
FRAME_FWD = len(FORWARD_ANGLES) * (STRIKER_TAGS + 2)  # 77
FRAME_REV = len(REVERSE_ANGLES) * (STRIKER_TAGS + 2)  # 21
FRAME_GOALIE = len(GOALIE_ANGLES) * (GOALIE_TAGS + 2)  # 246


def _field_geometry() -> tuple[physics.Walls, np.ndarray, np.ndarray, np.ndarray]:
    """Walls and posts with the goal side of each (0 none, +1 Purple's goal): SoccerTwos'
    less Blue's goal, which the blocker seals off from every body and ray, plus the
    blocker's walls and corners (plain walls)."""
    open_walls = soccer.WALL_GOAL_SIDE >= 0
    ends = BLOCKER_WALLS
    blocker = physics.Walls.from_segments(ends[:, 0], ends[:, 1], np.zeros((len(ends), 2)))
    walls = jax.tree.map(lambda a, b: jnp.concatenate([a[open_walls], b]), soccer.WALLS, blocker)
    wall_side = np.concatenate([soccer.WALL_GOAL_SIDE[open_walls], np.zeros(len(ends))])
    open_posts = soccer.POST_GOAL_SIDE >= 0
    posts = np.concatenate([soccer.POSTS[open_posts], BLOCKER_CORNERS]).astype(np.float32)
    post_side = np.concatenate([soccer.POST_GOAL_SIDE[open_posts], np.zeros(len(BLOCKER_CORNERS))])
    return walls, wall_side, posts, post_side


WALLS, WALL_GOAL_SIDE, POSTS, POST_GOAL_SIDE = _field_geometry()


def _observer_tags() -> np.ndarray:
    """Tags ``[A, K]`` of the ray targets [3 agents, ball, 4 posts, walls] per observer."""
    goal_side = np.concatenate([POST_GOAL_SIDE, WALL_GOAL_SIDE])
    static = np.where(goal_side > 0, TAG_PURPLE_GOAL, TAG_WALL)
    static = np.concatenate([[TAG_BALL], static])
    strikers_view = [TAG_BLUE_AGENT, TAG_BLUE_AGENT, TAG_PURPLE_AGENT]
    goalie_view = [TAG_BLUE_AGENT, TAG_BLUE_AGENT, NO_TAG]  # never hits itself anyway
    agents = np.array([strikers_view] * NUM_STRIKERS + [goalie_view])
    return np.concatenate([agents, np.tile(static, (NUM_AGENTS, 1))], axis=1).astype(np.int32)


OBSERVER_TAGS = _observer_tags()
CONTACT_RADII = np.array(
    [soccer._contact_radius(AGENT_RADIUS)] * NUM_AGENTS
    + [soccer._contact_radius(BALL_RADIUS)]
    + [CAST_RADIUS] * len(POSTS),  # vertical edges: plain cast radius, as SoccerTwos' posts
    np.float32,
)


@struct.dataclass
class StrikersVsGoalieState:
    pitch: soccer.Pitch  # bodies 0-1 strikers, 2 goalie, 3 ball
    steps: jax.Array  # int32, decisions since the kick-off
    stack_fwd: jax.Array  # [2, stacks, 77] strikers' forward sensor, oldest frame first
    stack_rev: jax.Array  # [2, stacks, 21] strikers' reverse sensor
    stack_goalie: jax.Array  # [1, stacks, 246]


def ray_frames(
    x: jax.Array, z: jax.Array, yaw: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Current (unstacked) frames: strikers' forward ``[2, 77]`` and reverse ``[2, 21]``,
    the goalie's ``[1, 246]``. ``x``/``z`` hold the 4 bodies; rays start at agent centres."""
    fx, fz = heading(yaw)
    cx = jnp.concatenate([x, jnp.asarray(POSTS[:, 0])])
    cz = jnp.concatenate([z, jnp.asarray(POSTS[:, 1])])

    def sense(
        agents: slice, axis_x: jax.Array, axis_z: jax.Array, angles: np.ndarray, num_tags: int
    ) -> jax.Array:
        """One sensor of ``agents`` whose forward is ``(axis_x, axis_z)``."""
        ox, oz = x[agents], z[agents]
        dx, dz = ray_perception.ray_directions(axis_x[agents], axis_z[agents], angles)
        t_circles = ray_perception.cast_circles(ox, oz, dx, dz, cx, cz, jnp.asarray(CONTACT_RADII))
        t_walls = ray_perception.cast_walls(ox, oz, dx, dz, WALLS, CAST_RADIUS)
        distances = jnp.concatenate([t_circles, t_walls], axis=-1)
        tags = jnp.asarray(OBSERVER_TAGS[agents])
        return ray_perception.encode_rays(distances, tags, num_tags, RAY_LENGTH)

    strikers, goalie = slice(0, NUM_STRIKERS), slice(NUM_STRIKERS, NUM_AGENTS)
    fwd = sense(strikers, fx, fz, FORWARD_ANGLES, STRIKER_TAGS)
    rev = sense(strikers, -fx, -fz, REVERSE_ANGLES, STRIKER_TAGS)
    return fwd, rev, sense(goalie, fx, fz, GOALIE_ANGLES, GOALIE_TAGS)


FIELD = soccer.Field(
    walls=WALLS,
    posts=POSTS,
    **soccer.bodies(NUM_AGENTS),
    forward_speed=FORWARD_SPEED,
    lateral_speed=LATERAL_SPEED,
    always_kicks=ALWAYS_KICKS,
)


@dataclass(frozen=True)
class StrikersVsGoalie(MultiAgentEnv):
    """2 strikers (Blue) against 1 goalie (Purple): obs ``[3, 738]``, actions ``[3, 3]``.

    Branches as SoccerTwos'. A striker's row is its forward then reverse stacked sensor (294
    floats, the order Unity sorts them) then zeros; the goalie's is its 738-float sensor.
    """

    max_physics_steps: int = 5000  # prefab MaxEnvironmentSteps; timeout = truncation
    decision_period: int = 5
    num_stacks: int = 3
    agent_run_speed: float = 2.0  # SoccerSettings.agentRunSpeed (S/Scenes/StrikersVsGoalie.unity)
    ball_touch: float = 0.0  # individual reward 0.2 * ball_touch per touch (Unity default 0)
    spec: EnvSpec = field(init=False)

    def __post_init__(self) -> None:
        fwd, rev = self.num_stacks * FRAME_FWD, self.num_stacks * FRAME_REV
        goalie = self.num_stacks * FRAME_GOALIE
        actions = MultiDiscrete((3, 3, 3))
        spec = EnvSpec(
            name="strikers_vs_goalie",
            num_agents=NUM_AGENTS,
            teams=TEAMS,
            agent_names=("blue_striker_0", "blue_striker_1", "purple_goalie"),
            obs_shape=(max(fwd + rev, goalie),),
            obs_low=0.0,
            obs_high=1.0,
            action_space=actions,
            max_steps=-(-self.max_physics_steps // self.decision_period),
            behaviours=(
                Behaviour(
                    "Striker",
                    (fwd + rev,),
                    actions,
                    sensors=(
                        ("BlueRayPerceptionSensor", fwd),
                        ("BlueRayPerceptionSensorReverse", rev),
                    ),
                ),
                Behaviour(
                    "Goalie",
                    (goalie,),
                    actions,
                    sensors=(("PurpleGoalieRayPerceptionSensor", goalie),),
                ),
            ),
            team_behaviour=(0, 1),
        )
        object.__setattr__(self, "spec", spec)

    # ----------------------------------------------------------------- observations
    def _observe(self, state: StrikersVsGoalieState) -> tuple[jax.Array, StrikersVsGoalieState]:
        fwd, rev, goalie = ray_frames(state.pitch.x, state.pitch.z, state.pitch.yaw)
        state = state.replace(
            stack_fwd=stack_frame(state.stack_fwd, fwd),
            stack_rev=stack_frame(state.stack_rev, rev),
            stack_goalie=stack_frame(state.stack_goalie, goalie),
        )
        strikers = jnp.concatenate(
            [state.stack_fwd.reshape(NUM_STRIKERS, -1), state.stack_rev.reshape(NUM_STRIKERS, -1)],
            axis=-1,
        )
        padding = self.spec.obs_shape[0] - strikers.shape[-1]
        strikers = jnp.pad(strikers, ((0, 0), (0, padding)))
        return jnp.concatenate([strikers, state.stack_goalie.reshape(1, -1)]), state

    # ----------------------------------------------------------------- reset
    def reset(self, key: jax.Array) -> tuple[jax.Array, StrikersVsGoalieState]:
        """SoccerTwos' kick-off (``soccer.kickoff``) from this scene's prefab positions, moved
        -5 (Blue) / +5 (Purple) in x by SoccerEnvController.ResetScene."""
        base_x = jnp.array([-3.19 - 5.0, -3.19 - 5.0, 4.0 + 5.0])  # prefab x -3.19 / 4
        pitch = soccer.kickoff(key, base_x, jnp.array([1.2, -1.2, 0.0]), TEAM_SIGN)
        state = StrikersVsGoalieState(
            pitch=pitch,
            steps=jnp.int32(0),
            stack_fwd=jnp.zeros((NUM_STRIKERS, self.num_stacks, FRAME_FWD)),
            stack_rev=jnp.zeros((NUM_STRIKERS, self.num_stacks, FRAME_REV)),
            stack_goalie=jnp.zeros((1, self.num_stacks, FRAME_GOALIE)),
        )
        return self._observe(state)

    # ----------------------------------------------------------------- step
    def step_env(
        self, key: jax.Array, state: StrikersVsGoalieState, actions: jax.Array
    ) -> tuple[jax.Array, StrikersVsGoalieState, jax.Array, jax.Array, StepInfo]:
        del key  # the game is deterministic given the actions; reset randomness is in `step`
        actions = actions.astype(jnp.int32)
        # SoccerTwos' physics on this field; Unity keeps both goal triggers, and the blocker
        # keeps the ball out of Blue's goal.
        pitch, scored, touches = soccer.play_decision(
            FIELD, state.pitch, actions, self.agent_run_speed, self.decision_period
        )
        simulated = (pitch.timer - state.pitch.timer).astype(jnp.float32)  # < 5 at a goal
        state = state.replace(pitch=pitch, steps=state.steps + 1)

        goal, timeout, group_reward = soccer.goal_outcome(
            scored, pitch, TEAM_SIGN, self.max_physics_steps
        )
        existential = jnp.asarray(EXISTENTIAL_SIGN) * simulated / self.max_physics_steps
        reward = existential + 0.2 * self.ball_touch * touches.astype(jnp.float32)

        obs, state = self._observe(state)
        info = soccer.decision_info(obs, goal, timeout, group_reward)
        return obs, state, reward, info.terminated | info.truncated, info


def touch_counting(env: StrikersVsGoalie) -> StrikersVsGoalie:
    """The same scene with the touch reward set to count touches (0.2 x 5 = 1 per touch), so
    the individual reward rounds to the touch count (the goal report's attribution)."""
    return dataclasses.replace(env, ball_touch=5.0)
