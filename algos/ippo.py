"""Independent PPO: every learning agent runs PPO on its own observation and reward.

Rewards are each agent's individual reward plus its team's group reward (IPPO has no
centralised critic to use the group signal otherwise). An agent that leaves the game early
ends its own trajectory there (no credit for the team's later reward: that is what
MA-POCA adds); its steps until the episode ends are masked out. Parameters are shared by the agents
of a team by default; with ``share_params: false`` each team slot has its own actor and
critic (a leading agent axis on the params). The ghost team plays a snapshot of the actor
with that snapshot's own observation statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from algos import rollout, selfplay
from algos.base import Learner
from algos.networks import Actor, Critic, ObsNorm, env_action
from algos.ppo import (
    PPOConfig,
    clipped_surrogate,
    clipped_value_loss,
    gae,
    masked_mean,
    minibatch_epochs,
    standardise,
)
from algos.ppo import optimizer as ppo_optimizer
from envs.base import MultiAgentEnv


@dataclass(frozen=True)
class IPPOConfig(PPOConfig):
    num_envs: int = 64  # parallel envs
    rollout_len: int = 160  # decisions per env per update (num_envs x rollout_len env steps)
    hidden: tuple[int, ...] = (128, 128)  # ML-Agents: 512 x 2; 128 x 2 fits 2 CPU cores
    activation: str = "relu"
    learning_rate: float = 3e-4
    anneal_lr: bool = False  # linear decay to 0 over the run (ML-Agents' "linear" schedule)
    share_params: bool = True  # one actor/critic for all agents of the learning team
    normalize_obs: bool = False


@struct.dataclass
class IPPOState:
    params: Any  # {"actor": ..., "critic": ...}: what the optimiser trains
    obs_norm: ObsNorm
    opt_state: optax.OptState
    runner: rollout.EnvRunner
    selfplay: selfplay.SelfPlayState
    key: jax.Array
    updates: jax.Array


def over_agents(fn: Callable, params: Any, shared: bool, *xs: jax.Array) -> Any:
    """``fn(params, *xs)`` on ``[B, n, ...]`` arrays; unshared params lead with an n axis."""
    if shared:
        return fn(params, *xs)
    return jax.vmap(fn, in_axes=(0,) + (1,) * len(xs), out_axes=1)(params, *xs)


class IPPO(Learner):
    """PPO per agent against the self-play ghost; see the module docstring."""

    config_class = IPPOConfig

    def __init__(
        self,
        env: MultiAgentEnv,
        cfg: Mapping[str, Any],
        selfplay_cfg: selfplay.SelfPlayConfig,
        total_env_steps: int,
    ) -> None:
        super().__init__(env, cfg, selfplay_cfg, total_env_steps)
        mirror = None
        if self.cfg.mirror_symmetric:
            if env.spec.mirror is None:
                raise ValueError(
                    f"mirror_symmetric: {env.spec.name} declares no mirror symmetry "
                    "(EnvSpec.mirror); set algo.mirror_symmetric=false"
                )
            mirror = env.spec.mirror
        self.actor = Actor(self.space, self.cfg.hidden, self.cfg.activation, mirror)
        self.critic = Critic(self.cfg.hidden, self.cfg.activation)
        self.env_steps_per_update = self.cfg.num_envs * self.cfg.rollout_len
        batch = self.env_steps_per_update
        if batch % self.cfg.num_minibatches:
            raise ValueError(
                f"num_envs x rollout_len = {batch} must divide into num_minibatches = "
                f"{self.cfg.num_minibatches}"
            )
        lr: float | optax.Schedule = self.cfg.learning_rate
        if self.cfg.anneal_lr:
            updates = -(-total_env_steps // self.env_steps_per_update)
            steps = max(updates, 1) * self.cfg.num_epochs * self.cfg.num_minibatches
            lr = optax.linear_schedule(self.cfg.learning_rate, 0.0, steps)
        self.tx = ppo_optimizer(lr, self.cfg.max_grad_norm)

    # -- networks -------------------------------------------------------------------------
    def _sample(self, actor: Any, obs: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        dist = self.actor.apply(actor, obs)
        action = dist.sample(seed=key)
        return action, dist.log_prob(action)

    def _evaluate(
        self, actor: Any, obs: jax.Array, action: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        dist = self.actor.apply(actor, obs)
        return dist.log_prob(action), dist.entropy()

    def _value(self, critic: Any, obs: jax.Array) -> jax.Array:
        return self.critic.apply(critic, obs)

    def _team_sample(self, policy: Any, obs: jax.Array, key: jax.Array):
        """Sample for ``obs [B, n, ...]`` with deployable params ``{actor, obs_norm}``."""
        obs = policy["obs_norm"](obs)
        if self.cfg.share_params:
            return self._sample(policy["actor"], obs, key)
        keys = jax.random.split(key, self.team_size)
        return jax.vmap(self._sample, in_axes=(0, 1, 0), out_axes=1)(policy["actor"], obs, keys)

    # -- Learner interface ----------------------------------------------------------------
    def init(self, key: jax.Array) -> IPPOState:
        k_params, k_env, k_run = jax.random.split(key, 3)
        obs = jnp.zeros((1, *self.env.spec.obs_shape))
        n = 1 if self.cfg.share_params else self.team_size

        def init_one(k: jax.Array) -> dict[str, Any]:
            ka, kc = jax.random.split(k)
            return {"actor": self.actor.init(ka, obs), "critic": self.critic.init(kc, obs)}

        params = jax.vmap(init_one)(jax.random.split(k_params, n))
        if self.cfg.share_params:
            params = jax.tree.map(lambda p: p[0], params)
        return self._initial_state(params, k_env, k_run)

    def _initial_state(self, params: Any, k_env: jax.Array, k_run: jax.Array) -> IPPOState:
        """Fresh optimiser, envs and self-play pool around freshly initialised params."""
        obs_norm = ObsNorm.create(self.env.spec.obs_shape, self.cfg.normalize_obs)
        return IPPOState(
            params=params,
            obs_norm=obs_norm,
            opt_state=self.tx.init(params),
            runner=rollout.init_runner(self.env, k_env, self.cfg.num_envs),
            selfplay=selfplay.init(
                {"actor": params["actor"], "obs_norm": obs_norm}, self.selfplay_cfg
            ),
            key=k_run,
            updates=jnp.zeros((), jnp.int32),
        )

    def policy_params(self, state: IPPOState) -> dict[str, Any]:
        return {"actor": state.params["actor"], "obs_norm": state.obs_norm}

    def act(self, params: Any, obs: jax.Array, key: jax.Array) -> jax.Array:
        action, _ = self._team_sample(params, obs[None], key)
        return env_action(self.space, action[0])

    # -- shared by every update of the PPO family ------------------------------------------
    def _play(
        self,
        state: IPPOState,
        key: jax.Array,
        learner_act: rollout.LearnerAct,
        value_fn: rollout.ValueFn,
    ) -> tuple[rollout.EnvRunner, rollout.Step, rollout.Episodes, selfplay.SelfPlayState]:
        """Roll out against the ghost and score the finished games into ELO."""

        def network_act(ghost: Any, obs: jax.Array, k: jax.Array, episode_id: jax.Array):
            del episode_id  # a PPO policy keeps no per-episode choice
            return env_action(self.space, self._team_sample(ghost, obs, k)[0])

        return selfplay.play(
            self.env,
            state.runner,
            state.selfplay,
            key,
            self.cfg.rollout_len,
            self.selfplay_cfg,
            learner_act,
            network_act,
            self.scripted_ghosts,
            value_fn,
        )

    def _learn(
        self,
        state: IPPOState,
        key: jax.Array,
        k_epochs: jax.Array,
        k_swap: jax.Array,
        sp: selfplay.SelfPlayState,
        runner: rollout.EnvRunner,
        steps: rollout.Step,
        episodes: rollout.Episodes,
        batch: dict[str, jax.Array],
        loss_fn: Callable,
        extra_metrics: dict[str, jax.Array],
    ) -> tuple[IPPOState, dict[str, jax.Array]]:
        """Minibatch epochs on ``batch``, then self-play advance, new state and metrics."""
        params, opt_state, metrics = minibatch_epochs(
            k_epochs,
            state.params,
            state.opt_state,
            batch,
            loss_fn,
            self.tx,
            self.cfg.num_epochs,
            self.cfg.num_minibatches,
        )
        obs_norm = state.obs_norm.update(steps.obs)
        agent_steps = jnp.asarray(self.env_steps_per_update * self.team_size, jnp.int32)
        sp = selfplay.advance(
            sp,
            {"actor": params["actor"], "obs_norm": obs_norm},
            k_swap,
            agent_steps,
            agent_steps,
            self.selfplay_cfg,
        )
        metrics = {
            **metrics,
            **extra_metrics,
            **selfplay.metrics(sp, episodes),
        }
        state = state.replace(
            params=params,
            obs_norm=obs_norm,
            opt_state=opt_state,
            runner=runner,
            selfplay=sp,
            key=key,
            updates=state.updates + 1,
        )
        return state, metrics

    def update(self, state: IPPOState) -> tuple[IPPOState, dict[str, jax.Array]]:
        cfg, shared = self.cfg, self.cfg.share_params
        key, k_roll, k_swap, k_epochs = jax.random.split(state.key, 4)
        sp, params, obs_norm = state.selfplay, state.params, state.obs_norm
        policy = {"actor": params["actor"], "obs_norm": obs_norm}

        def learner_act(obs: jax.Array, k: jax.Array, episode_id: jax.Array):
            del episode_id
            action, log_prob = self._team_sample(policy, obs, k)
            value = over_agents(self._value, params["critic"], shared, obs_norm(obs))
            return env_action(self.space, action), action, (log_prob, value)

        def value_fn(obs: jax.Array, active: jax.Array) -> jax.Array:  # all agents count
            return over_agents(self._value, params["critic"], shared, obs_norm(obs))

        runner, steps, episodes, sp = self._play(state, k_roll, learner_act, value_fn)

        log_prob, value = steps.extras
        reward = steps.reward + steps.group_reward + cfg.gamma * steps.bootstrap
        learners = jnp.asarray(rollout.team_table(self.env.spec))[sp.learning_team]
        last_value = value_fn(runner.obs[:, learners], runner.active[:, learners])
        advantage, target = gae(reward, value, steps.done, last_value, cfg.gamma, cfg.gae_lambda)
        if cfg.normalize_advantages:
            advantage = standardise(advantage, steps.active)
        flat = jax.tree.map(
            lambda x: x.reshape(-1, *x.shape[2:]),
            {
                "obs": steps.obs,
                "action": steps.action,
                "log_prob": log_prob,
                "value": value,
                "advantage": advantage,
                "target": target,
                "active": steps.active,
            },
        )

        def loss_fn(p: Any, mb: dict[str, jax.Array]):
            obs = obs_norm(mb["obs"])
            new_log_prob, entropy = over_agents(
                self._evaluate, p["actor"], shared, obs, mb["action"]
            )
            new_value = over_agents(self._value, p["critic"], shared, obs)
            active = mb["active"]
            pg_loss, clip_frac = clipped_surrogate(
                new_log_prob, mb["log_prob"], mb["advantage"], cfg.clip_eps, active
            )
            v_loss = clipped_value_loss(new_value, mb["value"], mb["target"], cfg.clip_eps, active)
            entropy = masked_mean(entropy, active)
            loss = pg_loss + cfg.vf_coef * v_loss - cfg.ent_coef * entropy
            return loss, {
                "policy_loss": pg_loss,
                "value_loss": v_loss,
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
            {"value_target": target.mean()},
        )
