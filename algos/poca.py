"""MA-POCA (Cohen et al. 2021; ML-Agents' ``poca`` trainer): PPO actors, a centralised critic.

The actor is the PPO family's, shared by the team. The critic (``POCACritic``) attends over
the team: V(s) from every present member's observation, and a counterfactual baseline
b_i(s, a_-i) per agent. Credit follows the reference (``poca/trainer.py``,
``poca/optimizer_torch.py``):

- the team reward is the group reward plus every member's individual reward (ML-Agents'
  ``add_groupmate_rewards``), the same for all members;
- lambda-returns are computed once per team from that reward with the centralised value,
  and a done only stops bootstrapping when the whole episode ends (time-outs bootstrap);
- agent i's advantage is ``G_lambda - b_i``, standardised over the present agents.

**Posthumous credit.** An agent that leaves early (``done`` while its team plays on) is
masked out of the critic's attention from then on instead of being fed a fake absorbing
state; its last actions still earn the team's later reward through ``G_lambda``. Its
masked steps do not enter any loss.

Loss: ``policy + vf_coef * (value + baseline_coef * baseline) - beta * entropy`` with clipped
value and baseline losses (ML-Agents: 0.5 and 0.5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from algos import rollout
from algos.learner import Seating
from algos.networks import MLP, ObsNorm, ResidualSelfAttention, action_features, flat_dense
from algos.ppo import PPO, PPOBatch, PPOConfig, clipped_value_loss, gae
from envs.base import MultiAgentEnv


@dataclass(frozen=True)
class POCAConfig(PPOConfig):
    critic_hidden: int  # entity embedding, attention and encoder width
    critic_layers: int
    attention_heads: int
    baseline_coef: float


class POCACritic(nn.Module):
    """MA-POCA's centralised critic: one body, two entry points.

    ``value(obs [..., n, D], mask [..., n])`` is V(s) from every present teammate's
    observation; ``baseline(obs, act_feat [..., n, K], mask)`` is, for each agent i, the
    counterfactual Q(s, a_-i) from i's observation and the other members' observation-action
    pairs. The two entry points differ only in their entity embeddings (a dense layer and
    Swish, ML-Agents' one-layer ``EntityEmbedding``). A feature with the number of present
    agents, rescaled to [-1, 1], joins the pooled encoding before the head.
    """

    hidden: int
    num_layers: int
    heads: int = 4
    activation: str = "relu"

    def setup(self) -> None:
        self.obs_embed = nn.Sequential([nn.Dense(self.hidden), nn.swish])
        self.obs_action_embed = nn.Sequential([nn.Dense(self.hidden), nn.swish])
        self.attention = ResidualSelfAttention(self.heads)
        self.encoder = MLP((self.hidden,) * self.num_layers, self.activation)
        self.head = nn.Dense(1, kernel_init=nn.initializers.orthogonal(1.0))

    def _embed(self, obs: jax.Array, act_feat: jax.Array | None, mask: jax.Array) -> jax.Array:
        """Entity embeddings ``[..., n, h]`` of the present members' observations, or with
        ``act_feat`` of their observation-action pairs (absent members zeroed)."""
        x = jnp.where(mask[..., None], obs, 0.0)
        if act_feat is None:
            return flat_dense(self.obs_embed, x)
        x = jnp.concatenate([x, jnp.where(mask[..., None], act_feat, 0.0)], axis=-1)
        return flat_dense(self.obs_action_embed, x)

    def _body(self, entities: jax.Array, mask: jax.Array, sets: np.ndarray) -> jax.Array:
        """``[..., r]`` outputs for r sets of entities (``ResidualSelfAttention``'s ``sets``);
        ``mask [..., n]`` is the members', the same in every set."""
        r, n = sets.shape
        masks = jnp.broadcast_to(mask[..., None, :], (*mask.shape[:-1], r, n))
        pooled = flat_dense(self.encoder, self.attention(entities, masks, sets))
        count = jnp.sum(mask, axis=-1, keepdims=True).astype(pooled.dtype)
        count = jnp.broadcast_to((2.0 * count / n - 1.0)[..., None, :], (*pooled.shape[:-1], 1))
        return flat_dense(self.head, jnp.concatenate([pooled, count], axis=-1))[..., 0]

    @staticmethod
    def _sets(n: int, value: bool, baseline: bool) -> np.ndarray:
        """Entity sets over ``[own_0 .. own_n-1, other_0 .. other_n-1]``: the value's (every
        member's own embedding), then agent i's baseline (its own, the others' with actions)."""
        rows = [list(range(n))] if value else []
        if baseline:
            rows += [[j if j == i else n + j for j in range(n)] for i in range(n)]
        return np.asarray(rows)

    def value(self, obs: jax.Array, mask: jax.Array) -> jax.Array:
        sets = self._sets(obs.shape[-2], value=True, baseline=False)
        return self._body(self._embed(obs, None, mask), mask, sets)[..., 0]

    def baseline(self, obs: jax.Array, act_feat: jax.Array, mask: jax.Array) -> jax.Array:
        return self.value_and_baseline(obs, act_feat, mask, value=False)[1]

    def value_and_baseline(
        self, obs: jax.Array, act_feat: jax.Array, mask: jax.Array, value: bool = True
    ) -> tuple[jax.Array | None, jax.Array]:
        """``value`` and ``baseline`` in one pass: each member's two embeddings are computed,
        normalised and projected once, and the value's set and the n baselines' sets run
        through the attention's rest, the encoder and the head together."""
        n = obs.shape[-2]
        entities = jnp.concatenate(
            [self._embed(obs, None, mask), self._embed(obs, act_feat, mask)], axis=-2
        )  # [..., 2n, h]
        out = self._body(entities, mask, self._sets(n, value, baseline=True))
        return (out[..., 0], out[..., 1:]) if value else (None, out)

    def __call__(self, obs: jax.Array, act_feat: jax.Array, mask: jax.Array):
        """Both entry points (used once at init so every parameter exists)."""
        return self.value(obs, mask), self.baseline(obs, act_feat, mask)


@struct.dataclass
class TeamTargets:
    """The centralised critic's targets: team value and return ``[..., E]``, each member's
    baseline ``[..., E, n]``."""

    value: jax.Array
    baseline: jax.Array
    returns: jax.Array


def counterfactual_advantages(
    team_reward: jax.Array,
    value: jax.Array,
    team_done: jax.Array,
    last_value: jax.Array,
    baseline: jax.Array,
    gamma: float,
    lam: float,
) -> tuple[jax.Array, jax.Array]:
    """Team lambda-returns ``[T, E]`` and each agent's ``G_lambda - b_i`` ``[T, E, n]``."""
    _, returns = gae(team_reward, value, team_done, last_value, gamma, lam)
    return returns, returns[..., None] - baseline


class POCA(PPO):
    """The PPO family's actor with MA-POCA's critic and credit assignment."""

    config_class = POCAConfig
    init_keys = 2  # actor, critic
    mlagents_trainer = "poca"

    def __init__(
        self,
        env: MultiAgentEnv,
        cfg: Mapping[str, Any],
        seating: Seating,
        total_env_steps: int,
        behaviour: int = 0,
    ) -> None:
        super().__init__(env, cfg, seating, total_env_steps, behaviour)
        c = self.cfg
        self.critic = POCACritic(c.critic_hidden, c.critic_layers, c.attention_heads, c.activation)

    def init_params(self, k_actor: jax.Array, k_critic: jax.Array) -> dict[str, Any]:
        n = self.team_size
        obs = jnp.zeros((1, n, *self.obs_shape))
        act = action_features(self.space, jnp.zeros((1, n, *self.space.shape), jnp.int32))
        mask = jnp.ones((1, n), bool)
        return {
            "actor": self.actor.init(k_actor, obs[:, 0]),
            "critic": self.critic.init(k_critic, obs, act, mask),
        }

    def _team_value(self, critic: Any, obs: jax.Array, mask: jax.Array) -> jax.Array:
        return self.critic.apply(critic, obs, mask, method=POCACritic.value)

    def _value_and_baseline(
        self, critic: Any, obs: jax.Array, action: jax.Array, mask: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        feats = action_features(self.space, action)
        return self.critic.apply(critic, obs, feats, mask, method=POCACritic.value_and_baseline)

    def acting_value(self, critic: Any, obs: jax.Array) -> None:
        return None  # the rollout is valued afterwards, with the actions taken

    def bootstrap_value(self, critic: Any, obs: jax.Array, active: jax.Array) -> jax.Array:
        """Team value of time-out observations, broadcast to the members."""
        value = self._team_value(critic, obs, active)
        return jnp.broadcast_to(value[:, None], active.shape)

    def critic_targets(
        self,
        critic: Any,
        obs_norm: ObsNorm,
        steps: rollout.Step,
        last_obs: jax.Array,
        last_active: jax.Array,
    ) -> tuple[jax.Array, TeamTargets, dict[str, jax.Array]]:
        """Team-level lambda-returns from the centralised value, baselines per member."""
        cfg, active = self.cfg, steps.active
        value, baseline = self._value_and_baseline(
            critic, obs_norm(steps.obs), steps.action, active
        )  # [T, E] and [T, E, n]
        team_reward = (
            jnp.sum(jnp.where(active, steps.reward, 0.0), axis=-1)
            + steps.group_reward[..., 0]
            + cfg.gamma * steps.bootstrap[..., 0]
        )
        last_value = self._team_value(critic, obs_norm(last_obs), last_active)
        returns, advantage = counterfactual_advantages(
            team_reward, value, steps.team_done, last_value, baseline, cfg.gamma, cfg.gae_lambda
        )
        targets = TeamTargets(value=value, baseline=baseline, returns=returns)
        return advantage, targets, {"value_target": returns.mean()}

    def critic_loss(
        self, critic: Any, obs: jax.Array, mb: PPOBatch, clip_eps: float | jax.Array
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        cfg, targets = self.cfg, mb.critic
        value, baseline = self._value_and_baseline(critic, obs, mb.action, mb.active)
        v_loss = clipped_value_loss(value, targets.value, targets.returns, clip_eps)
        b_loss = clipped_value_loss(
            baseline, targets.baseline, targets.returns[..., None], clip_eps, mb.active
        )
        term = cfg.vf_coef * (v_loss + cfg.baseline_coef * b_loss)
        return term, {"value_loss": v_loss, "baseline_loss": b_loss}


LEARNER = POCA
