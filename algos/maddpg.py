"""MADDPG (Lowe et al. 2017) with policy ensembles, under the shared ghost self-play.

- Each learning-team slot ``i`` has ``K`` deterministic sub-policies ``mu_i^(k)`` and one
  centralised critic ``Q_i(o_1..o_N, a_1..a_N)`` over *every* agent in the game: its team's
  and the ghost team's (the rollout records the ghost's observations and actions). Actors and
  critics have Polyak-averaged targets.
- Critic target: ``r_i + gamma (1 - d_i) Q'_i(o', mu'(o'_learners), a'_ghost)``. The replay
  samples consecutive pairs of steps, so ``a'_ghost`` is the ghost's *actual* next action
  (the ghost is not ours to query later). A pair that ends in a time-out, or that spans a
  change of learning team, is left out of the loss rather than bootstrapped wrongly.
- Actor loss for sub-policy ``k`` of agent ``i``: ``-Q_i(o, a_1 .. mu_i^(k)(o_i) .. a_N)`` with
  the other agents' actions from the replay, plus the reference's ``1e-3 * mean(pre-act^2)``.
- Continuous actions: ``tanh`` actors, Gaussian exploration noise. Discrete branches
  (SoccerTwos): straight-through Gumbel-Softmax per branch, one-hot forward and soft backward;
  the critic sees one-hot actions.
- ``critic: local`` is the paper's DDPG baseline: the same learner, but ``Q_i(o_i, a_i)`` sees
  only its own agent's observation and action (``_critic_view``), as ``local_q_func`` does in
  the reference (openai/maddpg's ``--good-policy ddpg`` / ``--adv-policy ddpg``).
- Ensembles (paper section 4.3): a sub-policy is drawn uniformly per agent per episode (a hash
  of the env's episode id, so no extra rollout state), every stored step carries its tag, and
  sub-policy ``k`` learns only from steps its own episodes produced. The ``K`` replay buffers
  ``D_i^(k)`` live in one flashbax trajectory buffer keyed by that tag: a batch of
  ``K * batch_size`` drawn uniformly from the union holds, for each ``k``, a uniform sample of
  ``D_i^(k)`` of expected size ``batch_size`` (what separate buffers would give, without
  ``K`` copies of the observations). Each agent's critic learns from the union, as the
  paper's ensemble objective uses one ``Q_i`` per agent.
- The deployable policy (``act``) draws a sub-policy per call: outside a rollout there is no
  episode id to hold it fixed. The ghost, inside the rollout, keeps it per episode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import flashbax as fbx
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from algos import rollout
from algos.learner import Acting, ActorArrays, Learner, Rollout, Seating
from algos.networks import MLP, ObsNorm, action_features, dense_stack, init_each
from algos.optim import optimizer
from envs.base import Box, MultiAgentEnv, MultiDiscrete


@dataclass(frozen=True)
class MADDPGConfig:
    num_envs: int  # parallel envs
    rollout_len: int  # decisions per env between learning phases
    grad_steps: int  # gradient steps per learning phase
    ensemble_size: int  # K sub-policies per agent (1: plain MADDPG)
    buffer_size: int  # env steps kept (all envs together)
    batch_size: int  # samples per sub-policy per gradient step
    learning_starts: int  # env steps stored before the first gradient step
    actor_lr: float
    critic_lr: float
    gamma: float
    tau: float  # Polyak factor of the target networks
    hidden: tuple[int, ...]  # actor
    critic_hidden: tuple[int, ...]
    activation: str
    noise_std: float  # Gaussian exploration noise on continuous actions
    gumbel_temperature: float
    max_grad_norm: float | None  # the reference clips the gradient norm at 0.5
    grad_clip: str  # as the reference; "per_network", or "global" (all nets)
    reward_scale: float  # rewards are multiplied by this before learning
    logit_reg: float  # weight of mean(pre-activation^2) in the actor loss
    normalize_obs: bool
    critic: str  # "central": Q_i over every agent (MADDPG); "local": own only (DDPG)

    def __post_init__(self) -> None:
        if self.critic not in CRITICS:
            raise ValueError(f"unknown critic {self.critic!r}; valid: {', '.join(CRITICS)}")


CRITICS = ("central", "local")


@struct.dataclass
class Nets:
    """What gradient steps change (kept apart from the replay, which they only read)."""

    actor: Any  # [n, K, ...] sub-policy params per learning slot
    critic: Any  # [n, ...]
    target_actor: Any
    target_critic: Any
    actor_opt: optax.OptState
    critic_opt: optax.OptState


@struct.dataclass
class MADDPGState:
    nets: Nets
    obs_norm: ObsNorm
    buffer: Any  # flashbax trajectory buffer state (time axis per env stream)
    ensemble_key: jax.Array  # fixed: hashes episode ids into sub-policy draws
    updates: jax.Array


class DeterministicActor(nn.Module):
    """Observation -> pre-activation: ``tanh`` of it for a box, branch logits for discrete."""

    out_size: int
    hidden: tuple[int, ...]
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = MLP(self.hidden, self.activation)(obs)
        return nn.Dense(self.out_size, kernel_init=nn.initializers.orthogonal(0.01))(x)


class CentralCritic(nn.Module):
    """``Q_i`` from the agents' observation and action features it is given, flattened and
    joined: every agent's (MADDPG), or only its own (DDPG; ``MADDPG._critic_view``).

    ``obs`` and ``act_feat`` are ``(learning team [..., n, .], ghost team [..., m, .])``
    pairs: the teams may observe and act in different spaces (an asymmetric game).
    """

    hidden: tuple[int, ...]
    activation: str = "relu"

    @nn.compact
    def __call__(
        self, obs: tuple[jax.Array, jax.Array], act_feat: tuple[jax.Array, jax.Array]
    ) -> jax.Array:
        def joined(pair: tuple[jax.Array, jax.Array]) -> jax.Array:
            return jnp.concatenate([x.reshape(*x.shape[:-2], -1) for x in pair], -1)

        # Observations and actions enter the first layer apart: the actor loss needs the
        # gradient for the actions only (a few columns beside thousands of observation floats).
        x = MLP(self.hidden, self.activation)((joined(obs), joined(act_feat)))
        return nn.Dense(1)(x)[..., 0]


def gumbel_softmax(
    key: jax.Array, logits: jax.Array, temperature: float, hard: bool = True
) -> jax.Array:
    """A Gumbel-Softmax sample over the last axis; ``hard``: one-hot forward, soft gradient."""
    gumbel = jax.random.gumbel(key, logits.shape)
    soft = jax.nn.softmax((logits + gumbel) / temperature, axis=-1)
    if not hard:
        return soft
    one_hot = jax.nn.one_hot(jnp.argmax(soft, axis=-1), logits.shape[-1])
    return one_hot + soft - jax.lax.stop_gradient(soft)


def draw_subpolicies(key: jax.Array, episode_id: jax.Array, n: int, k: int) -> jax.Array:
    """``[E, n]`` sub-policy per env and agent, fixed for an episode: a hash of its id."""
    envs = jnp.arange(episode_id.shape[0])

    def one(e: jax.Array, episode: jax.Array) -> jax.Array:
        return jax.random.randint(
            jax.random.fold_in(jax.random.fold_in(key, e), episode), (n,), 0, k
        )

    return jax.vmap(one)(envs, episode_id)


def soft_update(target: Any, online: Any, tau: float) -> Any:
    return jax.tree.map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)


class MADDPG(Learner):
    """Centralised critics, decentralised deterministic (sub-)policies; see the module doc."""

    config_class = MADDPGConfig
    mlagents_trainer = "maddpg"  # not one of ML-Agents' trainers: named for what it is
    init_keys = 3  # actors, critics, the ensemble draws

    def __init__(
        self,
        env: MultiAgentEnv,
        cfg: Mapping[str, Any],
        seating: Seating,
        total_env_steps: int,
        behaviour: int = 0,
    ) -> None:
        super().__init__(env, cfg, seating, total_env_steps, behaviour)  # constant lr and noise
        c = self.cfg
        if isinstance(self.space, MultiDiscrete):
            self.branches = self.space.branches
            if len(set(self.branches)) != 1:
                raise ValueError(f"MADDPG needs equal discrete branches, got {self.branches}")
            out_size = sum(self.branches)
        elif isinstance(self.space, Box):
            self.branches = None
            out_size = int(np.prod(self.space.shape))
        else:
            raise TypeError(f"MADDPG cannot act in {type(self.space).__name__}")
        self.actor = DeterministicActor(out_size, c.hidden, c.activation)
        self.critic = CentralCritic(c.critic_hidden, c.activation)
        # Actors are stacked [n, K, ...] (agent, sub-policy), critics [n, ...] (agent).
        self.actor_tx = optimizer(c.actor_lr, c.max_grad_norm, c.grad_clip, block_dims=2)
        self.critic_tx = optimizer(c.critic_lr, c.max_grad_norm, c.grad_clip, block_dims=1)
        if c.buffer_size < 2 * c.num_envs or c.learning_starts < 2 * c.num_envs:
            raise ValueError("buffer_size and learning_starts must hold 2 steps of every env")
        self.buffer = fbx.make_trajectory_buffer(
            add_batch_size=c.num_envs,
            sample_batch_size=c.ensemble_size * c.batch_size,
            sample_sequence_length=2,
            period=1,
            min_length_time_axis=max(c.learning_starts // c.num_envs, 2),
            max_size=c.buffer_size - c.buffer_size % c.num_envs,
        )

    # -- actions ----------------------------------------------------------------------------
    def _features(self, env_act: jax.Array) -> jax.Array:
        """Env actions (branch indices or clipped floats) as critic inputs."""
        return action_features(self.space, env_act)

    def _critic_inputs(
        self, norm: ObsNorm, obs: jax.Array, ghost_obs: jax.Array, feat: jax.Array, ghost_act
    ) -> tuple[tuple[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
        """``(obs pair, feature pair)`` for ``CentralCritic``; the ghost's observations are
        normalised with the learner's statistics only when they are the same space."""
        ghost_norm = norm if ghost_obs.shape[-1] == obs.shape[-1] else (lambda x: x)
        ghost_feat = action_features(self.seating.ghost_space, ghost_act)
        return (norm(obs), ghost_norm(ghost_obs)), (feat, ghost_feat)

    def _critic_view(
        self, obs: tuple[jax.Array, jax.Array], feat: tuple[jax.Array, jax.Array], i: Any
    ) -> tuple[tuple[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
        """What slot ``i``'s critic reads: every agent (``central``), or with ``local`` only
        slot ``i``'s observation and action (a DDPG critic), the ghost team's left empty."""
        if self.cfg.critic == "central":
            return obs, feat

        def own(pair: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            team, ghost = pair
            return jax.lax.dynamic_slice_in_dim(team, i, 1, axis=-2), ghost[..., :0, :]

        return own(obs), own(feat)

    def _policy_action(
        self, actor: Any, obs: jax.Array, key: jax.Array, explore: bool
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """``(env action, differentiable critic features, pre-activation)`` for one agent."""
        pre = self.actor.apply(actor, obs)
        if self.branches is None:
            action = jnp.tanh(pre)
            if explore:
                action = action + self.cfg.noise_std * jax.random.normal(key, action.shape)
            env_act = jnp.clip(action, self.space.low, self.space.high)
            return env_act, jnp.clip(action, -1.0, 1.0), pre
        logits = pre.reshape(*pre.shape[:-1], len(self.branches), self.branches[0])
        sample = gumbel_softmax(key, logits, self.cfg.gumbel_temperature)
        env_act = jnp.argmax(sample, axis=-1).astype(jnp.int32)
        return env_act, sample.reshape(*pre.shape), pre

    def _team_act(
        self,
        actors: Any,
        obs_norm: ObsNorm,
        obs: jax.Array,
        key: jax.Array,
        sub: jax.Array,
        explore: bool,
    ) -> jax.Array:
        """Env actions ``[B, n, ...]`` of slot ``i`` playing its sub-policy ``sub[b, i]``.

        Every sub-policy acts on the whole batch and each sample keeps its own one's action:
        ``K`` dense matmuls are far cheaper than gathering a weight copy per sample.
        """
        obs = obs_norm(obs)
        keys = jax.random.split(key, obs.shape[1])

        def slot(slot_actors: Any, o: jax.Array, k: jax.Array, s: jax.Array) -> jax.Array:
            every = jax.vmap(lambda p: self._policy_action(p, o, k, explore)[0])(slot_actors)
            return every[s, jnp.arange(o.shape[0])]

        return jax.vmap(slot, in_axes=(0, 1, 0, 1), out_axes=1)(actors, obs, keys, sub)

    # -- Learner interface ------------------------------------------------------------------
    def init(self, k_actor: jax.Array, k_critic: jax.Array, k_ens: jax.Array) -> MADDPGState:
        c = self.cfg
        n = self.team_size
        obs = jnp.zeros((1, *self.obs_shape))
        actor = init_each(
            lambda k: self.actor.init(k, obs), jax.random.split(k_actor, (n, c.ensemble_size))
        )
        step = jax.tree.map(lambda x: x[:1], zero_step(self, c.num_envs))
        obs_norm = ObsNorm.create(self.obs_shape, c.normalize_obs)
        all_obs, feat = self._critic_inputs(
            obs_norm, step.obs, step.ghost_obs, self._features(step.action), step.ghost_action
        )
        critic = init_each(
            lambda k: self.critic.init(k, *self._critic_view(all_obs, feat, 0)),
            jax.random.split(k_critic, n),
        )
        item = self._buffer_item(zero_step(self, c.num_envs), jnp.zeros((), jnp.int32), k_ens)
        buffer = self.buffer.init(jax.tree.map(lambda x: x[0], item))
        nets = Nets(
            actor=actor,
            critic=critic,
            target_actor=actor,
            target_critic=critic,
            actor_opt=self.actor_tx.init(actor),
            critic_opt=self.critic_tx.init(critic),
        )
        return MADDPGState(
            nets=nets,
            obs_norm=obs_norm,
            buffer=buffer,
            ensemble_key=k_ens,
            updates=jnp.zeros((), jnp.int32),
        )

    def policy_params(self, state: MADDPGState) -> dict[str, Any]:
        return {"actor": state.nets.actor, "obs_norm": state.obs_norm}

    def ghost_context(self, state: MADDPGState) -> jax.Array:
        """The key that draws a ghost's sub-policy per episode (fixed for the run)."""
        return jax.random.fold_in(state.ensemble_key, 1)

    def snapshot_act(
        self, context: Any, params: Any, obs: jax.Array, key: jax.Array, episode_id: jax.Array
    ) -> jax.Array:
        sub = draw_subpolicies(context, episode_id, obs.shape[1], self.cfg.ensemble_size)
        explore = self.branches is not None  # discrete: the Gumbel sample it was trained with
        return self._team_act(params["actor"], params["obs_norm"], obs, key, sub, explore)

    def act(self, params: Any, obs: jax.Array, key: jax.Array) -> jax.Array:
        k_sub, k_act = jax.random.split(key)
        sub = jax.random.randint(k_sub, (1, obs.shape[0]), 0, self.cfg.ensemble_size)
        explore = self.branches is not None  # discrete: the Gumbel sample it was trained with
        return self._team_act(params["actor"], params["obs_norm"], obs[None], k_act, sub, explore)[
            0
        ]

    # -- export -----------------------------------------------------------------------------
    def _member(self, params: Any, agent: int, sub_policy: int) -> Any:
        if not 0 <= agent < self.team_size:
            raise ValueError(f"--agent {agent}: the team has {self.team_size} actors")
        if not 0 <= sub_policy < self.cfg.ensemble_size:
            raise ValueError(
                f"--sub-policy {sub_policy}: the ensemble has {self.cfg.ensemble_size} sub-policies"
            )
        return jax.tree.map(lambda p: p[agent, sub_policy], params["actor"])

    def actor_arrays(self, params: Any, agent: int = 0, sub_policy: int = 0) -> ActorArrays:
        """A deterministic ``tanh`` actor (continuous) or branch logits (discrete)."""
        tree = self._member(params, agent, sub_policy)["params"]
        return ActorArrays(
            dense_stack(tree["MLP_0"]),
            dense_stack({"Dense_0": tree["Dense_0"]})[0],
            self.cfg.activation,
            "tanh" if self.branches is None else "categorical",
            *params["obs_norm"].arrays(),
            logit_width=0 if self.branches is None else self.branches[0],
        )

    def actor_outputs(
        self, params: Any, obs: np.ndarray, agent: int = 0, sub_policy: int = 0
    ) -> np.ndarray:
        pre = self.actor.apply(self._member(params, agent, sub_policy), params["obs_norm"](obs))
        if self.branches is None:
            return np.asarray(jnp.tanh(pre))
        return np.asarray(pre.reshape(-1, len(self.branches), self.branches[0]))

    # -- replay -----------------------------------------------------------------------------
    def _buffer_item(
        self, steps: rollout.Step, team: jax.Array, ens_key: jax.Array
    ) -> dict[str, jax.Array]:
        """What one env step stores, ``[E, ...]``; the sub-policy tag is re-derived here."""
        n = steps.obs.shape[1]
        return {
            "obs": steps.obs,
            "ghost_obs": steps.ghost_obs,
            "action": steps.action,
            "ghost_action": steps.ghost_action,
            "reward": (steps.reward + steps.group_reward) * self.cfg.reward_scale,
            "terminal": steps.done & ~steps.truncated,
            "truncated": steps.truncated,
            "active": steps.active,
            "sub": draw_subpolicies(ens_key, steps.episode_id, n, self.cfg.ensemble_size),
            "team": jnp.broadcast_to(team, steps.episode_id.shape),
        }

    # -- learning ---------------------------------------------------------------------------
    def _critic_loss(self, critic: Any, nets: Nets, norm: ObsNorm, batch: dict, key: jax.Array):
        c = self.cfg
        now = jax.tree.map(lambda x: x[: c.batch_size, 0], batch)
        nxt = jax.tree.map(lambda x: x[: c.batch_size, 1], batch)
        next_act = self._team_act(
            nets.target_actor, norm, nxt["obs"], key, nxt["sub"], explore=False
        )
        next_obs, next_feat = self._critic_inputs(
            norm, nxt["obs"], nxt["ghost_obs"], self._features(next_act), nxt["ghost_action"]
        )
        obs, feat = self._critic_inputs(
            norm, now["obs"], now["ghost_obs"], self._features(now["action"]), now["ghost_action"]
        )

        def per_slot(params, target, i):
            q_next = self.critic.apply(target, *self._critic_view(next_obs, next_feat, i))
            y = now["reward"][:, i] + c.gamma * (1.0 - now["terminal"][:, i]) * q_next
            q = self.critic.apply(params, *self._critic_view(obs, feat, i))
            return q, jax.lax.stop_gradient(y)

        slots = jnp.arange(now["obs"].shape[1])
        q, y = jax.vmap(per_slot, out_axes=1)(critic, nets.target_critic, slots)
        valid = (
            now["active"]
            & ~now["truncated"]
            & (now["terminal"] | (now["team"] == nxt["team"])[:, None])
        )
        loss = jnp.sum(jnp.where(valid, (q - y) ** 2, 0.0)) / jnp.maximum(jnp.sum(valid), 1)
        return loss, jnp.mean(q)

    def _actor_loss(self, actor: Any, nets: Nets, norm: ObsNorm, batch: dict, key: jax.Array):
        """Mean over sub-policies of ``-Q_i`` on each one's own steps, plus the logit penalty.

        Every sub-policy acts on the whole batch (actors are small); each sample keeps the
        action of the sub-policy that played it, so one critic pass serves all ``K`` and a
        sub-policy's gradient comes only from its own steps.
        """
        c = self.cfg
        now = jax.tree.map(lambda x: x[:, 0], batch)
        n = now["obs"].shape[1]
        obs_all, (feat, ghost_feat) = self._critic_inputs(
            norm, now["obs"], now["ghost_obs"], self._features(now["action"]), now["ghost_action"]
        )
        own_obs = obs_all[0]
        subs = jnp.arange(c.ensemble_size)

        def per_slot(i: jax.Array, slot_actor: Any, critic: Any, k: jax.Array) -> jax.Array:
            keys = jax.random.split(k, c.ensemble_size)
            _, a_feat, pre = jax.vmap(
                lambda p, kk: self._policy_action(p, own_obs[:, i], kk, False)
            )(slot_actor, keys)  # [K, B, ...]
            sub = now["sub"][:, i]
            rows = jnp.arange(sub.shape[0])
            a_feat, pre = a_feat[sub, rows], pre[sub, rows]  # each sample's own sub-policy
            view = self._critic_view(obs_all, (feat.at[:, i].set(a_feat), ghost_feat), i)
            q = self.critic.apply(critic, *view)
            mine = now["active"][:, i][None] & (sub[None] == subs[:, None])  # [K, B]
            weight = mine / jnp.maximum(jnp.sum(mine, axis=1, keepdims=True), 1)
            weight = jnp.sum(weight, axis=0) / c.ensemble_size  # mean over sub-policies
            return jnp.sum(weight * (-q + c.logit_reg * jnp.mean(pre**2, axis=-1)))

        keys = jax.random.split(key, n)
        return jnp.sum(jax.vmap(per_slot)(jnp.arange(n), actor, nets.critic, keys))

    def _gradient_step(
        self, nets: Nets, norm: ObsNorm, batch: dict, key: jax.Array
    ) -> tuple[Nets, dict[str, jax.Array]]:
        """One critic step, then one actor step against the updated critic, then Polyak."""
        k_critic, k_actor = jax.random.split(key)
        (critic_loss, q_mean), critic_grads = jax.value_and_grad(self._critic_loss, has_aux=True)(
            nets.critic, nets, norm, batch, k_critic
        )
        updates, critic_opt = self.critic_tx.update(critic_grads, nets.critic_opt, nets.critic)
        nets = nets.replace(critic=optax.apply_updates(nets.critic, updates), critic_opt=critic_opt)
        actor_loss, actor_grads = jax.value_and_grad(self._actor_loss)(
            nets.actor, nets, norm, batch, k_actor
        )
        updates, actor_opt = self.actor_tx.update(actor_grads, nets.actor_opt, nets.actor)
        actor = optax.apply_updates(nets.actor, updates)
        nets = nets.replace(
            actor=actor,
            actor_opt=actor_opt,
            target_actor=soft_update(nets.target_actor, actor, self.cfg.tau),
            target_critic=soft_update(nets.target_critic, nets.critic, self.cfg.tau),
        )
        return nets, {
            "critic_loss": critic_loss,
            "actor_loss": actor_loss,
            "q_mean": q_mean,
            "critic_grad_norm": optax.tree.norm(critic_grads),
            "actor_grad_norm": optax.tree.norm(actor_grads),
        }

    def acting(self, state: MADDPGState) -> Acting:
        c, n = self.cfg, self.team_size

        def learner_act(obs: jax.Array, k: jax.Array, episode_id: jax.Array):
            sub = draw_subpolicies(state.ensemble_key, episode_id, n, c.ensemble_size)
            action = self._team_act(state.nets.actor, state.obs_norm, obs, k, sub, explore=True)
            return action, action, None

        return Acting(learner_act, record_ghost=True)

    def learn(
        self, state: MADDPGState, batch: Rollout, key: jax.Array
    ) -> tuple[MADDPGState, dict[str, jax.Array]]:
        c, steps = self.cfg, batch.steps
        items = jax.vmap(lambda s: self._buffer_item(s, batch.learning_team, state.ensemble_key))(
            steps
        )
        buffer = self.buffer.add(state.buffer, jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), items))
        norm = state.obs_norm.update(steps.obs)

        def gradient_step(nets: Nets, k: jax.Array):
            k_sample, k_step = jax.random.split(k)
            sample = self.buffer.sample(buffer, k_sample).experience
            return self._gradient_step(nets, norm, sample, k_step)

        def learn(nets: Nets):
            return jax.lax.scan(gradient_step, nets, jax.random.split(key, c.grad_steps))

        def wait(nets: Nets):
            shapes = jax.eval_shape(learn, nets)[1]
            return nets, jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), shapes)

        nets, metrics = jax.lax.cond(self.buffer.can_sample(buffer), learn, wait, state.nets)
        metrics = jax.tree.map(jnp.mean, metrics)
        metrics = {**metrics, "loss": metrics["critic_loss"] + metrics["actor_loss"]}
        state = state.replace(nets=nets, obs_norm=norm, buffer=buffer, updates=state.updates + 1)
        return state, metrics


