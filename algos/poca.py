"""MA-POCA (Cohen et al. 2021; ML-Agents' ``poca`` trainer): PPO actors, a centralised critic.

The actor is IPPO's shared per-agent policy. The critic (``networks.POCACritic``) attends over
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

import jax
import jax.numpy as jnp

from algos import rollout, selfplay
from algos.ippo import IPPO, IPPOState
from algos.networks import POCACritic, action_features, env_action
from algos.ppo import (
    PPOConfig,
    clipped_surrogate,
    clipped_value_loss,
    gae,
    masked_mean,
    standardise,
)
from envs.base import MultiAgentEnv


@dataclass(frozen=True)
class POCAConfig(PPOConfig):
    num_envs: int = 64
    rollout_len: int = 160
    hidden: tuple[int, ...] = (128, 128)  # actor; ML-Agents: 512 x 2
    critic_hidden: int = 64  # entity embedding, attention and encoder width
    critic_layers: int = 2
    attention_heads: int = 4
    baseline_coef: float = 0.5
    activation: str = "relu"
    learning_rate: float = 3e-4
    anneal_lr: bool = False
    normalize_obs: bool = False

    @property
    def share_params(self) -> bool:
        """The actor is always shared by the team in MA-POCA."""
        return True


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


class POCA(IPPO):
    """IPPO's actor and sampling, with MA-POCA's critic and credit assignment."""

    config_class = POCAConfig

    def __init__(
        self,
        env: MultiAgentEnv,
        cfg: Mapping[str, Any],
        selfplay_cfg: selfplay.SelfPlayConfig,
        total_env_steps: int,
    ) -> None:
        super().__init__(env, cfg, selfplay_cfg, total_env_steps)
        c = self.cfg
        self.critic = POCACritic(c.critic_hidden, c.critic_layers, c.attention_heads, c.activation)

    def init(self, key: jax.Array) -> IPPOState:
        k_actor, k_critic, k_env, k_run = jax.random.split(key, 4)
        n = self.team_size
        obs = jnp.zeros((1, n, *self.env.spec.obs_shape))
        act = action_features(self.space, jnp.zeros((1, n, *self.space.shape), jnp.int32))
        mask = jnp.ones((1, n), bool)
        params = {
            "actor": self.actor.init(k_actor, obs[:, 0]),
            "critic": self.critic.init(k_critic, obs, act, mask),
        }
        return self._initial_state(params, k_env, k_run)

    def _team_value(self, critic: Any, obs: jax.Array, mask: jax.Array) -> jax.Array:
        return self.critic.apply(critic, obs, mask, method=POCACritic.value)

    def _value_and_baseline(
        self, critic: Any, obs: jax.Array, action: jax.Array, mask: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        feats = action_features(self.space, action)
        return self.critic.apply(critic, obs, feats, mask, method=POCACritic.value_and_baseline)

    def update(self, state: IPPOState) -> tuple[IPPOState, dict[str, jax.Array]]:
        cfg = self.cfg
        key, k_roll, k_swap, k_epochs = jax.random.split(state.key, 4)
        sp, params, obs_norm = state.selfplay, state.params, state.obs_norm
        policy = {"actor": params["actor"], "obs_norm": obs_norm}

        def learner_act(obs: jax.Array, k: jax.Array, episode_id: jax.Array):
            del episode_id
            action, log_prob = self._team_sample(policy, obs, k)
            return env_action(self.space, action), action, log_prob

        def value_fn(obs: jax.Array, active: jax.Array) -> jax.Array:
            """Team value of time-out observations, broadcast to the members."""
            value = self._team_value(params["critic"], obs_norm(obs), active)
            return jnp.broadcast_to(value[:, None], active.shape)

        runner, steps, episodes, sp = self._play(state, k_roll, learner_act, value_fn)

        # Team-level lambda-returns from the centralised value.
        obs = obs_norm(steps.obs)  # [T, E, n, D]
        active = steps.active
        # [T, E] and [T, E, n]
        value, baseline = self._value_and_baseline(params["critic"], obs, steps.action, active)
        team_reward = (
            jnp.sum(jnp.where(active, steps.reward, 0.0), axis=-1)
            + steps.group_reward[..., 0]
            + cfg.gamma * steps.bootstrap[..., 0]
        )
        learners = jnp.asarray(rollout.team_table(self.env.spec))[sp.learning_team]
        last_value = self._team_value(
            params["critic"], obs_norm(runner.obs[:, learners]), runner.active[:, learners]
        )
        returns, advantage = counterfactual_advantages(
            team_reward, value, steps.team_done, last_value, baseline, cfg.gamma, cfg.gae_lambda
        )
        if cfg.normalize_advantages:
            advantage = standardise(advantage, active)

        flat = jax.tree.map(
            lambda x: x.reshape(-1, *x.shape[2:]),
            {
                "obs": steps.obs,
                "action": steps.action,
                "log_prob": steps.extras,
                "active": active,
                "value": value,
                "baseline": baseline,
                "returns": returns,
                "advantage": advantage,
            },
        )

        def loss_fn(p: Any, mb: dict[str, jax.Array]):
            obs, active = obs_norm(mb["obs"]), mb["active"]
            new_log_prob, entropy = self._evaluate(p["actor"], obs, mb["action"])
            pg_loss, clip_frac = clipped_surrogate(
                new_log_prob, mb["log_prob"], mb["advantage"], cfg.clip_eps, active
            )
            new_value, new_baseline = self._value_and_baseline(
                p["critic"], obs, mb["action"], active
            )
            v_loss = clipped_value_loss(new_value, mb["value"], mb["returns"], cfg.clip_eps)
            b_loss = clipped_value_loss(
                new_baseline, mb["baseline"], mb["returns"][..., None], cfg.clip_eps, active
            )
            entropy = masked_mean(entropy, active)
            loss = (
                pg_loss
                + cfg.vf_coef * (v_loss + cfg.baseline_coef * b_loss)
                - cfg.ent_coef * entropy
            )
            return loss, {
                "policy_loss": pg_loss,
                "value_loss": v_loss,
                "baseline_loss": b_loss,
                "entropy": entropy,
                "clip_frac": clip_frac,
            }

        return self._learn(
            state,
            key,
            k_epochs,
            k_swap,
            sp,
            runner,
            steps,
            episodes,
            flat,
            loss_fn,
            {"value_target": returns.mean()},
        )
