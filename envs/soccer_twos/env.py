"""Unity ML-Agents SoccerTwos (2 vs 2) as a pure-JAX, top-down 2-D game.

World coordinates are Unity's ``(x, z)``: the pitch runs along x, Blue defends the goal at
x < 0 and Purple the one at x > 0. Yaw is Unity's (degrees about +y, clockwise seen from
above): forward = ``(sin yaw, cos yaw)``, right = ``(cos yaw, -sin yaw)``.

Agent order is ``[blue_0, blue_1, purple_0, purple_1]``; Blue is team 0, Purple team 1.
Numbers come from ``envs/UNITY_PORT.md`` (SoccerTwos) unless a comment says they are ours.
One ``step`` is one decision: the action repeats for ``decision_period`` physics steps of
0.02 s, stopping early at a goal.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs import physics, ray_perception
from envs.base import EnvSpec, Mirror, MultiAgentEnv, MultiDiscrete, StepInfo, stack_frame

DT = 0.02  # Unity fixed timestep
NUM_AGENTS = 4
TEAMS = (0, 0, 1, 1)
TEAM_SIGN = np.array([1.0, 1.0, -1.0, -1.0], np.float32)  # +1 attacks +x (Blue)

# --- pitch (inner faces of the walls) ---
SIDE_Z = 7.52  # side walls' inner faces
CORNER_START_X = 13.82  # corner wall meets the side wall (derived from its centre/yaw)
POST_X = 15.70  # corner wall meets the goal's side net; spec derives (15.66, 4.33), we
# extend the corner wall by 0.13 m to the net so no sliver of wall is left over
GOAL_HALF_WIDTH = 4.2  # goal side nets at z = +-4.2
GOAL_BACK_X = 17.44
GOAL_LINE_X = 15.13  # ball centre here touches the goal floor box -> goal

AGENT_RADIUS = 0.5
BALL_RADIUS = 0.015 * 41.61  # ~0.624
AGENT_MASS, BALL_MASS = 50.0, 3.0
AGENT_DAMPING = 1.0 - 3.0 * DT  # PhysX linear drag 3 applied as v *= (1 - drag * dt)
BALL_DAMPING = 1.0 - 1.0 * DT
BALL_BOUNCE = 0.8  # Bouncy material, "max" combine: every ball contact bounces with 0.8
FORWARD_SPEED, LATERAL_SPEED = 1.0, 0.3  # Generic position
TURN_DEG = 100.0 * DT  # 100 deg/s
KICK_IMPULSE = 2000.0 * DT  # AddForce(2000 * dir) in ForceMode.Force for one step

# --- ray sensors ---
NUM_TAGS = 6  # [ball, own goal, opponent goal, wall, teammate, opponent]
TAG_BALL, TAG_OWN_GOAL, TAG_OPP_GOAL, TAG_WALL, TAG_TEAMMATE, TAG_OPPONENT = range(NUM_TAGS)
RAY_LENGTH = 20.0
CAST_RADIUS = 0.5
RAY_HEIGHT_ABOVE_CENTRE = 0.5  # rays at y = 1.0, bodies centred at y = 0.5


def _contact_radius(body_radius: float) -> float:
    """Horizontal centre distance at which the cast sphere (0.5 higher) touches a body."""
    return float(np.sqrt((CAST_RADIUS + body_radius) ** 2 - RAY_HEIGHT_ABOVE_CENTRE**2))


FORWARD_ANGLES = ray_perception.ray_angles(5, 60.0)  # 11 rays over 120 deg
REVERSE_ANGLES = ray_perception.ray_angles(1, 45.0)  # 3 rays over 90 deg, sensor yawed 180
FRAME_FWD = len(FORWARD_ANGLES) * (NUM_TAGS + 2)  # 88
FRAME_REV = len(REVERSE_ANGLES) * (NUM_TAGS + 2)  # 24


def mirror(num_stacks: int) -> Mirror:
    """The pitch's reflection z -> -z: rays at +a and -a off a sensor's axis swap (Unity
    orders them 90, 90 - d, 90 + d, 90 - 2d, ... degrees), tags and distances stay; strafe
    right <-> left and turn left <-> right. Kick-off spots and ball placement are symmetric
    in z."""

    def rays(count: int) -> list[int]:
        return [0] + [r + 1 if r % 2 else r - 1 for r in range(1, count)]

    per_ray = NUM_TAGS + 2
    index = []
    for offset, count, frames in (
        (0, len(FORWARD_ANGLES), num_stacks),
        (num_stacks * FRAME_FWD, len(REVERSE_ANGLES), num_stacks),
    ):
        frame = count * per_ray
        for s in range(frames):
            for r in rays(count):
                start = offset + s * frame + r * per_ray
                index.extend(range(start, start + per_ray))
    return Mirror(obs_index=tuple(index), action_index=((0, 1, 2), (0, 2, 1), (0, 2, 1)))


def _pitch_geometry() -> tuple[physics.Walls, np.ndarray, np.ndarray, np.ndarray]:
    """Walls, their goal side (0 none, -1 Blue's goal, +1 Purple's), posts and their side."""
    a, b, inward, side = [], [], [], []

    def add(p, q, inside, goal_side):
        a.append(p)
        b.append(q)
        inward.append(inside)
        side.append(goal_side)

    for sz in (1.0, -1.0):
        add((-CORNER_START_X, sz * SIDE_Z), (CORNER_START_X, sz * SIDE_Z), (0, 0), 0)
    for sx in (1.0, -1.0):
        for sz in (1.0, -1.0):
            add((sx * CORNER_START_X, sz * SIDE_Z), (sx * POST_X, sz * GOAL_HALF_WIDTH), (0, 0), 0)
            add(
                (sx * POST_X, sz * GOAL_HALF_WIDTH),
                (sx * GOAL_BACK_X, sz * GOAL_HALF_WIDTH),
                (sx * 16.5, 0.0),
                sx,
            )
        add(
            (sx * GOAL_BACK_X, -GOAL_HALF_WIDTH),
            (sx * GOAL_BACK_X, GOAL_HALF_WIDTH),
            (sx * 16.5, 0.0),
            sx,
        )
    walls = physics.Walls.from_segments(np.array(a), np.array(b), np.array(inward))
    posts = np.array([[sx * POST_X, sz * GOAL_HALF_WIDTH] for sx in (1, -1) for sz in (1, -1)])
    post_side = np.array([1.0, 1.0, -1.0, -1.0])
    return walls, np.array(side), posts.astype(np.float32), post_side


WALLS, WALL_GOAL_SIDE, POSTS, POST_GOAL_SIDE = _pitch_geometry()


def _static_tags() -> np.ndarray:
    """Tag of every non-agent ray target (ball, posts, walls) as seen by each team: [2, K]."""
    goal_side = np.concatenate([[0.0], POST_GOAL_SIDE, WALL_GOAL_SIDE])
    tags = np.zeros((2, goal_side.size), np.int32)
    for team, own_side in ((0, -1.0), (1, 1.0)):
        tags[team] = np.where(
            goal_side == 0.0, TAG_WALL, np.where(goal_side == own_side, TAG_OWN_GOAL, TAG_OPP_GOAL)
        )
        tags[team, 0] = TAG_BALL
    return tags


def _observer_tags() -> np.ndarray:
    """Tags ``[A, K]`` for the ray targets [4 agents, ball, 4 posts, walls] per observer."""
    teams = np.array(TEAMS)
    agent_tags = np.where(teams[:, None] == teams[None, :], TAG_TEAMMATE, TAG_OPPONENT)
    return np.concatenate([agent_tags, _static_tags()[teams]], axis=1).astype(np.int32)


OBSERVER_TAGS = _observer_tags()
CONTACT_RADII = np.array(
    [_contact_radius(AGENT_RADIUS)] * NUM_AGENTS
    + [_contact_radius(BALL_RADIUS)]
    + [CAST_RADIUS] * len(POSTS),  # vertical post edges: plain cast radius
    np.float32,
)


BALL = NUM_AGENTS  # index of the ball among the bodies


def bodies(num_agents: int) -> dict[str, np.ndarray]:
    """``Field``'s per-body arrays for ``num_agents`` agents, then the ball. Agents' default
    material has bounciness 0; the ball's 0.8 wins every "max" combine."""
    is_ball = np.arange(num_agents + 1) == num_agents
    return {
        "radius": np.array([AGENT_RADIUS] * num_agents + [BALL_RADIUS], np.float32),
        "inv_mass": np.array([1.0 / AGENT_MASS] * num_agents + [1.0 / BALL_MASS], np.float32),
        "damping": np.array([AGENT_DAMPING] * num_agents + [BALL_DAMPING], np.float32),
        "pair_restitution": np.where(is_ball[:, None] | is_ball[None, :], BALL_BOUNCE, 0.0),
        "wall_restitution": np.where(is_ball, BALL_BOUNCE, 0.0).astype(np.float32),
    }


