"""Action distributions: one categorical per Unity branch, or a diagonal Gaussian.

Both sum over their last axis (branches, dimensions) in ``log_prob`` and ``entropy`` and keep
one value per branch in ``branch_log_prob`` (ML-Agents' per-action PPO ratio). They are written
here rather than imported from distrax, whose releases pull a dated ``tfp-nightly`` into every
install; the arithmetic is distrax's (log-softmax-normalised logits, products that ignore
masked entries), so a seed trains to the same numbers as it did with distrax.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@struct.dataclass
class Categorical:
    """Independent categoricals over the last axis of ``logits [..., branches, width]``."""

    logits: jax.Array  # log-softmax normalised: log-probabilities

    @classmethod
    def from_logits(cls, logits: jax.Array) -> Categorical:
        return cls(jax.nn.log_softmax(logits, axis=-1))

    def sample(self, key: jax.Array) -> jax.Array:
        """One action per branch, ``[..., branches]`` int32."""
        # one draw of shape [1, ...]: the same random bits as distrax's sample
        draws = jax.random.categorical(key, self.logits, shape=(1, *self.logits.shape[:-1]))
        return draws[0].astype(jnp.int32)

    def branch_log_prob(self, action: jax.Array) -> jax.Array:
        """``log pi(a_b)`` per branch ``[..., branches]``; ``-inf`` outside a branch's range."""
        width = self.logits.shape[-1]
        one_hot = jax.nn.one_hot(action, width, dtype=self.logits.dtype)
        picked = jnp.sum(jnp.where(one_hot == 0, 0.0, self.logits * one_hot), axis=-1)
        return jnp.where((action < 0) | (action > width - 1), -jnp.inf, picked)

    def log_prob(self, action: jax.Array) -> jax.Array:
        return jnp.sum(self.branch_log_prob(action), axis=-1)

    def entropy(self) -> jax.Array:
        log_p = jax.nn.log_softmax(self.logits)
        p = jnp.exp(log_p)
        per_branch = -jnp.sum(jnp.where(p == 0, 0.0, log_p) * p, axis=-1)
        return jnp.sum(per_branch, axis=-1)


@struct.dataclass
class Gaussian:
    """A diagonal Gaussian over the last axis."""

    loc: jax.Array
    scale: jax.Array

    def sample(self, key: jax.Array) -> jax.Array:
        noise = jax.random.normal(key, (1, *self.loc.shape), self.loc.dtype)
        return (self.scale[None] * noise + self.loc[None]).reshape(self.loc.shape)

    def branch_log_prob(self, action: jax.Array) -> jax.Array:
        """``log pi(a_d)`` per dimension ``[..., dims]``."""
        return -0.5 * jnp.square((action - self.loc) / self.scale) - (
            HALF_LOG_2PI + jnp.log(self.scale)
        )

    def log_prob(self, action: jax.Array) -> jax.Array:
        return jnp.sum(self.branch_log_prob(action), axis=-1)

    def entropy(self) -> jax.Array:
        return jnp.sum(0.5 + (HALF_LOG_2PI + jnp.log(self.scale)), axis=-1)

    def mean(self) -> jax.Array:
        return self.loc


Distribution = Categorical | Gaussian