def zero_step(learner: MADDPG, num_envs: int) -> rollout.Step:
    """An all-zero ``Step`` of ``num_envs`` envs with the ghost recorded: the buffer's layout."""
    space, seats = learner.space, learner.seating
    n, m = seats.team_size, seats.ghost_size

    def act_dtype(space: Any) -> Any:
        return jnp.int32 if isinstance(space, MultiDiscrete) else jnp.float32

    def zeros(*shape: int, dtype: Any = jnp.float32) -> jax.Array:
        return jnp.zeros((num_envs, *shape), dtype)

    return rollout.Step(
        obs=zeros(n, *learner.obs_shape),
        action=zeros(n, *space.shape, dtype=act_dtype(space)),
        reward=zeros(n),
        group_reward=zeros(n),
        active=zeros(n, dtype=bool),
        done=zeros(n, dtype=bool),
        team_done=zeros(dtype=bool),
        truncated=zeros(n, dtype=bool),
        bootstrap=zeros(n),
        extras=None,
        episode_id=zeros(dtype=jnp.int32),
        ghost_obs=zeros(m, *seats.ghost_obs_shape),
        ghost_action=zeros(m, *seats.ghost_space.shape, dtype=act_dtype(seats.ghost_space)),
    )


LEARNER = MADDPG
