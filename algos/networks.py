"""Network parts shared by the algorithms: MLP torso, action heads, observation normaliser.

Action heads return distrax distributions so losses read the same for discrete and
continuous games: a multi-discrete head is one categorical per Unity branch (log-probs and
entropies summed over branches); a continuous head is a diagonal Gaussian with a
state-independent log-std, sampled unsquashed and clipped by the env, as ML-Agents does.
"""

from __future__ import annotations

from collections.abc import Sequence

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.base import ActionSpace, Box, MultiDiscrete

ACTIVATIONS = {"relu": nn.relu, "tanh": nn.tanh, "swish": nn.swish, "gelu": nn.gelu}


def activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[name]


class MLP(nn.Module):
    """Dense layers with orthogonal init (PPO practice), no output layer."""

    hidden: Sequence[int]
    activation: str = "relu"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = activation(self.activation)
        for width in self.hidden:
            x = act(nn.Dense(width, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x))
        return x


class MultiDiscreteHead(nn.Module):
    """Logits for every branch, padded to the widest branch with a large negative number."""

    branches: tuple[int, ...]

    @nn.compact
    def __call__(self, x: jax.Array) -> distrax.Distribution:
        width = max(self.branches)
        logits = nn.Dense(len(self.branches) * width, kernel_init=nn.initializers.orthogonal(0.01))(
            x
        )
        logits = logits.reshape(*x.shape[:-1], len(self.branches), width)
        valid = np.arange(width)[None, :] < np.asarray(self.branches)[:, None]
        logits = jnp.where(valid, logits, -1e9)
        return distrax.Independent(distrax.Categorical(logits=logits), 1)


class GaussianHead(nn.Module):
    """Diagonal Gaussian with a learned, state-independent log-std (ML-Agents' default)."""

    size: int
    init_log_std: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array) -> distrax.Distribution:
        mean = nn.Dense(self.size, kernel_init=nn.initializers.orthogonal(0.01))(x)
        log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (self.size,))
        return distrax.MultivariateNormalDiag(mean, jnp.broadcast_to(jnp.exp(log_std), mean.shape))


def action_head(space: ActionSpace) -> nn.Module:
    if isinstance(space, MultiDiscrete):
        return MultiDiscreteHead(space.branches)
    if isinstance(space, Box):
        return GaussianHead(int(np.prod(space.shape)))
    raise TypeError(f"no action head for {type(space).__name__}")


class Actor(nn.Module):
    """Per-agent policy: observation -> action distribution."""

    space: ActionSpace
    hidden: Sequence[int]
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs: jax.Array) -> distrax.Distribution:
        return action_head(self.space)(MLP(self.hidden, self.activation)(obs))


class Critic(nn.Module):
    """Per-agent state value V(o)."""

    hidden: Sequence[int]
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = MLP(self.hidden, self.activation)(obs)
        return nn.Dense(1, kernel_init=nn.initializers.orthogonal(1.0))(x)[..., 0]


def env_action(space: ActionSpace, action: jax.Array) -> jax.Array:
    """What the env receives: integer branches, or the Gaussian sample clipped to the box."""
    if isinstance(space, Box):
        return jnp.clip(action, space.low, space.high)
    return action.astype(jnp.int32)


@struct.dataclass
class ObsNorm:
    """Running mean / variance of observations (Chan et al. parallel update).

    ``enabled`` is static so a disabled normaliser costs nothing and keeps its shape.
    """

    mean: jax.Array
    var: jax.Array
    count: jax.Array
    enabled: bool = struct.field(pytree_node=False, default=True)

    @classmethod
    def create(cls, shape: tuple[int, ...], enabled: bool) -> ObsNorm:
        return cls(jnp.zeros(shape), jnp.ones(shape), jnp.asarray(1e-4), enabled)

    def __call__(self, obs: jax.Array) -> jax.Array:
        if not self.enabled:
            return obs
        return jnp.clip((obs - self.mean) / jnp.sqrt(self.var + 1e-8), -10.0, 10.0)

    def update(self, batch: jax.Array) -> ObsNorm:
        if not self.enabled:
            return self
        batch = batch.reshape(-1, *self.mean.shape)
        b_mean, b_var, b_count = batch.mean(0), batch.var(0), batch.shape[0]
        delta = b_mean - self.mean
        total = self.count + b_count
        mean = self.mean + delta * b_count / total
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        return self.replace(mean=mean, var=m2 / total, count=total)
