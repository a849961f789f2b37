"""Network parts shared by the algorithms: MLP torso, action heads, observation normaliser.

Action heads return ``algos.distributions`` so losses read the same for discrete and
continuous games: a multi-discrete head is one categorical per Unity branch, a continuous head
a diagonal Gaussian with a state-independent log-std; ``dist.log_prob`` sums over branches /
dimensions and ``dist.branch_log_prob`` keeps one per branch (ML-Agents' per-action PPO
ratio). The Gaussian is sampled unsquashed, and the env
receives ML-Agents' ``clamp(a, -3, 3) / 3`` of the sample (``env_action``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from algos.distributions import Categorical, Distribution, Gaussian
from algos.learner import ActorArrays
from envs.base import ActionSpace, Box, Mirror, MultiDiscrete

ACTIVATIONS = {"relu": nn.relu, "tanh": nn.tanh, "swish": nn.swish, "gelu": nn.gelu}


def init_each(init: Callable[[jax.Array], Any], keys: jax.Array) -> Any:
    """``vmap(init)(keys)`` for any batch shape of ``keys``, built one key at a time.

    A vmapped orthogonal initialiser is one batched QR, which jaxlib's CPU kernel splits over
    XLA's intra-op thread pool and then waits for. Two such QRs running side by side (two
    learners' inits, or an actor's and a critic's) each hold one of a 2-core machine's two
    pool threads while waiting for work queued behind the other: the process hangs for good.
    ``lax.map`` gives the same values (the same QR per matrix) without a batched QR.
    """
    typed = jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key)
    batch = keys.shape if typed else keys.shape[:-1]
    flat = keys.reshape(-1, *keys.shape[len(batch) :])
    params = jax.lax.map(init, flat)
    return jax.tree.map(lambda x: x.reshape(*batch, *x.shape[1:]), params)


def activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[name]


class MLP(nn.Module):
    """Dense layers with orthogonal init (PPO practice), no output layer. Given a tuple of
    inputs, the first layer reads their concatenation (``JoinedDense``)."""

    hidden: Sequence[int]
    activation: str = "relu"

    @nn.compact
    def __call__(self, x: jax.Array | tuple[jax.Array, ...]) -> jax.Array:
        act = activation(self.activation)
        init = nn.initializers.orthogonal(np.sqrt(2))
        for layer, width in enumerate(self.hidden):
            dense = JoinedDense if isinstance(x, tuple) else nn.Dense
            x = act(dense(width, kernel_init=init, name=f"Dense_{layer}")(x))
        return x


class JoinedDense(nn.Module):
    """``nn.Dense`` (same parameters) over the concatenation of several inputs, as one product
    per input with its rows of the kernel. Where only some inputs carry a gradient (MADDPG's
    critic: replayed observations beside a policy's action), the backward pass computes the
    gradient for those alone, not one ``[batch, whole input]`` product."""

    features: int
    kernel_init: Callable = nn.linear.default_kernel_init

    @nn.compact
    def __call__(self, xs: Sequence[jax.Array]) -> jax.Array:
        widths = [x.shape[-1] for x in xs]
        kernel = self.param("kernel", self.kernel_init, (sum(widths), self.features))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        ends = np.cumsum(widths)
        return (
            sum(x @ kernel[end - w : end] for x, w, end in zip(xs, widths, ends, strict=True))
            + bias
        )


class MultiDiscreteHead(nn.Module):
    """Logits for every branch, padded to the widest branch with a large negative number."""

    branches: tuple[int, ...]

    @nn.compact
    def __call__(self, x: jax.Array) -> Distribution:
        width = max(self.branches)
        logits = nn.Dense(len(self.branches) * width, kernel_init=nn.initializers.orthogonal(0.01))(
            x
        )
        logits = logits.reshape(*x.shape[:-1], len(self.branches), width)
        valid = np.arange(width)[None, :] < np.asarray(self.branches)[:, None]
        logits = jnp.where(valid, logits, -1e9)
        return Categorical.from_logits(logits)


class GaussianHead(nn.Module):
    """Diagonal Gaussian with a learned, state-independent log-std (ML-Agents' default)."""

    size: int
    init_log_std: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array) -> Distribution:
        mean = nn.Dense(self.size, kernel_init=nn.initializers.orthogonal(0.01))(x)
        log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (self.size,))
        std = jnp.broadcast_to(jnp.exp(log_std), mean.shape)
        return Gaussian(mean, std)


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
    def __call__(self, obs: jax.Array) -> Distribution:
        torso, head = MLP(self.hidden, self.activation), action_head(self.space)
        if self.mirror is None:
            return head(torso(obs))
        if not isinstance(self.space, MultiDiscrete):
            raise ValueError("a mirror-symmetric actor needs discrete action branches")
        logits = head(torso(jnp.stack([obs, obs[..., np.asarray(self.mirror.obs_index)]])))
        logits = logits.logits  # [2, ..., branches, width]
        index = self.mirror.action_table(logits.shape[-1])
        reflected = logits[1][..., np.arange(len(index))[:, None], index]
        return Categorical.from_logits(0.5 * (logits[0] + reflected))

    def arrays(self, actor: Any, obs_norm: ObsNorm, continuous: str = "mlagents") -> ActorArrays:
        """These params of this actor (and the normaliser) as plain arrays, for export;
        ``continuous`` is how the Gaussian's sample reaches the env (``env_action``)."""
        tree = actor["params"]
        if isinstance(self.space, MultiDiscrete):
            head = tree["MultiDiscreteHead_0"]
            return ActorArrays(
                dense_stack(tree["MLP_0"]),
                dense_stack(head)[0],
                self.activation,
                "categorical",
                *obs_norm.arrays(),
                logit_width=max(self.space.branches),
                mirror=self.mirror,
            )
        head = tree["GaussianHead_0"]
        return ActorArrays(
            dense_stack(tree["MLP_0"]),
            dense_stack({"Dense_0": head["Dense_0"]})[0],
            self.activation,
            "gaussian",
            *obs_norm.arrays(),
            log_std=np.asarray(head["log_std"]),
            action_clamp=GAUSSIAN_CLAMP if continuous == "mlagents" else None,
        )


