"""The PPO family: one base learner that IPPO and MA-POCA specialise with their critic.

The base owns the actor (shared by the team or one per slot; optionally mirror-symmetric),
the optimiser, sampling and the minibatch epochs; its trainer (``algos.trainer``) plays the
rollouts. A sibling supplies five hooks:

- ``init_params(*keys)``: actor and critic parameters (``init_keys`` keys);
- ``acting_value(critic, obs)`` and ``bootstrap_value(critic, obs, active)``: what the
  critic computes while acting (stored with the step) and for the last observation of a
  time-out;
- ``critic_targets(critic, obs_norm, steps, last_obs, last_active)``: the advantages and the
  critic's training targets from a rollout;
- ``critic_loss(critic, obs, minibatch, clip_eps)``: the critic's weighted term of the loss.

Losses follow ML-Agents (``ppo/optimizer_torch.py``): the clipped surrogate with one ratio
per discrete branch or continuous dimension, averaged (``ModelUtils.trust_region_policy_loss``
on ``ActionLogProbs.flatten()``; ``ratio="joint"`` clips one ratio of the summed
log-probabilities instead, which makes the policy gradient of k branches about k times
stronger against the same entropy weight), clipped value loss
``max((R - v)^2, (R - clip(v, v_old +- eps))^2)``, and
``policy + critic term - ent_coef * entropy``. Advantages are standardised over the whole
update buffer, as ML-Agents does, not per minibatch.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from algos import rollout
from algos.learner import Acting, ActorArrays, Learner, Rollout, Seating
from algos.networks import CONTINUOUS_ACTIONS, Actor, ObsNorm, env_action
from algos.optim import optimizer
from envs.base import MultiAgentEnv, MultiDiscrete

RATIOS = ("per_action", "joint")
BETA_FLOOR, EPSILON_FLOOR = 1e-5, 0.1  # where ML-Agents' linear schedules end (DecayedValue)


@dataclass(frozen=True)
class PPOConfig:
    """What every PPO-family learner is configured by (``conf/algo/<name>.yaml``)."""

    num_envs: int  # parallel envs
    rollout_len: int  # decisions per env per update (num_envs x rollout_len env steps)
    hidden: tuple[int, ...]  # actor (and IPPO's critic); ML-Agents: 512 x 2
    activation: str
    learning_rate: float
    anneal_lr: bool  # linear decay to 0 over the run (ML-Agents' "linear" schedule)
    # ML-Agents' beta_schedule / epsilon_schedule "linear": decay over the run to its floors
    # (BETA_FLOOR, EPSILON_FLOOR); ML-Agents' defaults follow learning_rate_schedule.
    anneal_ent_coef: bool
    anneal_clip_eps: bool
    normalize_obs: bool
    gamma: float
    gae_lambda: float
    clip_eps: float
    vf_coef: float
    ent_coef: float  # ML-Agents' beta (with the per-action ratio)
    ratio: str  # ML-Agents: one clipped ratio per branch/dimension; or "joint"
    continuous_actions: str  # env gets clamp(a, -3, 3) / 3; "clip": a to the box
    num_epochs: int
    num_minibatches: int
    max_grad_norm: float | None  # None: no clipping (ML-Agents clips nothing)
    normalize_advantages: bool
    # Standardised advantages are divided by max(std, floor): a batch in which no game was
    # decided (all rewards zero) holds only value noise, which division by its own tiny std
    # would turn into unit-sized steps in random directions. 0: ML-Agents' (std + 1e-10).
    advantage_std_floor: float
    mirror_symmetric: bool  # actor equivariant to the env's reflection (EnvSpec.mirror)


@struct.dataclass
class PPOState:
    params: Any  # {"actor": ..., "critic": ...}: what the optimiser trains
    obs_norm: ObsNorm
    opt_state: optax.OptState
    updates: jax.Array


@struct.dataclass
class PPOBatch:
    """A rollout as the minibatch epochs see it: ``[T, E, n, ...]`` before flattening, one
    leading sample axis after."""

    obs: jax.Array
    action: jax.Array  # what the actor sampled
    log_prob: jax.Array  # under the acting policy, per branch / action dimension [..., C]
    active: jax.Array  # bool: the agent was in the game (masked out of every loss if not)
    advantage: jax.Array
    critic: Any  # the critic's targets, a pytree of the sibling's (``critic_targets``)


def over_agents(fn: Callable, params: Any, shared: bool, *xs: jax.Array) -> Any:
    """``fn(params, *xs)`` on ``[B, n, ...]`` arrays; unshared params lead with an n axis.

    Shared params see one flat ``[B * n, ...]`` batch: XLA on CPU runs the dense layers'
    gradients of a 3-D batch as transposes and strided products, and the flat batch made
    IPPO's learning phase 1.6x faster (``experiments.bench.vs_jaxmarl``).
    """
    if shared:
        b, n = xs[0].shape[:2]
        out = fn(params, *(x.reshape(b * n, *x.shape[2:]) for x in xs))
        return jax.tree.map(lambda y: y.reshape(b, n, *y.shape[1:]), out)
    return jax.vmap(fn, in_axes=(0,) + (1,) * len(xs), out_axes=1)(params, *xs)


class PPO(Learner):
    """The PPO family's base; see the module docstring for the hooks a sibling supplies."""

    config_class = PPOConfig
    mlagents_trainer = "ppo"

    def __init__(
        self,
        env: MultiAgentEnv,
        cfg: Mapping[str, Any],
        seating: Seating,
        total_env_steps: int,
        behaviour: int = 0,
    ) -> None:
        super().__init__(env, cfg, seating, total_env_steps, behaviour)
        if self.cfg.ratio not in RATIOS:
            raise ValueError(f"unknown ratio {self.cfg.ratio!r}; valid: {', '.join(RATIOS)}")
        if self.cfg.continuous_actions not in CONTINUOUS_ACTIONS:
            raise ValueError(
                f"unknown continuous_actions {self.cfg.continuous_actions!r}; "
                f"valid: {', '.join(CONTINUOUS_ACTIONS)}"
            )
        mirror = None
        if self.cfg.mirror_symmetric:
            if self.behaviour.mirror is None:
                raise ValueError(
                    f"mirror_symmetric: {env.spec.name} ({self.behaviour.name}) declares no "
                    "mirror symmetry (EnvSpec.mirror); set algo.mirror_symmetric=false"
                )
            mirror = self.behaviour.mirror
        self.actor = Actor(self.space, self.cfg.hidden, self.cfg.activation, mirror)
        batch = self.env_steps_per_update
        if batch % self.cfg.num_minibatches:
            raise ValueError(
                f"num_envs x rollout_len = {batch} must divide into num_minibatches = "
                f"{self.cfg.num_minibatches}"
            )
        self.total_updates = max(-(-total_env_steps // self.env_steps_per_update), 1)
        lr: float | optax.Schedule = self.cfg.learning_rate
        if self.cfg.anneal_lr:
            steps = self.total_updates * self.cfg.num_epochs * self.cfg.num_minibatches
            lr = optax.linear_schedule(self.cfg.learning_rate, 0.0, steps)
        self.tx = optimizer(lr, self.cfg.max_grad_norm)

    @property
    def shared_actor(self) -> bool:
        """One actor for the whole team (else one per team slot, with a leading n axis)."""
        return True

    # -- hooks ------------------------------------------------------------------------------
    @abc.abstractmethod
    def init_params(self, *keys: jax.Array) -> dict[str, Any]:
        """``{"actor": ..., "critic": ...}`` from ``init_keys`` keys."""

    @abc.abstractmethod
    def acting_value(self, critic: Any, obs: jax.Array) -> Any:
        """What the critic stores with each step while acting (``obs [E, n, ...]``,
        normalised); ``None`` for a critic that values the rollout afterwards."""

    @abc.abstractmethod
    def bootstrap_value(self, critic: Any, obs: jax.Array, active: jax.Array) -> jax.Array:
        """``[E, n]`` values of normalised final observations of time-outs."""

    @abc.abstractmethod
    def critic_targets(
        self,
        critic: Any,
        obs_norm: ObsNorm,
        steps: rollout.Step,
        last_obs: jax.Array,
        last_active: jax.Array,
    ) -> tuple[jax.Array, Any, dict[str, jax.Array]]:
        """``(advantage [T, E, n], critic targets, metrics)`` of a rollout; ``last_obs`` is
        the learning team's observation after its last step."""

    @abc.abstractmethod
    def critic_loss(
        self, critic: Any, obs: jax.Array, mb: PPOBatch, clip_eps: float | jax.Array
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The critic's weighted term of the loss and its metrics (``obs`` normalised), its
        values clipped to ``clip_eps`` of the stored ones (ML-Agents' decayed epsilon)."""

    def coefficients(self, updates: jax.Array) -> tuple[float | jax.Array, float | jax.Array]:
        """``(ent_coef, clip_eps)`` for the update after ``updates`` updates: the configured
        values, or with ``anneal_*`` ML-Agents' linear decay (``PolynomialDecay``, power 1)
        from them to ``BETA_FLOOR`` / ``EPSILON_FLOOR`` over the run's updates."""
        cfg = self.cfg
        left = 1.0 - jnp.minimum(updates / self.total_updates, 1.0)
        ent_coef = (
            BETA_FLOOR + (cfg.ent_coef - BETA_FLOOR) * left if cfg.anneal_ent_coef else cfg.ent_coef
        )
        clip_eps = (
            EPSILON_FLOOR + (cfg.clip_eps - EPSILON_FLOOR) * left
            if cfg.anneal_clip_eps
            else cfg.clip_eps
        )
        return ent_coef, clip_eps

    # -- sampling ---------------------------------------------------------------------------
    def _env_action(self, action: jax.Array) -> jax.Array:
        return env_action(self.space, action, self.cfg.continuous_actions)

    def _sample(self, actor: Any, obs: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """An action and its log-probability per branch / dimension ``[..., C]``."""
        dist = self.actor.apply(actor, obs)
        action = dist.sample(key)
        return action, dist.branch_log_prob(action)

    def _evaluate(
        self, actor: Any, obs: jax.Array, action: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        dist = self.actor.apply(actor, obs)
        return dist.branch_log_prob(action), dist.entropy()

    def _team_sample(self, policy: Any, obs: jax.Array, key: jax.Array):
        """Sample for ``obs [B, n, ...]`` with deployable params ``{actor, obs_norm}``."""
        obs = policy["obs_norm"](obs)
        if self.shared_actor:
            return self._sample(policy["actor"], obs, key)
        keys = jax.random.split(key, self.team_size)
        return jax.vmap(self._sample, in_axes=(0, 1, 0), out_axes=1)(policy["actor"], obs, keys)

    # -- Learner interface ------------------------------------------------------------------
    def init(self, *keys: jax.Array) -> PPOState:
        params = self.init_params(*keys)
        return PPOState(
            params=params,
            obs_norm=ObsNorm.create(self.obs_shape, self.cfg.normalize_obs),
            opt_state=self.tx.init(params),
            updates=jnp.zeros((), jnp.int32),
        )

    def policy_params(self, state: PPOState) -> dict[str, Any]:
        return {"actor": state.params["actor"], "obs_norm": state.obs_norm}

    def act(self, params: Any, obs: jax.Array, key: jax.Array) -> jax.Array:
        action, _ = self._team_sample(params, obs[None], key)
        return self._env_action(action[0])

    def snapshot_act(
        self, context: Any, params: Any, obs: jax.Array, key: jax.Array, episode_id: jax.Array
    ) -> jax.Array:
        del context, episode_id  # a PPO policy keeps no per-episode choice
        return self._env_action(self._team_sample(params, obs, key)[0])

    def acting(self, state: PPOState) -> Acting:
        params, obs_norm = state.params, state.obs_norm
        policy = self.policy_params(state)

        def learner_act(obs: jax.Array, k: jax.Array, episode_id: jax.Array):
            del episode_id  # a PPO policy keeps no per-episode choice
            action, log_prob = self._team_sample(policy, obs, k)
            value = self.acting_value(params["critic"], obs_norm(obs))
            return self._env_action(action), action, (log_prob, value)

        def value_fn(obs: jax.Array, active: jax.Array) -> jax.Array:
            return self.bootstrap_value(params["critic"], obs_norm(obs), active)

        return Acting(learner_act, value_fn)

    def learn(
        self, state: PPOState, batch: Rollout, key: jax.Array
    ) -> tuple[PPOState, dict[str, jax.Array]]:
        cfg, steps = self.cfg, batch.steps
        params, obs_norm = state.params, state.obs_norm
        advantage, targets, critic_metrics = self.critic_targets(
            params["critic"], obs_norm, steps, batch.last_obs, batch.last_active
        )
        advantage_std = jnp.sqrt(masked_variance(advantage, steps.active))
        if cfg.normalize_advantages:
            advantage = standardise(advantage, steps.active, cfg.advantage_std_floor)
        samples = PPOBatch(
            obs=steps.obs,
            action=steps.action,
            log_prob=steps.extras[0],
            active=steps.active,
            advantage=advantage,
            critic=targets,
        )
        samples = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), samples)
        ent_coef, clip_eps = self.coefficients(state.updates)

        def loss_fn(p: Any, mb: PPOBatch):
            obs = obs_norm(mb.obs)
            new_log_prob, entropy = over_agents(
                self._evaluate, p["actor"], self.shared_actor, obs, mb.action
            )
            old_log_prob = mb.log_prob
            if cfg.ratio == "joint":
                new_log_prob, old_log_prob = new_log_prob.sum(-1), old_log_prob.sum(-1)
            pg_loss, clip_frac = clipped_surrogate(
                new_log_prob, old_log_prob, mb.advantage, clip_eps, mb.active
            )
            critic_term, metrics = self.critic_loss(p["critic"], obs, mb, clip_eps)
            entropy = masked_mean(entropy, mb.active)
            loss = pg_loss + critic_term - ent_coef * entropy
            return loss, {
                "policy_loss": pg_loss,
                **metrics,
                "entropy": entropy,
                "clip_frac": clip_frac,
            }

        new_params, opt_state, metrics = minibatch_epochs(
            key,
            params,
            state.opt_state,
            samples,
            loss_fn,
            self.tx,
            cfg.num_epochs,
            cfg.num_minibatches,
        )
        metrics = {
            **metrics,
            **critic_metrics,
            "advantage_std": advantage_std,  # before standardising: the batch's signal scale
        }
        state = state.replace(
            params=new_params,
            obs_norm=obs_norm.update(steps.obs),
            opt_state=opt_state,
            updates=state.updates + 1,
        )
        return state, metrics

    # -- export -----------------------------------------------------------------------------
    def _member_actor(self, params: Any, agent: int) -> Any:
        actor = params["actor"]
        if self.shared_actor:
            return actor
        if not 0 <= agent < self.team_size:
            raise ValueError(f"--agent {agent}: the team has {self.team_size} actors")
        return jax.tree.map(lambda p: p[agent], actor)

    def actor_arrays(self, params: Any, agent: int = 0, sub_policy: int = 0) -> ActorArrays:
        del sub_policy  # one policy per member
        actor = self._member_actor(params, agent)
        return self.actor.arrays(actor, params["obs_norm"], self.cfg.continuous_actions)

    def actor_outputs(
        self, params: Any, obs: np.ndarray, agent: int = 0, sub_policy: int = 0
    ) -> np.ndarray:
        del sub_policy
        dist = self.actor.apply(self._member_actor(params, agent), params["obs_norm"](obs))
        if isinstance(self.space, MultiDiscrete):
            return np.asarray(dist.logits)
        return np.asarray(self._env_action(dist.mean()))


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


def masked_variance(x: jax.Array, mask: Mask = None) -> jax.Array:
    return masked_mean((x - masked_mean(x, mask)) ** 2, mask)


def standardise(x: jax.Array, mask: Mask = None, std_floor: float = 0.0) -> jax.Array:
    """Zero mean and unit std, or less than unit std where the std is below ``std_floor``."""
    std = jnp.sqrt(masked_variance(x, mask))
    return (x - masked_mean(x, mask)) / (jnp.maximum(std, std_floor) + 1e-8)


def clipped_surrogate(
    log_prob: jax.Array,
    old_log_prob: jax.Array,
    advantage: jax.Array,
    clip_eps: float,
    mask: Mask = None,
) -> tuple[jax.Array, jax.Array]:
    """PPO's pessimistic policy loss and the fraction of ratios that were clipped.

    ``log_prob`` may have one trailing axis more than ``advantage`` (a ratio per branch or
    action dimension, ML-Agents' form): each is clipped against the sample's advantage and
    the loss is their mean.
    """
    if log_prob.ndim == advantage.ndim + 1:
        advantage = advantage[..., None]
        mask = None if mask is None else mask[..., None]
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
