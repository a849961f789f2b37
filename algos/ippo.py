"""Independent PPO: every learning agent runs PPO on its own observation and reward.

Rewards are each agent's individual reward plus its team's group reward (IPPO has no
centralised critic to use the group signal otherwise). An agent that leaves the game early
ends its own trajectory there (no credit for the team's later reward: that is what
MA-POCA adds); its steps until the episode ends are masked out. Parameters are shared by the
agents of a team by default; with ``share_params: false`` each team slot has its own actor
and critic (a leading agent axis on the params). The ghost team plays a snapshot of the
actor with that snapshot's own observation statistics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from algos import rollout
from algos.learner import Seating
from algos.networks import Critic, ObsNorm, init_each
from algos.ppo import PPO, PPOBatch, PPOConfig, clipped_value_loss, gae, over_agents
from envs.base import MultiAgentEnv


@dataclass(frozen=True)
class IPPOConfig(PPOConfig):
    share_params: bool  # one actor/critic for all agents of the learning team


@struct.dataclass
class ValueTargets:
    """Per-agent critic targets ``[..., n]``: the acting value and the lambda-return."""

    value: jax.Array
    target: jax.Array


class IPPO(PPO):
    """PPO per agent against the self-play ghost, with a per-agent value V(o_i)."""

    config_class = IPPOConfig

    def __init__(
        self,
        env: MultiAgentEnv,
        cfg: Mapping[str, Any],
        seating: Seating,
        total_env_steps: int,
        behaviour: int = 0,
    ) -> None:
        super().__init__(env, cfg, seating, total_env_steps, behaviour)
        self.critic = Critic(self.cfg.hidden, self.cfg.activation)

    @property
    def shared_actor(self) -> bool:
        return self.cfg.share_params

    def _value(self, critic: Any, obs: jax.Array) -> jax.Array:
        return over_agents(self.critic.apply, critic, self.shared_actor, obs)

    def init_params(self, key: jax.Array) -> dict[str, Any]:
        obs = jnp.zeros((1, *self.obs_shape))
        n = 1 if self.shared_actor else self.team_size

        def init_one(k: jax.Array) -> dict[str, Any]:
            ka, kc = jax.random.split(k)
            return {"actor": self.actor.init(ka, obs), "critic": self.critic.init(kc, obs)}

        params = init_each(init_one, jax.random.split(key, n))
        if self.shared_actor:
            params = jax.tree.map(lambda p: p[0], params)
        return params

    def acting_value(self, critic: Any, obs: jax.Array) -> jax.Array:
        return self._value(critic, obs)

    def bootstrap_value(self, critic: Any, obs: jax.Array, active: jax.Array) -> jax.Array:
        del active  # every agent's own value
        return self._value(critic, obs)

    def critic_targets(
        self,
        critic: Any,
        obs_norm: ObsNorm,
        steps: rollout.Step,
        last_obs: jax.Array,
        last_active: jax.Array,
    ) -> tuple[jax.Array, ValueTargets, dict[str, jax.Array]]:
        cfg = self.cfg
        value = steps.extras[1]
        reward = steps.reward + steps.group_reward + cfg.gamma * steps.bootstrap
        last_value = self.bootstrap_value(critic, obs_norm(last_obs), last_active)
        advantage, target = gae(reward, value, steps.done, last_value, cfg.gamma, cfg.gae_lambda)
        return advantage, ValueTargets(value, target), {"value_target": target.mean()}

    def critic_loss(
        self, critic: Any, obs: jax.Array, mb: PPOBatch, clip_eps: float | jax.Array
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        targets: ValueTargets = mb.critic
        value = self._value(critic, obs)
        v_loss = clipped_value_loss(value, targets.value, targets.target, clip_eps, mb.active)
        return self.cfg.vf_coef * v_loss, {"value_loss": v_loss}


LEARNER = IPPO