def dense_stack(tree: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``Dense_<i>`` layers of a Flax param tree, in order, as ``(kernel, bias)``."""
    names = sorted(tree, key=lambda n: int(n.rsplit("_", 1)[1]))
    return [(np.asarray(tree[n]["kernel"]), np.asarray(tree[n]["bias"])) for n in names]


class Critic(nn.Module):
    """Per-agent state value V(o)."""

    hidden: Sequence[int]
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = MLP(self.hidden, self.activation)(obs)
        return nn.Dense(1, kernel_init=nn.initializers.orthogonal(1.0))(x)[..., 0]


CONTINUOUS_ACTIONS = ("mlagents", "clip")
GAUSSIAN_CLAMP = 3.0  # ML-Agents: the env gets clamp(sample, -3, 3) / 3


def env_action(space: ActionSpace, action: jax.Array, continuous: str = "mlagents") -> jax.Array:
    """What the env receives: integer branches, or for a box the Gaussian sample as ML-Agents
    sends it (``AgentAction.to_action_tuple(clip=True)``: ``clamp(a, -3, 3) / 3``, mapped onto
    the box when it is not [-1, 1]); ``continuous="clip"`` clips the sample to the box."""
    if not isinstance(space, Box):
        return action.astype(jnp.int32)
    if continuous == "clip":
        return jnp.clip(action, space.low, space.high)
    unit = jnp.clip(action, -GAUSSIAN_CLAMP, GAUSSIAN_CLAMP) / GAUSSIAN_CLAMP
    if (space.low, space.high) == (-1.0, 1.0):
        return unit
    return space.low + (unit + 1.0) * 0.5 * (space.high - space.low)


OBS_CLIP = 5.0  # normalised observations are clipped to +-this (ML-Agents' Normalizer)


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
        # A float32 count, not a weakly typed scalar: a checkpoint restores it strongly typed,
        # and the programs that take a restored policy must be the ones a trained one compiled.
        return cls(jnp.zeros(shape), jnp.ones(shape), jnp.asarray(1e-4, jnp.float32), enabled)

    def __call__(self, obs: jax.Array) -> jax.Array:
        if not self.enabled:
            return obs
        return jnp.clip((obs - self.mean) / self.std(), -OBS_CLIP, OBS_CLIP)

    def std(self) -> jax.Array:
        return jnp.sqrt(self.var + 1e-8)

    def arrays(self) -> tuple[np.ndarray | None, np.ndarray | None, float]:
        """``(mean, std, clip)`` for an exported graph; ``None`` when disabled."""
        if not self.enabled:
            return None, None, OBS_CLIP
        return np.asarray(self.mean), np.asarray(self.std()), OBS_CLIP

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


def _plain_layer_norm(x: jax.Array) -> jax.Array:
    """``(x - mean) / sqrt(var + 1e-5)`` over the last axis, no learned scale or bias."""
    return nn.LayerNorm(epsilon=1e-5, use_bias=False, use_scale=False)(x)


class ResidualSelfAttention(nn.Module):
    """ML-Agents' entity attention (``torch/attention.py``, ``ResidualSelfAttention``): layer
    norm, multi-head self-attention with scores scaled by sqrt(embedding size), the output
    projection added to the *normalised* input, layer norm, then a masked mean over entities.
    Its layer norms have no learned scale or bias (``torch/layers.py``, ``LayerNorm``).
    Masked-out entities are neither attended to nor pooled, so whatever they hold cannot reach
    the output.

    ``sets`` (a static ``[r, n]`` index array) attends over r sets of n entities drawn from
    ``entities [..., m, h]`` (set r's j-th entity is ``entities[..., sets[r, j], :]``, ``mask
    [..., r, n]``; output ``[..., r, h]``). An entity in several sets (MA-POCA's value and
    baselines share most of theirs) is normalised and projected once. Without ``sets``, the
    n entities form one set (``mask [..., n]``, output ``[..., h]``).

    Every dense layer sees a flat ``[rows, h]`` batch (XLA on CPU runs a weight gradient
    contracted over several batch axes as a transpose and a strided product), and scores are
    broadcast products rather than einsums: teams have a handful of entities, and XLA on CPU
    runs such tiny contractions as slow library calls.
    """

    heads: int = 4

    @nn.compact
    def __call__(
        self, entities: jax.Array, mask: jax.Array, sets: np.ndarray | None = None
    ) -> jax.Array:
        if sets is None:
            out = self(entities, mask[..., None, :], np.arange(entities.shape[-2])[None])
            return out[..., 0, :]
        width = entities.shape[-1]
        head_dim = width // self.heads
        x = _plain_layer_norm(entities)

        def in_sets(y: jax.Array) -> jax.Array:  # [..., m, h] -> [..., r, n, h]
            return jnp.take(y, sets.reshape(-1), axis=-2).reshape(*y.shape[:-2], *sets.shape, -1)

        def project(name: str) -> jax.Array:
            y = in_sets(flat_dense(nn.Dense(width, name=name), x))
            return y.reshape(*y.shape[:-1], self.heads, head_dim)  # [..., r, n, H, d]

        q, k, v = project("query"), project("key"), project("value")
        scores = jnp.sum(q[..., :, None, :, :] * k[..., None, :, :, :], -1) / np.sqrt(width)
        scores = jnp.where(mask[..., None, :, None], scores, -1e9)  # [..., r, query, key, H]
        weights = jax.nn.softmax(scores, axis=-2)
        attended = jnp.sum(weights[..., None] * v[..., None, :, :, :], axis=-3)  # [..., n, H, d]
        attended = attended.reshape(*attended.shape[:-2], width)
        x = _plain_layer_norm(in_sets(x) + flat_dense(nn.Dense(width, name="out"), attended))
        keep = mask[..., None].astype(x.dtype)
        return jnp.sum(x * keep, axis=-2) / jnp.maximum(jnp.sum(keep, axis=-2), 1.0)


def flat_dense(layer: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
    """``layer(x)`` on ``x [..., d]`` seen as one flat ``[rows, d]`` batch (see
    ``ResidualSelfAttention``: the weight gradient is then one plain product)."""
    y = layer(x.reshape(-1, x.shape[-1]))
    return y.reshape(*x.shape[:-1], y.shape[-1])
