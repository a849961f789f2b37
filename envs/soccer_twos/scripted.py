"""SoccerTwos' scripted opponents: baselines for evaluation and the check that the game is playable.

Each is a one-agent policy ``(params, obs, key) -> action`` (``envs.policy.Policy``;
``params`` is ``None``) that reads only the agent's own observation, like a learned policy,
so it plays either side of the pitch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.soccer_twos import env as soccer

_PER_RAY = soccer.NUM_TAGS + 2
_FWD_OFFSET = jnp.asarray(soccer.FORWARD_ANGLES - 90.0)  # < 0: ray points to the right
# Branch values, named.
NONE, FORWARD, BACK = 0, 1, 2
RIGHT, LEFT = 1, 2
TURN_LEFT, TURN_RIGHT = 1, 2
_REV_BACK_LEFT, _REV_BACK_RIGHT = 1, 2  # reverse-sensor ray indices (0 is straight back)


def latest_rays(obs: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The newest frames of the forward ``[11, 8]`` and reverse ``[3, 8]`` sensors."""
    n_fwd, n_rev = soccer.FRAME_FWD, soccer.FRAME_REV
    stacks = obs.shape[-1] // (n_fwd + n_rev)
    fwd = obs[(stacks - 1) * n_fwd : stacks * n_fwd].reshape(-1, _PER_RAY)
    rev = obs[stacks * n_fwd + (stacks - 1) * n_rev :].reshape(-1, _PER_RAY)
    return fwd, rev


def _turn_towards(offset: jax.Array, deadband: float = 6.0) -> jax.Array:
    return jnp.where(offset < -deadband, TURN_RIGHT, jnp.where(offset > deadband, TURN_LEFT, NONE))


def _turn_to_rear(rev_hits: jax.Array) -> jax.Array:
    """Turn so that a target seen by the reverse sensor comes round to the front."""
    return jnp.where(rev_hits[_REV_BACK_LEFT] > 0, TURN_LEFT, TURN_RIGHT)


def random(params, obs: jax.Array, key: jax.Array) -> jax.Array:
    """Uniformly random branches."""
    del params, obs
    return jax.random.randint(key, (3,), 0, 3)


def goalie(params, obs: jax.Array, key: jax.Array) -> jax.Array:
    """Keep its own goal straight behind, stay near it and shadow the ball sideways.

    Backs up while the goal is more than 4 m behind, clears the ball when it comes within
    4 m in front, otherwise strafes towards the side the ball is on.
    """
    del params, key
    fwd, rev = latest_rays(obs)
    own_behind = rev[:, soccer.TAG_OWN_GOAL] > 0
    goal_distance = rev[0, -1] * soccer.RAY_LENGTH
    aligned = own_behind[0]
    turn = jnp.where(aligned, NONE, _turn_to_rear(own_behind))
    ball = fwd[:, soccer.TAG_BALL] > 0
    nearest = jnp.argmin(jnp.where(ball, fwd[:, -1], jnp.inf))
    ball_close = jnp.any(ball) & (fwd[nearest, -1] * soccer.RAY_LENGTH < 4.0)
    far_from_goal = aligned & (goal_distance > 4.0)
    move = jnp.where(far_from_goal, BACK, jnp.where(ball_close, FORWARD, NONE))
    offset = _FWD_OFFSET[nearest]
    strafe = jnp.where(offset < -6.0, RIGHT, jnp.where(offset > 6.0, LEFT, NONE))
    lateral = jnp.where(jnp.any(ball) & (move == NONE), strafe, NONE)
    return jnp.stack([move, lateral, turn]).astype(jnp.int32)


def chaser(params, obs: jax.Array, key: jax.Array) -> jax.Array:
    """Run at the ball and push it towards the opponents' half; leave it to a closer teammate.

    Turns towards the ball ray nearest the centre. Pushes (forward, which kicks) when the
    ball is within 12 deg of straight ahead and it faces the opponents' half (their goal
    ahead or its own behind), or the ball is still far and it is not facing its own goal.
    Otherwise it brakes when the ball is within 2.5 m (a blind bump at ~30 m/s is how own
    goals happen) and strafes round the ball when farther. If a teammate is between it and
    the ball, or the ball is out of sight, it plays ``goalie`` instead, so the pair
    does not leave its goal empty.
    """
    fwd, rev = latest_rays(obs)
    ball = fwd[:, soccer.TAG_BALL] > 0
    sees_ball = jnp.any(ball)
    ball_dist = jnp.min(jnp.where(ball, fwd[:, -1], 1.0)) * soccer.RAY_LENGTH
    offset = _FWD_OFFSET[jnp.argmin(jnp.where(ball, jnp.abs(_FWD_OFFSET), jnp.inf))]
    facing_opp = jnp.any(fwd[:, soccer.TAG_OPP_GOAL] > 0) | jnp.any(rev[:, soccer.TAG_OWN_GOAL] > 0)
    facing_own = jnp.any(fwd[:, soccer.TAG_OWN_GOAL] > 0) | jnp.any(rev[:, soccer.TAG_OPP_GOAL] > 0)
    centred = jnp.abs(offset) <= 12.0
    push = sees_ball & centred & (facing_opp | ((ball_dist > 5.0) & ~facing_own))
    move = jnp.where(push, FORWARD, jnp.where(sees_ball & (ball_dist < 2.5), BACK, NONE))
    lateral = jnp.where(sees_ball & ~push & (ball_dist >= 2.5), RIGHT, NONE)
    turn = jnp.where(sees_ball, _turn_towards(offset), _turn_to_rear(rev[:, soccer.TAG_BALL]))
    chase = jnp.stack([move, lateral, turn]).astype(jnp.int32)
    mate = fwd[:, soccer.TAG_TEAMMATE] > 0
    mate_closer = sees_ball & jnp.any(mate & (fwd[:, -1] * soccer.RAY_LENGTH < ball_dist))
    defend = mate_closer | ~sees_ball
    return jnp.where(defend, goalie(params, obs, key), chase)
