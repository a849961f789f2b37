"""The optimiser every learner uses: Adam (eps 1e-5), optionally after gradient-norm clipping.

Clipping is global by default (the PPO family). Learners that keep several networks in one
stacked pytree (MADDPG: a critic per agent, ``[n, ...]``; K sub-policies per agent,
``[n, K, ...]``) can clip each network on its own, or each variable of each network as the
MADDPG reference does (``openai/maddpg``, ``maddpg/common/tf_util.py``, ``minimize_and_clip``:
``tf.clip_by_norm`` on every variable's gradient, one optimiser per agent's actor and critic).
With one global norm, ``n * K`` networks share one budget and clipping is about
``sqrt(n * K)`` times stronger.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def clip_by_block_norm(
    max_norm: float, block_dims: int, per_variable: bool
) -> optax.GradientTransformation:
    """Scale gradients to norm <= ``max_norm`` per network, a network being one index of the
    first ``block_dims`` axes of every leaf; with ``per_variable``, per leaf of each network
    (the reference's ``tf.clip_by_norm`` on every variable)."""

    def block_sq(x: jax.Array) -> jax.Array:
        return jnp.sum(jnp.square(x), axis=tuple(range(block_dims, x.ndim)))

    def rescale(x: jax.Array, sq: jax.Array) -> jax.Array:
        scale = jnp.minimum(1.0, max_norm / jnp.maximum(jnp.sqrt(sq), 1e-12))
        return x * scale.reshape(scale.shape + (1,) * (x.ndim - block_dims)).astype(x.dtype)

    def update(updates, state, params=None):
        del params
        if per_variable:
            return jax.tree.map(lambda x: rescale(x, block_sq(x)), updates), state
        sq = sum(block_sq(x) for x in jax.tree.leaves(updates))
        return jax.tree.map(lambda x: rescale(x, sq), updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


GRAD_CLIPS = ("global", "per_network", "per_variable")


def gradient_clip(
    max_grad_norm: float | None, clip: str = "global", block_dims: int = 0
) -> optax.GradientTransformation:
    """``"global"`` (one norm over the tree), ``"per_network"`` or ``"per_variable"`` (each of
    the networks stacked on the first ``block_dims`` axes); ``None``: no clipping."""
    if clip not in GRAD_CLIPS:
        raise ValueError(f"unknown gradient clipping {clip!r}; valid: {', '.join(GRAD_CLIPS)}")
    if max_grad_norm is None:
        return optax.identity()
    if clip == "global":
        return optax.clip_by_global_norm(max_grad_norm)
    return clip_by_block_norm(max_grad_norm, block_dims, clip == "per_variable")


def optimizer(
    lr: float | optax.Schedule,
    max_grad_norm: float | None,
    clip: str = "global",
    block_dims: int = 0,
) -> optax.GradientTransformation:
    """Adam after ``gradient_clip``."""
    clipping, adam = gradient_clip(max_grad_norm, clip, block_dims), optax.adam(lr, eps=1e-5)
    return adam if max_grad_norm is None else optax.chain(clipping, adam)
