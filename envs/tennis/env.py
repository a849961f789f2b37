"""The Udacity (ML-Agents v0.4) Tennis as a pure-JAX, side-view 2-D game.

Coordinates are area-relative ``(x, y)``: the net is at x = 0, the left agent (index 0)
plays on x < 0, the right agent (index 1) on x > 0. Each agent sees the scene mirrored so
that its own side is negative x (``invert`` = +1 left, -1 right), as in v0.4 TennisAgent.cs.

Per agent and frame: racket x, y, vx, vy, ball x, y, vx, vy (8 floats); 3 stacked frames,
oldest first, zeroed on reset -> 24. Actions: 2 floats in [-1, 1]; ``vx = 30 * a0`` towards
the net, jump (vy = 7) when ``a1 > 0.5`` and the racket is low. Rewards (v0.4 HitWall.cs):
+0.1 to the last hitter when the ball crosses the net above it; -0.01 to the side at fault
when the ball touches a floor (the floor's side), a wall or the net (the last hitter), the
other side's reward for that step is set to 0, and the episode ends. Numbers come from
``envs/UNITY_PORT.md`` (Tennis) unless a comment says they are ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.base import Box, EnvSpec, MultiAgentEnv, StepInfo, stack_frame

DT = 0.02
NUM_AGENTS = 2
INVERT = np.array([1.0, -1.0], np.float32)  # left sees x as is, right sees it mirrored
FRAME = 8
SOLVED_SCORE = 0.5  # Udacity: solved when 100 episodes average a max-agent score of 0.5

FLOOR_Y = -3.25
WALL_X = 13.0
NET_TOP = -1.0
NET_BOTTOM = -5.0
NET_HALF_THICKNESS = 0.05
GRAVITY = 9.81
BALL_RADIUS = 0.5
BALL_MAX_SPEED = 9.0  # per-axis clamp of the final ML-Agents Tennis; keeps rallies playable
RACKET_SPEED = 30.0
JUMP_SPEED = 7.0
JUMP_BELOW_Y = -1.5
MIN_NET_DISTANCE = 1.0
# The racket is a thin tilted slab; the spec gives only its 55 deg tilt, so its size is ours:
# 1.5 m long, 0.1 m thick, face normal 55 deg above the horizontal, towards the net.
RACKET_HALF_LENGTH = 0.75
RACKET_HALF_THICKNESS = 0.05
RACKET_NORMAL_DEG = 55.0
_NORMAL = np.array([np.cos(np.deg2rad(RACKET_NORMAL_DEG)), np.sin(np.deg2rad(RACKET_NORMAL_DEG))])
# Long axis of each racket in world coordinates (perpendicular to its face normal).
RACKET_AXIS = np.stack([INVERT * -_NORMAL[1], np.full(2, _NORMAL[0])], -1).astype(np.float32)
RACKET_REST_Y = FLOOR_Y + RACKET_HALF_LENGTH * _NORMAL[0] + RACKET_HALF_THICKNESS
REWARD_OVER_NET = 0.1
REWARD_FAULT = -0.01
SUBSTEPS = 2  # two 0.01 s integration steps per 0.02 s physics step: no racket tunnelling


@struct.dataclass
class TennisState:
    racket_pos: jax.Array  # [2, 2]
    racket_vel: jax.Array  # [2, 2]
    ball_pos: jax.Array  # [2]
    ball_vel: jax.Array  # [2]
    last_hitter: jax.Array  # int32: -1 nobody yet, else agent index
    timer: jax.Array  # int32 physics steps
    steps: jax.Array  # int32 decisions
    stack: jax.Array  # [2, stacks, 8], oldest first


def closest_on_racket(racket_pos: jax.Array, ball_pos: jax.Array) -> jax.Array:
    """Closest point ``[2, 2]`` on each racket's centre line to the ball."""
    along = jnp.sum((ball_pos[None] - racket_pos) * RACKET_AXIS, axis=-1)
    along = jnp.clip(along, -RACKET_HALF_LENGTH, RACKET_HALF_LENGTH)
    return racket_pos + along[:, None] * RACKET_AXIS


