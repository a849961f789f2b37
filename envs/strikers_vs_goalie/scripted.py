"""Strikers vs Goalie's scripted players, one per role: baselines and the playability check.

Each is a one-agent policy ``(params, obs, key) -> action`` (``envs.policy.Policy``;
``params`` is ``None``) reading only what the agent's own sensors see, like a learned policy:
its env row ``[738]`` or its behaviour's own view (a striker's leading 294 floats; the rest of
its row is padding).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envs.strikers_vs_goalie import env as svg

# Branch values, named.
NONE, FORWARD, BACK = 0, 1, 2
RIGHT, LEFT = 1, 2
TURN_LEFT, TURN_RIGHT = 1, 2  # turning right adds to every seen object's bearing
_FWD_OFFSET = jnp.asarray(svg.FORWARD_ANGLES - 90.0)  # < 0: the ray points to the right
_GOALIE_OFFSET = np.deg2rad(svg.GOALIE_ANGLES - 90.0)
_AHEAD, _LEFT = jnp.asarray(np.cos(_GOALIE_OFFSET)), jnp.asarray(np.sin(_GOALIE_OFFSET))
_REV_BACK_LEFT = 1  # reverse-sensor ray index (0 is straight back, 2 back-right)
_CENTRAL = 5  # forward rays 0-4: within 24 deg of straight ahead
_LONG_VIEW = 15.0 / svg.RAY_LENGTH  # a non-ball hit this far ahead: open pitch in front


def striker_rays(obs: jax.Array) -> tuple[jax.Array, jax.Array]:
    """A striker's newest forward ``[11, 7]`` and reverse ``[3, 7]`` frames, from its env row
    (the goalie's width) or its own view."""
    width, own_frames = obs.shape[-1], svg.FRAME_FWD + svg.FRAME_REV
    padded = width % svg.FRAME_GOALIE == 0
    stacks = width // svg.FRAME_GOALIE if padded else width // own_frames
    n_fwd, n_rev = svg.FRAME_FWD, svg.FRAME_REV
    fwd = obs[(stacks - 1) * n_fwd : stacks * n_fwd]
    rev = obs[stacks * n_fwd + (stacks - 1) * n_rev : stacks * (n_fwd + n_rev)]
    per_ray = svg.STRIKER_TAGS + 2
    return fwd.reshape(-1, per_ray), rev.reshape(-1, per_ray)


def goalie_rays(obs: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The goalie's newest and previous frames ``[41, 6]`` (the same one with one stack)."""
    frames = obs.reshape(-1, len(svg.GOALIE_ANGLES), svg.GOALIE_TAGS + 2)
    return frames[-1], frames[max(frames.shape[0] - 2, 0)]


def random(params, obs: jax.Array, key: jax.Array) -> jax.Array:
    """Uniformly random branches."""
    del params, obs
    return jax.random.randint(key, (3,), 0, 3)


def striker(params, obs: jax.Array, key: jax.Array) -> jax.Array:
    """Run at the ball and push it towards Purple's goal.

    Turns towards the ball ray nearest the centre and pushes (forward, which kicks) while the
    ball is within 12 deg of straight ahead and either the ball is still more than 4 m away
    or the striker faces Purple's end: Purple's goal in sight ahead, or open pitch ahead (a
    hit beyond 15 m or none, within 24 deg) without that goal behind. Otherwise it backs off
    inside 2.5 m and strafes round the ball beyond, until it faces the goal. Out of sight,
    the ball is found by turning towards the reverse sensor's side that sees it.
    """
    del params, key
    fwd, rev = striker_rays(obs)
    ball = fwd[:, svg.TAG_BALL] > 0
    sees_ball = jnp.any(ball)
    ball_dist = jnp.min(jnp.where(ball, fwd[:, -1], 1.0)) * svg.RAY_LENGTH
    offset = _FWD_OFFSET[jnp.argmin(jnp.where(ball, jnp.abs(_FWD_OFFSET), jnp.inf))]
    central = fwd[:_CENTRAL]
    open_ahead = jnp.any((central[:, svg.TAG_BALL] == 0) & (central[:, -1] > _LONG_VIEW))
    goal_behind = jnp.any(rev[:, svg.TAG_PURPLE_GOAL] > 0)
    facing_goal = jnp.any(fwd[:, svg.TAG_PURPLE_GOAL] > 0) | (open_ahead & ~goal_behind)
    push = sees_ball & (jnp.abs(offset) <= 12.0) & (facing_goal | (ball_dist > 4.0))
    move = jnp.where(push, FORWARD, jnp.where(sees_ball & (ball_dist < 2.5), BACK, NONE))
    lateral = jnp.where(sees_ball & ~push & (ball_dist >= 2.5), RIGHT, NONE)
    behind_left = rev[_REV_BACK_LEFT, svg.TAG_BALL] > 0
    turn_to_ball = jnp.where(offset < -6.0, TURN_RIGHT, jnp.where(offset > 6.0, TURN_LEFT, NONE))
    turn = jnp.where(sees_ball, turn_to_ball, jnp.where(behind_left, TURN_LEFT, TURN_RIGHT))
    return jnp.stack([move, lateral, turn]).astype(jnp.int32)


def goalie(params, obs: jax.Array, key: jax.Array) -> jax.Array:
    """Keep its goal straight behind and 1.5-3.5 m away, shadow the ball sideways, and clear a
    ball that comes within 4 m straight in front (a goalie kicks whatever it touches).

    The goal's bearing is the mean direction of the rays that see it. The gap to the goal is
    kept with a brake for the speed read off the previous frame (a goalie keeps ~3/4 of its
    speed over a decision); only near the goal does it clear or shadow, so it is not drawn
    out of it.
    """
    del params, key
    rays, previous = goalie_rays(obs)
    goal, goal_before = rays[:, svg.TAG_PURPLE_GOAL] > 0, previous[:, svg.TAG_PURPLE_GOAL] > 0
    sees_goal = jnp.any(goal)
    bearing = jnp.arctan2(
        jnp.sum(jnp.where(goal, _LEFT, 0.0)), jnp.sum(jnp.where(goal, _AHEAD, 0.0))
    )
    behind = jnp.abs(bearing) > np.deg2rad(170.0)
    turn = jnp.where(~sees_goal | behind, NONE, jnp.where(bearing > 0, TURN_RIGHT, TURN_LEFT))
    gap = jnp.min(jnp.where(goal, rays[:, -1], 1.0)) * svg.RAY_LENGTH
    gap_before = jnp.min(jnp.where(goal_before, previous[:, -1], 1.0)) * svg.RAY_LENGTH
    expected_gap = gap - 2.0 * (gap_before - gap)  # roughly where its speed takes it
    depth = jnp.where(expected_gap > 3.5, BACK, jnp.where(expected_gap < 1.5, FORWARD, NONE))
    depth = jnp.where(sees_goal, depth, NONE)
    ball = rays[:, svg.TAG_BALL] > 0
    nearest = jnp.argmin(jnp.where(ball, rays[:, -1], jnp.inf))
    ball_dist = rays[nearest, -1] * svg.RAY_LENGTH
    ball_ahead, ball_left = ball_dist * _AHEAD[nearest], ball_dist * _LEFT[nearest]
    guarding = jnp.any(ball) & sees_goal & (gap < 6.0)
    clear = guarding & (ball_ahead > 0.0) & (ball_dist < 4.0) & (jnp.abs(ball_left) < 1.2)
    move = jnp.where(clear, FORWARD, depth)
    shadow = jnp.where(ball_left > 1.0, LEFT, jnp.where(ball_left < -1.0, RIGHT, NONE))
    lateral = jnp.where(guarding & (move == NONE), shadow, NONE)
    return jnp.stack([move, lateral, turn]).astype(jnp.int32)
