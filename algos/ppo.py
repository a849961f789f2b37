"""The PPO core shared by IPPO and MA-POCA: GAE, clipped losses, minibatch epochs.

Losses follow ML-Agents (``ppo/optimizer_torch.py``): clipped surrogate on the log-prob
ratio, clipped value loss ``max((R - v)^2, (R - clip(v, v_old +- eps))^2)``, and
``policy + vf_coef * value - ent_coef * entropy``. Advantages are standardised over the
whole update buffer, as ML-Agents does, not per minibatch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax


@dataclass(frozen=True)
class PPOConfig:
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    vf_coef: float = 0.5
    ent_coef: float = 0.005
    num_epochs: int = 3
    num_minibatches: int = 10
    max_grad_norm: float | None = 0.5  # None: no clipping (ML-Agents clips nothing)
    normalize_advantages: bool = True
    mirror_symmetric: bool = False  # actor equivariant to the env's reflection (EnvSpec.mirror)


def gae(
    reward: jax.Array,
    value: jax.Array,
    done: jax.Array,
    last_value: jax.Array,
    gamma: float,
    lam: float,
) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimates and lambda-returns over a time-major rollout.

    ``reward[t]`` and ``done[t]`` follow the action at ``t``; ``value[t] = V(obs_t)``;
    ``last_value`` is ``V`` of the observation after the last step. A done stops
    bootstrapping (time-outs must have their bootstrap folded into ``reward`` already).
    """
    next_value = jnp.concatenate([value[1:], last_value[None]], axis=0)
    not_done = 1.0 - done.astype(value.dtype)
    delta = reward + gamma * next_value * not_done - value

    def back(carry: jax.Array, x: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        delta_t, not_done_t = x
        carry = delta_t + gamma * lam * not_done_t * carry
        return carry, carry

    _, advantage = jax.lax.scan(back, jnp.zeros_like(last_value), (delta, not_done), reverse=True)
    return advantage, advantage + value


Mask = jax.Array | None  # bool, same shape as the per-sample values; None: all count


def masked_mean(x: jax.Array, mask: Mask = None) -> jax.Array:
    """Mean over the entries where ``mask`` holds (agents still in the game)."""
    if mask is None:
        return jnp.mean(x)
    mask = jnp.broadcast_to(mask, x.shape)
    return jnp.sum(jnp.where(mask, x, 0.0)) / jnp.maximum(jnp.sum(mask), 1)


def standardise(x: jax.Array, mask: Mask = None) -> jax.Array:
    mean = masked_mean(x, mask)
    std = jnp.sqrt(masked_mean((x - mean) ** 2, mask))
    return (x - mean) / (std + 1e-8)


def clipped_surrogate(
    log_prob: jax.Array,
    old_log_prob: jax.Array,
    advantage: jax.Array,
    clip_eps: float,
    mask: Mask = None,
) -> tuple[jax.Array, jax.Array]:
    """PPO's pessimistic policy loss and the fraction of samples whose ratio was clipped."""
    ratio = jnp.exp(log_prob - old_log_prob)
    unclipped = ratio * advantage
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantage
    loss = -masked_mean(jnp.minimum(unclipped, clipped), mask)
    return loss, masked_mean((jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32), mask)


def clipped_value_loss(
    value: jax.Array, old_value: jax.Array, target: jax.Array, clip_eps: float, mask: Mask = None
) -> jax.Array:
    clipped = old_value + jnp.clip(value - old_value, -clip_eps, clip_eps)
    return masked_mean(jnp.maximum((target - value) ** 2, (target - clipped) ** 2), mask)


def optimizer(
    lr: float | optax.Schedule, max_grad_norm: float | None
) -> optax.GradientTransformation:
    adam = optax.adam(lr, eps=1e-5)
    return (
        adam
        if max_grad_norm is None
        else optax.chain(optax.clip_by_global_norm(max_grad_norm), adam)
    )


LossFn = Callable[[Any, Any], tuple[jax.Array, dict[str, jax.Array]]]


def minibatch_epochs(
    key: jax.Array,
    params: Any,
    opt_state: optax.OptState,
    batch: Any,
    loss_fn: LossFn,
    tx: optax.GradientTransformation,
    num_epochs: int,
    num_minibatches: int,
) -> tuple[Any, optax.OptState, dict[str, jax.Array]]:
    """``num_epochs`` passes of shuffled minibatch SGD over a flat batch (leading sample axis).

    ``loss_fn(params, minibatch) -> (loss, metrics)``; returns the mean metrics of all steps.
    """
    size = jax.tree.leaves(batch)[0].shape[0]
    if size % num_minibatches:
        raise ValueError(
            f"batch of {size} samples does not split into {num_minibatches} minibatches"
        )
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def step(carry, minibatch):
        params, opt_state = carry
        (loss, metrics), grads = grad_fn(params, minibatch)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        metrics = {**metrics, "loss": loss, "grad_norm": optax.tree.norm(grads)}
        return (params, opt_state), metrics

    def epoch(carry, k):
        perm = jax.random.permutation(k, size)
        shuffled = jax.tree.map(
            lambda x: x[perm].reshape(num_minibatches, size // num_minibatches, *x.shape[1:]),
            batch,
        )
        return jax.lax.scan(step, carry, shuffled)

    (params, opt_state), metrics = jax.lax.scan(
        epoch, (params, opt_state), jax.random.split(key, num_epochs)
    )
    return params, opt_state, jax.tree.map(jnp.mean, metrics)
