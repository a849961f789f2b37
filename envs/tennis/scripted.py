"""Tennis' scripted players: a random one and a tracker that returns most balls.

One-agent policies ``(params, obs, key) -> action`` (``envs.policy.Policy``) in the
agent's own mirrored frame, so they play either side.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.tennis import env as tennis


def random(params, obs: jax.Array, key: jax.Array) -> jax.Array:
    """Uniform actions in [-1, 1]^2."""
    del params, obs
    return jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0)


HIT_HEIGHT = tennis.RACKET_REST_Y + 0.6  # where a resting racket meets a falling ball
HOME_X = -6.0
TRACKER_OFFSET = 0.0  # stand under the predicted contact point
TRACKER_JUMP_GAP = 2.5  # jump into the ball when it is this far above


def tracker(params, obs: jax.Array, key: jax.Array) -> jax.Array:
    """Move under the ball's predicted landing point and jump into it as it arrives.

    Works in the agent's own mirrored frame (own side x < 0, net at x = 0). Predicts where
    the ball falls to racket height (ballistic, ignoring the speed clamp), stands there,
    and jumps when the ball is within 2.5 m above: the jump's upward speed plus the tilted
    face send the ball over the net. Goes home while the ball is on the other side.
    """
    del params, key
    x, y, _, _, bx, by, bvx, bvy = obs[-tennis.FRAME :]
    g = tennis.GRAVITY
    disc = bvy * bvy + 2.0 * g * jnp.maximum(by - HIT_HEIGHT, 0.0)
    t_fall = (bvy + jnp.sqrt(disc)) / g
    landing = jnp.clip(bx + bvx * t_fall, -tennis.WALL_X + 1.0, -tennis.MIN_NET_DISTANCE)
    incoming = (bx < 0.0) | (bvx < 0.0)
    target = jnp.where(incoming, landing + TRACKER_OFFSET, HOME_X)
    # Full speed covers 3 m per decision: aim to arrive within one decision, no overshoot.
    move = jnp.clip((target - x) / (tennis.RACKET_SPEED * 0.1), -1.0, 1.0)
    arriving = incoming & (jnp.abs(bx - x) < 1.5) & (by - y < TRACKER_JUMP_GAP) & (bvy < 0.0)
    return jnp.stack([move, jnp.where(arriving, 1.0, 0.0)])