@struct.dataclass
class Pitch:
    """Everything the physics moves, bodies in structure-of-arrays form: the agents, then the
    ball (SoccerTwos: 0-3 agents, 4 ball)."""

    x: jax.Array  # [bodies]
    z: jax.Array  # [bodies]
    vx: jax.Array  # [bodies]
    vz: jax.Array  # [bodies]
    yaw: jax.Array  # [agents] degrees, Unity convention
    ball_contact: jax.Array  # [agents] bool, agent touched the ball last physics step
    timer: jax.Array  # int32, physics steps since the kick-off (Unity's m_ResetTimer)


@struct.dataclass
class SoccerState:
    pitch: Pitch
    steps: jax.Array  # int32, decisions since the kick-off
    stack_fwd: jax.Array  # [4, stacks, 88], oldest frame first
    stack_rev: jax.Array  # [4, stacks, 24]


def heading(yaw_deg: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Forward unit vector ``(fx, fz)`` for a Unity yaw in degrees (right is ``(fz, -fx)``)."""
    yaw = jnp.deg2rad(yaw_deg)
    return jnp.sin(yaw), jnp.cos(yaw)


def ray_frames(x: jax.Array, z: jax.Array, yaw: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Current (unstacked) forward and reverse sensor frames ``[4, 88]``, ``[4, 24]``.

    ``x``/``z`` hold the 5 bodies (agents, then ball); rays start at each agent's centre.
    """
    fx, fz = heading(yaw)
    ox, oz = x[:BALL], z[:BALL]
    cx = jnp.concatenate([x, jnp.asarray(POSTS[:, 0])])
    cz = jnp.concatenate([z, jnp.asarray(POSTS[:, 1])])
    tags = jnp.asarray(OBSERVER_TAGS)

    def sense(dx: jax.Array, dz: jax.Array) -> jax.Array:
        t_circles = ray_perception.cast_circles(ox, oz, dx, dz, cx, cz, jnp.asarray(CONTACT_RADII))
        t_walls = ray_perception.cast_walls(ox, oz, dx, dz, WALLS, CAST_RADIUS)
        distances = jnp.concatenate([t_circles, t_walls], axis=-1)
        return ray_perception.encode_rays(distances, tags, NUM_TAGS, RAY_LENGTH)

    fwd = sense(*ray_perception.ray_directions(fx, fz, FORWARD_ANGLES))
    rev = sense(*ray_perception.ray_directions(-fx, -fz, REVERSE_ANGLES))
    return fwd, rev


@dataclass(frozen=True)
class Field:
    """What a game on this pitch sets in its physics (StrikersVsGoalie: three agents, per-role
    speeds, a goalie that always kicks, the blocked goal's walls); per-body arrays are the
    agents then the ball."""

    walls: physics.Walls
    posts: np.ndarray  # [P, 2] goal posts (round points)
    radius: np.ndarray
    inv_mass: np.ndarray
    damping: np.ndarray
    pair_restitution: np.ndarray
    wall_restitution: np.ndarray
    forward_speed: float | np.ndarray  # per agent, or one for all
    lateral_speed: float | np.ndarray
    always_kicks: bool | np.ndarray = False  # kicks on contact whatever the action


FIELD = Field(
    walls=WALLS,
    posts=POSTS,
    **bodies(NUM_AGENTS),
    forward_speed=FORWARD_SPEED,
    lateral_speed=LATERAL_SPEED,
)


def physics_step(field: Field, state: Pitch, actions: jax.Array, run_speed: float) -> Pitch:
    """One 0.02 s FixedUpdate: agent input, damping, integration, contacts, kick."""
    ball = len(field.radius) - 1  # the bodies are the agents, then the ball
    move, lateral, turn = actions[:, 0], actions[:, 1], actions[:, 2]
    yaw = state.yaw + TURN_DEG * jnp.select([turn == 1, turn == 2], [-1.0, 1.0], 0.0)
    fx, fz = heading(yaw)
    forward, sideways = jnp.asarray(field.forward_speed), jnp.asarray(field.lateral_speed)
    along = jnp.select([move == 1, move == 2], [forward, -forward], 0.0)
    side = jnp.select([lateral == 1, lateral == 2], [sideways, -sideways], 0.0)
    # VelocityChange along forward, or along right = (fz, -fx) when strafing.
    push_x = jnp.where(lateral > 0, side * fz, along * fx) * run_speed
    push_z = jnp.where(lateral > 0, -side * fx, along * fz) * run_speed
    zero = jnp.zeros(1)
    damping = jnp.asarray(field.damping)
    vx = (state.vx + jnp.concatenate([push_x, zero])) * damping
    vz = (state.vz + jnp.concatenate([push_z, zero])) * damping
    bodies = physics.Bodies(state.x + vx * DT, state.z + vz * DT, vx, vz)
    radius = jnp.asarray(field.radius)
    bodies, touching = physics.collide_circles(
        bodies, radius, jnp.asarray(field.inv_mass), jnp.asarray(field.pair_restitution)
    )
    # OnCollisionEnter kick: only on the first step of a contact, only when moving forward
    # (or always, for a player that always kicks).
    contact = touching[:ball, ball]
    kick = contact & ~state.ball_contact & ((move == 1) | jnp.asarray(field.always_kicks))
    kx, kz = bodies.x[ball] - bodies.x[:ball], bodies.z[ball] - bodies.z[:ball]
    scale = jnp.where(kick, KICK_IMPULSE / BALL_MASS, 0.0) / jnp.maximum(jnp.hypot(kx, kz), 1e-6)
    bodies = bodies._replace(
        vx=bodies.vx.at[ball].add(jnp.sum(kx * scale)),
        vz=bodies.vz.at[ball].add(jnp.sum(kz * scale)),
    )
    restitution = jnp.asarray(field.wall_restitution)
    bodies, _ = physics.collide_walls(bodies, radius, field.walls, restitution)
    posts = field.posts
    bodies = physics.collide_points(
        bodies, radius, jnp.asarray(posts[:, 0]), jnp.asarray(posts[:, 1]), restitution
    )
    return state.replace(
        x=bodies.x,
        z=bodies.z,
        vx=bodies.vx,
        vz=bodies.vz,
        yaw=jnp.mod(yaw + 180.0, 360.0) - 180.0,
        ball_contact=contact,
        timer=state.timer + 1,
    )


def play_decision(
    field: Field, pitch: Pitch, actions: jax.Array, run_speed: float, decision_period: int
) -> tuple[Pitch, jax.Array, jax.Array]:
    """One decision: the actions repeat for ``decision_period`` physics steps, stopping at a
    goal. Returns the pitch, the scoring side (+1 the goal at x > 0, -1 the other, 0 none)
    and each agent's ball touches."""
    ball = len(field.radius) - 1

    def substep(carry, _):
        pitch, scored, touches = carry
        nxt = physics_step(field, pitch, actions, run_speed)
        bx, bz = nxt.x[ball], nxt.z[ball]
        in_goal = (jnp.abs(bx) >= GOAL_LINE_X) & (jnp.abs(bz) < GOAL_HALF_WIDTH)
        live = scored == 0.0
        touches = touches + (live & nxt.ball_contact & ~pitch.ball_contact)
        pitch = jax.tree.map(lambda n, o: jnp.where(live, n, o), nxt, pitch)
        scored = jnp.where(live & in_goal, jnp.sign(bx), scored)
        return (pitch, scored, touches), None

    init = (pitch, jnp.float32(0.0), jnp.zeros(ball, jnp.int32))
    (pitch, scored, touches), _ = jax.lax.scan(substep, init, None, decision_period)
    return pitch, scored, touches


def kickoff(key: jax.Array, base_x: jax.Array, z: jax.Array, team_sign: np.ndarray) -> Pitch:
    """SoccerEnvController.ResetScene, shared by the soccer scenes: each agent at its prefab
    x plus U(-5, 5) in x and its prefab z, facing its attacking direction with
    yaw = team sign * U(80, 100); the ball at (0, 0) + U(-2.5, 2.5) in x and z."""
    num_agents = len(team_sign)
    k_x, k_yaw, k_ball = jax.random.split(key, 3)
    x = base_x + jax.random.uniform(k_x, (num_agents,), minval=-5.0, maxval=5.0)
    yaw = jnp.asarray(team_sign) * jax.random.uniform(
        k_yaw, (num_agents,), minval=80.0, maxval=100.0
    )
    ball = jax.random.uniform(k_ball, (2,), minval=-2.5, maxval=2.5)
    return Pitch(
        x=jnp.concatenate([x, ball[:1]]),
        z=jnp.concatenate([z, ball[1:]]),
        vx=jnp.zeros(num_agents + 1),
        vz=jnp.zeros(num_agents + 1),
        yaw=yaw,
        ball_contact=jnp.zeros(num_agents, bool),
        timer=jnp.int32(0),
    )


def goal_outcome(
    scored: jax.Array, pitch: Pitch, team_sign: np.ndarray, max_physics_steps: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A decision's ``(goal, timeout, group reward)`` in the soccer scenes: the scoring team's
    agents get ``1 - timer / MaxEnvironmentSteps``, the other team's -1; no goal by
    ``max_physics_steps`` is a timeout (truncation, no reward)."""
    goal = scored != 0.0
    timeout = ~goal & (pitch.timer >= max_physics_steps)
    scorer_sign = scored * jnp.asarray(team_sign)  # +1 for the scoring team's agents
    win_reward = 1.0 - pitch.timer.astype(jnp.float32) / max_physics_steps
    group_reward = jnp.where(scorer_sign > 0, win_reward, jnp.where(scorer_sign < 0, -1.0, 0.0))
    return goal, timeout, group_reward


def decision_info(
    obs: jax.Array, goal: jax.Array, timeout: jax.Array, group_reward: jax.Array
) -> StepInfo:
    """A goal ends the game for every agent (terminated), the time limit truncates it."""
    num_agents = obs.shape[0]
    return StepInfo(
        group_reward=group_reward,
        terminated=jnp.full(num_agents, goal),
        truncated=jnp.full(num_agents, timeout),
        terminal_obs=obs,
    )


def ball_distances(state: Any) -> jax.Array:
    """``[A]`` each agent's distance to the ball, on any soccer scene (the ball is the last
    body of ``state.pitch``)."""
    pitch = state.pitch
    return jnp.hypot(pitch.x[:-1] - pitch.x[-1], pitch.z[:-1] - pitch.z[-1])


def touch_counting(env: SoccerTwos) -> SoccerTwos:
    """The same scene with the touch reward set to count touches (0.2 x 5 = 1 per touch) and
    no shaping, so the individual reward rounds to the touch count."""
    return dataclasses.replace(env, ball_touch=5.0, ball_progress=0.0)


@dataclass(frozen=True)
class SoccerTwos(MultiAgentEnv):
    """2 vs 2 soccer: obs ``[4, 336]`` ray casts, actions ``[4, 3]`` in three branches of 3.

    Branch 0: 0 none, 1 forward (and kick), 2 back. Branch 1: 0 none, 1 right, 2 left; a
    non-zero lateral move *replaces* forward/back, as in AgentSoccer.cs. Branch 2: 0 none,
    1 turn left, 2 turn right.
    """

    max_physics_steps: int = 5000  # prefab MaxEnvironmentSteps; timeout = truncation
    decision_period: int = 5
    num_stacks: int = 3
    agent_run_speed: float = 2.0  # SoccerSettings.agentRunSpeed
    ball_touch: float = 0.0  # individual reward 0.2 * ball_touch per touch (Unity default 0)
    # Ours, not Unity's: potential-based shaping (Ng et al. 1999) on the ball's progress,
    # group reward ``ball_progress * (phi(s') - phi(s))`` with phi = ball x / goal line x
    # towards the opponents' goal. Zero-sum and telescoping (a game's shaping sums to
    # ``ball_progress * (phi_end - phi_kickoff)``), so it cannot be farmed and never turns
    # a goal's sign; 0 is the Unity game.
    ball_progress: float = 0.0
    spec: EnvSpec = field(init=False)

    def __post_init__(self) -> None:
        obs_size = self.num_stacks * (FRAME_FWD + FRAME_REV)
        spec = EnvSpec(
            name="soccer_twos",
            num_agents=NUM_AGENTS,
            teams=TEAMS,
            agent_names=("blue_0", "blue_1", "purple_0", "purple_1"),
            obs_shape=(obs_size,),
            obs_low=0.0,
            obs_high=1.0,
            action_space=MultiDiscrete((3, 3, 3)),
            max_steps=-(-self.max_physics_steps // self.decision_period),
            sensors=(
                ("RayPerceptionSensor", self.num_stacks * FRAME_FWD),
                ("RayPerceptionSensorReverse", self.num_stacks * FRAME_REV),
            ),
            mirror=mirror(self.num_stacks),
        )
        object.__setattr__(self, "spec", spec)

    # ----------------------------------------------------------------- observations
    def _observe(self, state: SoccerState) -> tuple[jax.Array, SoccerState]:
        fwd, rev = ray_frames(state.pitch.x, state.pitch.z, state.pitch.yaw)
        state = state.replace(
            stack_fwd=stack_frame(state.stack_fwd, fwd), stack_rev=stack_frame(state.stack_rev, rev)
        )
        obs = jnp.concatenate(
            [state.stack_fwd.reshape(NUM_AGENTS, -1), state.stack_rev.reshape(NUM_AGENTS, -1)],
            axis=-1,
        )
        return obs, state

    # ----------------------------------------------------------------- reset
    def reset(self, key: jax.Array) -> tuple[jax.Array, SoccerState]:
        base_x = -8.19 * jnp.asarray(TEAM_SIGN)
        pitch = kickoff(key, base_x, jnp.array([1.2, -1.2, 1.2, -1.2]), TEAM_SIGN)
        state = SoccerState(
            pitch=pitch,
            steps=jnp.int32(0),
            stack_fwd=jnp.zeros((NUM_AGENTS, self.num_stacks, FRAME_FWD)),
            stack_rev=jnp.zeros((NUM_AGENTS, self.num_stacks, FRAME_REV)),
        )
        return self._observe(state)

    # ----------------------------------------------------------------- step
    def step_env(
        self, key: jax.Array, state: SoccerState, actions: jax.Array
    ) -> tuple[jax.Array, SoccerState, jax.Array, jax.Array, StepInfo]:
        del key  # the game is deterministic given the actions; reset randomness is in `step`
        actions = actions.astype(jnp.int32)
        pitch, scored, touches = play_decision(
            FIELD, state.pitch, actions, self.agent_run_speed, self.decision_period
        )
        ball_x = state.pitch.x[BALL]
        state = state.replace(pitch=pitch, steps=state.steps + 1)

        goal, timeout, group_reward = goal_outcome(scored, pitch, TEAM_SIGN, self.max_physics_steps)
        advance = (pitch.x[BALL] - ball_x) / GOAL_LINE_X
        group_reward = group_reward + self.ball_progress * advance * jnp.asarray(TEAM_SIGN)
        reward = 0.2 * self.ball_touch * touches.astype(jnp.float32)

        obs, state = self._observe(state)
        info = decision_info(obs, goal, timeout, group_reward)
        return obs, state, reward, info.terminated | info.truncated, info