@dataclass(frozen=True)
class Tennis(MultiAgentEnv):
    """Two rackets, one ball: obs ``[2, 24]``, actions ``[2, 2]`` in [-1, 1]."""

    max_physics_steps: int = 5000  # v0.4 maxStep
    decision_period: int = 5
    num_stacks: int = 3
    spec: EnvSpec = field(init=False)

    def __post_init__(self) -> None:
        spec = EnvSpec(
            name="tennis",
            num_agents=NUM_AGENTS,
            teams=(0, 1),
            agent_names=("left", "right"),
            obs_shape=(self.num_stacks * FRAME,),
            obs_low=-RACKET_SPEED,
            obs_high=RACKET_SPEED,
            action_space=Box(-1.0, 1.0, (2,)),
            max_steps=-(-self.max_physics_steps // self.decision_period),
            sensors=(("VectorSensor", self.num_stacks * FRAME),),  # stacked vector observation
        )
        object.__setattr__(self, "spec", spec)

    def _observe(self, state: TennisState) -> tuple[jax.Array, TennisState]:
        inv = jnp.asarray(INVERT)
        frame = jnp.concatenate(
            [
                state.racket_pos * jnp.stack([inv, jnp.ones(2)], -1),
                state.racket_vel * jnp.stack([inv, jnp.ones(2)], -1),
                state.ball_pos[None] * jnp.stack([inv, jnp.ones(2)], -1),
                state.ball_vel[None] * jnp.stack([inv, jnp.ones(2)], -1),
            ],
            axis=-1,
        )
        state = state.replace(stack=stack_frame(state.stack, frame))
        return state.stack.reshape(NUM_AGENTS, -1), state

    def reset(self, key: jax.Array) -> tuple[jax.Array, TennisState]:
        k_side, k_ball, k_racket = jax.random.split(key, 3)
        side = jnp.where(jax.random.bernoulli(k_side), 1.0, -1.0)
        ball_x = side * jax.random.uniform(k_ball, minval=6.0, maxval=8.0)
        racket_x = -jnp.asarray(INVERT) * jax.random.uniform(k_racket, (2,), minval=6.0, maxval=8.0)
        state = TennisState(
            racket_pos=jnp.stack([racket_x, jnp.full(2, -1.5)], -1),
            racket_vel=jnp.zeros((2, 2)),
            ball_pos=jnp.stack([ball_x, jnp.float32(6.0)]),
            ball_vel=jnp.zeros(2),
            last_hitter=jnp.int32(-1),
            timer=jnp.int32(0),
            steps=jnp.int32(0),
            stack=jnp.zeros((NUM_AGENTS, self.num_stacks, FRAME)),
        )
        return self._observe(state)

    def _integrate(self, state: TennisState, h: float) -> tuple[TennisState, jax.Array]:
        """Advance by ``h`` seconds; returns the state and which racket touched the ball."""
        inv = jnp.asarray(INVERT)
        racket_vel = state.racket_vel.at[:, 1].add(-GRAVITY * h)
        racket_pos = state.racket_pos + racket_vel * h
        lo = jnp.where(inv > 0, -WALL_X + RACKET_HALF_LENGTH, MIN_NET_DISTANCE)
        hi = jnp.where(inv > 0, -MIN_NET_DISTANCE, WALL_X - RACKET_HALF_LENGTH)
        on_floor = racket_pos[:, 1] <= RACKET_REST_Y
        racket_pos = jnp.stack(
            [jnp.clip(racket_pos[:, 0], lo, hi), jnp.maximum(racket_pos[:, 1], RACKET_REST_Y)], -1
        )
        racket_vel = racket_vel.at[:, 1].set(
            jnp.where(on_floor, jnp.maximum(racket_vel[:, 1], 0.0), racket_vel[:, 1])
        )

        ball_vel = state.ball_vel.at[1].add(-GRAVITY * h)
        ball_pos = state.ball_pos + ball_vel * h
        # Ball against each racket: push out, reflect the relative normal velocity (e = 1,
        # the ball's bounciness with "max" combine); the racket's velocity is set by its
        # agent every step, so it acts as a kinematic body.
        closest = closest_on_racket(racket_pos, ball_pos)
        offset = ball_pos[None] - closest
        dist = jnp.linalg.norm(offset, axis=-1)
        normal = offset / jnp.maximum(dist, 1e-6)[:, None]
        reach = BALL_RADIUS + RACKET_HALF_THICKNESS
        touch = dist < reach
        ball_pos = ball_pos + jnp.sum(
            jnp.where(touch[:, None], (reach - dist)[:, None] * normal, 0.0), 0
        )
        v_rel = jnp.sum((ball_vel[None] - racket_vel) * normal, axis=-1)
        dv = jnp.where(touch & (v_rel < 0.0), -2.0 * v_rel, 0.0)[:, None] * normal
        ball_vel = jnp.clip(ball_vel + jnp.sum(dv, 0), -BALL_MAX_SPEED, BALL_MAX_SPEED)
        state = state.replace(
            racket_pos=racket_pos, racket_vel=racket_vel, ball_pos=ball_pos, ball_vel=ball_vel
        )
        return state, touch

    def _physics_step(
        self, state: TennisState, actions: jax.Array
    ) -> tuple[TennisState, jax.Array, jax.Array]:
        """One 0.02 s step. Returns ``(state, reward [2], fault)``; ``fault`` ends the point."""
        inv = jnp.asarray(INVERT)
        low = state.racket_pos[:, 1] < JUMP_BELOW_Y
        vy = jnp.where((actions[:, 1] > 0.5) & low, JUMP_SPEED, state.racket_vel[:, 1])
        vx = RACKET_SPEED * actions[:, 0] * inv
        state = state.replace(racket_vel=jnp.stack([vx, vy], -1))
        old_x = state.ball_pos[0]
        touched = jnp.zeros(2, bool)
        for _ in range(SUBSTEPS):
            state, touch = self._integrate(state, DT / SUBSTEPS)
            touched = touched | touch
        last = jnp.where(touched[1], 1, jnp.where(touched[0], 0, state.last_hitter))
        state = state.replace(last_hitter=last, timer=state.timer + 1)

        bx, by = state.ball_pos
        crossed = (jnp.sign(bx) != jnp.sign(old_x)) & (by > NET_TOP)
        reward = jnp.where(crossed & (last >= 0), REWARD_OVER_NET, 0.0) * (jnp.arange(2) == last)
        on_floor = by - BALL_RADIUS <= FLOOR_Y
        on_wall = jnp.abs(bx) + BALL_RADIUS >= WALL_X
        near_net = jnp.clip(by, NET_BOTTOM, NET_TOP) - by
        on_net = (
            jnp.hypot(jnp.maximum(jnp.abs(bx) - NET_HALF_THICKNESS, 0.0), near_net) < BALL_RADIUS
        )
        side_of_ball = jnp.where(bx < 0.0, 0, 1)
        at_fault = jnp.where(on_floor | (last < 0), side_of_ball, last)
        fault = on_floor | on_wall | on_net
        fault_reward = jnp.where(jnp.arange(2) == at_fault, reward + REWARD_FAULT, 0.0)
        return state, jnp.where(fault, fault_reward, reward), fault

    def step_env(
        self, key: jax.Array, state: TennisState, actions: jax.Array
    ) -> tuple[jax.Array, TennisState, jax.Array, jax.Array, StepInfo]:
        del key
        actions = jnp.clip(actions, -1.0, 1.0)

        def substep(carry, _):
            state, reward, over = carry
            nxt, r, fault = self._physics_step(state, actions)
            live = ~over
            state = jax.tree.map(lambda n, o: jnp.where(live, n, o), nxt, state)
            return (state, reward + jnp.where(live, r, 0.0), over | fault), None

        init = (state, jnp.zeros(NUM_AGENTS), jnp.bool_(False))
        (state, reward, fault), _ = jax.lax.scan(substep, init, None, self.decision_period)
        state = state.replace(steps=state.steps + 1)
        timeout = ~fault & (state.timer >= self.max_physics_steps)
        obs, state = self._observe(state)
        terminated = jnp.full(NUM_AGENTS, fault)
        truncated = jnp.full(NUM_AGENTS, timeout)
        info = StepInfo(
            group_reward=jnp.zeros(NUM_AGENTS),  # Tennis has no team reward: teams of one
            terminated=terminated,
            truncated=truncated,
            terminal_obs=obs,
        )
        return obs, state, reward, terminated | truncated, info


def episode_score(episode_rewards: jax.Array) -> jax.Array:
    """Udacity's score of an episode: the max over agents of each agent's summed reward.

    ``episode_rewards`` is ``[..., 2]`` (rewards already summed over the episode).
    """
    return jnp.max(episode_rewards, axis=-1)


def episodes_to_solve(
    scores: np.ndarray, window: int = 100, target: float = SOLVED_SCORE
) -> int | None:
    """Episodes played when the ``window``-episode mean score first reached ``target``.

    This is the number the Udacity project reports ("solved in N episodes"); ``None`` if the
    mean never got there.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size < window:
        return None
    means = np.convolve(scores, np.ones(window) / window, mode="valid")
    hits = np.nonzero(means >= target)[0]
    return int(hits[0] + window) if hits.size else None
