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

from envs.base import ActionSpace, Box, Mirror, MultiDiscrete

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
    """Per-agent policy: observation -> action distribution.

    With a ``mirror`` the policy is equivariant to the game's reflection by construction:
    branch logits are the mean of the network's logits for ``obs`` and the reflected logits
    for the reflected ``obs``, so ``pi(a | o) = pi(M a | M o)`` exactly. The parameters are
    the same as without it; each forward pass costs two.
    """

    space: ActionSpace
    hidden: Sequence[int]
    activation: str = "relu"
    mirror: Mirror | None = None

    @nn.compact
    def __call__(self, obs: jax.Array) -> distrax.Distribution:
        torso, head = MLP(self.hidden, self.activation), action_head(self.space)
        if self.mirror is None:
            return head(torso(obs))
        if not isinstance(self.space, MultiDiscrete):
            raise ValueError("a mirror-symmetric actor needs discrete action branches")
        logits = head(torso(jnp.stack([obs, obs[..., np.asarray(self.mirror.obs_index)]])))
        logits = logits.distribution.logits  # [2, ..., branches, width]
        index = self.mirror.action_table(logits.shape[-1])
        reflected = logits[1][..., np.arange(len(index))[:, None], index]
        return distrax.Independent(distrax.Categorical(logits=0.5 * (logits[0] + reflected)), 1)


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


def action_features(space: ActionSpace, action: jax.Array) -> jax.Array:
    """Actions as critic inputs: one-hot per discrete branch, raw values for a box."""
    if isinstance(space, MultiDiscrete):
        return jnp.concatenate(
            [jax.nn.one_hot(action[..., b], n) for b, n in enumerate(space.branches)], axis=-1
        )
    return action.astype(jnp.float32)


class ResidualSelfAttention(nn.Module):
    """ML-Agents' entity attention: layer norm, multi-head self-attention, residual, layer
    norm, then a masked mean over entities. Masked-out entities are neither attended to nor
    pooled, so whatever they hold cannot reach the output.

    Scores are written as broadcast products rather than einsums: teams have a handful of
    entities, and XLA on CPU runs such tiny contractions as slow library calls.
    """

    heads: int = 4

    @nn.compact
    def __call__(self, entities: jax.Array, mask: jax.Array) -> jax.Array:
        width = entities.shape[-1]
        head_dim = width // self.heads
        x = nn.LayerNorm()(entities)

        def project(name: str) -> jax.Array:
            y = nn.Dense(width, name=name)(x)
            return y.reshape(*y.shape[:-1], self.heads, head_dim)  # [..., n, H, d]

        q, k, v = project("query"), project("key"), project("value")
        scores = jnp.sum(q[..., :, None, :, :] * k[..., None, :, :, :], -1) / np.sqrt(head_dim)
        scores = jnp.where(mask[..., None, :, None], scores, -1e9)  # [..., query, key, H]
        weights = jax.nn.softmax(scores, axis=-2)
        attended = jnp.sum(weights[..., None] * v[..., None, :, :, :], axis=-3)  # [..., n, H, d]
        attended = nn.Dense(width, name="out")(attended.reshape(*attended.shape[:-2], width))
        x = nn.LayerNorm()(entities + attended)
        keep = mask[..., None].astype(x.dtype)
        return jnp.sum(x * keep, axis=-2) / jnp.maximum(jnp.sum(keep, axis=-2), 1.0)


class POCACritic(nn.Module):
    """MA-POCA's centralised critic: one body, two entry points.

    ``value(obs [..., n, D], mask [..., n])`` is V(s) from every present teammate's
    observation; ``baseline(obs, act_feat [..., n, K], mask)`` is, for each agent i, the
    counterfactual Q(s, a_-i) from i's observation and the other members' observation-action
    pairs. The two entry points differ only in their entity embeddings. A feature with the
    number of present agents, rescaled to [-1, 1], joins the pooled encoding before the head.
    """

    hidden: int
    num_layers: int
    heads: int = 4
    activation: str = "relu"

    def setup(self) -> None:
        self.obs_embed = nn.Dense(self.hidden)
        self.obs_action_embed = nn.Dense(self.hidden)
        self.attention = ResidualSelfAttention(self.heads)
        self.encoder = MLP((self.hidden,) * self.num_layers, self.activation)
        self.head = nn.Dense(1, kernel_init=nn.initializers.orthogonal(1.0))

    def _body(self, entities: jax.Array, mask: jax.Array) -> jax.Array:
        pooled = self.encoder(self.attention(entities, mask))
        count = jnp.sum(mask, axis=-1, keepdims=True).astype(pooled.dtype)
        count = 2.0 * count / mask.shape[-1] - 1.0
        return self.head(jnp.concatenate([pooled, count], axis=-1))[..., 0]

    def value(self, obs: jax.Array, mask: jax.Array) -> jax.Array:
        obs = jnp.where(mask[..., None], obs, 0.0)
        return self._body(self.obs_embed(obs), mask)

    def baseline(self, obs: jax.Array, act_feat: jax.Array, mask: jax.Array) -> jax.Array:
        obs = jnp.where(mask[..., None], obs, 0.0)
        act_feat = jnp.where(mask[..., None], act_feat, 0.0)
        own = self.obs_embed(obs)  # [..., n, h]
        others = self.obs_action_embed(jnp.concatenate([obs, act_feat], axis=-1))
        n = obs.shape[-2]
        is_self = jnp.eye(n, dtype=bool)[..., None]  # [i, j, 1]
        entities = jnp.where(
            is_self, own[..., None, :, :], others[..., None, :, :]
        )  # [..., i, j, h]
        return self._body(entities, jnp.broadcast_to(mask[..., None, :], (*mask.shape, n)))

    def value_and_baseline(
        self, obs: jax.Array, act_feat: jax.Array, mask: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """``value`` and ``baseline`` in one pass: the value's entities are row 0 of the
        baseline's, so the observation embedding is computed once and the attention, encoder
        and head run once on ``[..., n + 1, n, h]`` (fewer, larger matmuls)."""
        obs = jnp.where(mask[..., None], obs, 0.0)
        act_feat = jnp.where(mask[..., None], act_feat, 0.0)
        own = self.obs_embed(obs)  # [..., n, h]
        others = self.obs_action_embed(jnp.concatenate([obs, act_feat], axis=-1))
        n = obs.shape[-2]
        is_self = jnp.eye(n, dtype=bool)[..., None]
        rows = jnp.where(is_self, own[..., None, :, :], others[..., None, :, :])  # [..., i, j, h]
        entities = jnp.concatenate([own[..., None, :, :], rows], axis=-3)  # [..., n + 1, n, h]
        masks = jnp.broadcast_to(mask[..., None, :], (*mask.shape[:-1], n + 1, n))
        out = self._body(entities, masks)
        return out[..., 0], out[..., 1:]

    def __call__(self, obs: jax.Array, act_feat: jax.Array, mask: jax.Array):
        """Both entry points (used once at init so every parameter exists)."""
        return self.value(obs, mask), self.baseline(obs, act_feat, mask)
