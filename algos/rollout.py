"""One rollout path for every algorithm: the learning team acts, the ghost team answers.

``collect`` scans ``num_steps`` decisions over a batch of vmapped envs. Who plays is a
``Seats``: the agent indices of the learning team and of the ghost team (none in a
cooperative task). In a symmetric game they are gathered by a traced team index, so a team
change needs no recompilation; in an asymmetric one each behaviour has its own static seats
and reads the leading slice of the padded observations that is its own
(``envs.base.Behaviour``). Only the learning team's experience is returned (what ML-Agents
passes to the wrapped trainer); the ghost team's steps are only counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.base import EnvSpec, MultiAgentEnv, pad_actions, winner
from envs.policy import BatchPolicy


@struct.dataclass
class EnvRunner:
    """Live envs between rollouts, with the running return of each agent's episode."""

    obs: jax.Array  # [E, A, *obs_shape]
    state: Any  # env state with a leading [E] axis
    episode_return: jax.Array  # [E, A] individual + group reward so far
    episode_length: jax.Array  # [E] decisions so far
    active: jax.Array  # [E, A] bool: the agent has not left the current episode
    episode_id: jax.Array  # [E] int32: episodes finished in this env so far (names the current)


class Step(NamedTuple):
    """One decision of the learning team, ``[E, n, ...]`` (``n`` = team size)."""

    obs: jax.Array
    action: jax.Array  # what the learner sampled (before the env's clipping)
    reward: jax.Array  # individual reward
    group_reward: jax.Array
    active: jax.Array  # [E, n] bool: the agent was in the game at this decision
    done: jax.Array  # [E, n] bool: the agent's game ended after this step (rules or time-out)
    team_done: jax.Array  # [E] bool: the episode ended after this step
    truncated: jax.Array  # [E, n] bool: ended by the time limit
    bootstrap: jax.Array  # [E, n] V(final obs) where truncated, else 0
    extras: Any  # whatever the learner stored when acting (log-probs, values, ...)
    episode_id: jax.Array  # [E] which episode of its env this step belongs to
    ghost_obs: jax.Array | None  # [E, m, ...] the ghost team's view, when ``record_ghost``
    ghost_action: jax.Array | None  # [E, m, ...] the ghost team's env actions, likewise


class Episodes(NamedTuple):
    """Per-decision episode records, ``[E]`` or ``[E, n]``; read only where ``ended``."""

    ended: jax.Array  # [E]
    terminated: jax.Array  # [E] ended by the rules: a game with an outcome
    episode_return: jax.Array  # [E, n] learning agents' returns
    episode_length: jax.Array  # [E]
    final_reward: jax.Array  # [E, n] last step's individual + group reward
    ghost_final_reward: jax.Array  # [E, n] the same for the ghost team's agents
    best_return: jax.Array  # [E] the largest episode return of any agent, either team


def team_table(spec: EnvSpec) -> np.ndarray:
    """``[num_teams, team_size]`` agent indices of a symmetric two-team game (the teams swap
    seats by a traced index, so they must be the same size)."""
    members = [spec.team_agents(t) for t in range(spec.num_teams)]
    if len({len(m) for m in members}) != 1 or spec.num_teams != 2:
        raise ValueError(
            f"symmetric self-play needs two teams of equal size, got teams {spec.teams}; a game "
            "with teams of different sizes declares one behaviour per team (EnvSpec.behaviours)"
        )
    return np.asarray(members, dtype=np.int32)


class Seats(NamedTuple):
    """Who plays a rollout: the learning team's and the ghost team's agent indices, and how
    many leading floats of its observation rows each one reads."""

    learners: jax.Array | np.ndarray  # [n] int32
    ghosts: jax.Array | np.ndarray  # [m] int32; m = 0: no ghost (a cooperative task)
    learner_obs: int
    ghost_obs: int


def own_view(obs: jax.Array, width: int) -> jax.Array:
    """The leading ``width`` floats of padded observation rows (all of them when unpadded)."""
    return obs if obs.shape[-1] == width else obs[..., :width]


def init_runner(env: MultiAgentEnv, key: jax.Array, num_envs: int) -> EnvRunner:
    obs, state = env.reset_batch(jax.random.split(key, num_envs))
    return EnvRunner(
        obs=obs,
        state=state,
        episode_return=jnp.zeros((num_envs, env.spec.num_agents)),
        episode_length=jnp.zeros((num_envs,), jnp.int32),
        active=jnp.ones((num_envs, env.spec.num_agents), bool),
        episode_id=jnp.zeros((num_envs,), jnp.int32),
    )


LearnerAct = Callable[[jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array, Any]]
"""A learning ``envs.policy.BatchPolicy`` that also returns what it sampled and its extras."""
ValueFn = Callable[[jax.Array, jax.Array], jax.Array]


def symmetric_seats(spec: EnvSpec, learning_team: jax.Array) -> Seats:
    """The seats of a symmetric game when ``learning_team`` (traced) learns."""
    table = jnp.asarray(team_table(spec))
    width = spec.obs_shape[-1]
    return Seats(table[learning_team], table[1 - learning_team], width, width)


def collect(
    env: MultiAgentEnv,
    runner: EnvRunner,
    key: jax.Array,
    num_steps: int,
    seats: Seats,
    learner_act: LearnerAct,
    ghost_act: BatchPolicy | None,
    value_fn: ValueFn | None = None,
    record_ghost: bool = False,
) -> tuple[EnvRunner, Step, Episodes]:
    """Play ``num_steps`` decisions in every env of ``runner``.

    - ``learner_act(obs [E, n, ...], key, episode_id [E]) -> (env_action, sampled_action,
      extras)``; ``episode_id`` lets a policy hold a choice fixed for an episode (MADDPG's
      sub-policy draw) without carrying state of its own;
    - ``ghost_act(obs [E, n, ...], key, episode_id [E]) -> env_action``;
    - ``value_fn(obs [E, n, ...], active [E, n]) -> [E, n]`` values the final observation
      of time-outs (computed only on decisions where some env timed out);
    - ``record_ghost`` also returns the ghost team's observations and actions (for critics
      that see every agent, like MADDPG's).
    """
    learners, ghosts = seats.learners, seats.ghosts
    has_ghost = len(ghosts) > 0
    num_envs = runner.obs.shape[0]
    act_shape = env.spec.action_space.shape

    def body(runner: EnvRunner, key: jax.Array):
        k_learn, k_ghost, k_env = jax.random.split(key, 3)
        obs_l = own_view(runner.obs[:, learners], seats.learner_obs)
        obs_g = own_view(runner.obs[:, ghosts], seats.ghost_obs)
        env_act_l, action, extras = learner_act(obs_l, k_learn, runner.episode_id)
        env_act_l = pad_actions(env_act_l, act_shape)
        actions = jnp.zeros((num_envs, env.spec.num_agents, *act_shape), env_act_l.dtype)
        actions = actions.at[:, learners].set(env_act_l)
        env_act_g = jnp.zeros((num_envs, 0, *act_shape), env_act_l.dtype)  # nobody
        if has_ghost:
            env_act_g = ghost_act(obs_g, k_ghost, runner.episode_id)
            actions = actions.at[:, ghosts].set(pad_actions(env_act_g, act_shape))
        obs, state, reward, done, info = env.step_batch(
            jax.random.split(k_env, num_envs), runner.state, actions
        )
        step_reward = reward + info.group_reward
        episode_return = runner.episode_return + step_reward
        episode_length = runner.episode_length + 1
        ended = jnp.all(done, axis=-1)
        truncated = ended & jnp.any(info.truncated, axis=-1)
        terminal_obs = own_view(info.terminal_obs[:, learners], seats.learner_obs)
        if value_fn is None:
            bootstrap = jnp.zeros(done[:, learners].shape)
        else:
            bootstrap = jax.lax.cond(
                jnp.any(truncated),
                lambda: value_fn(terminal_obs, runner.active[:, learners]) * truncated[:, None],
                lambda: jnp.zeros(done[:, learners].shape),
            )
        step = Step(
            obs=obs_l,
            action=action,
            reward=reward[:, learners],
            group_reward=info.group_reward[:, learners],
            active=runner.active[:, learners],
            done=done[:, learners],
            team_done=ended,
            truncated=info.truncated[:, learners],
            bootstrap=bootstrap,
            extras=extras,
            episode_id=runner.episode_id,
            ghost_obs=obs_g if record_ghost else None,
            ghost_action=env_act_g if record_ghost else None,
        )
        episodes = Episodes(
            ended=ended,
            terminated=ended & ~truncated,
            episode_return=episode_return[:, learners],
            episode_length=episode_length,
            final_reward=step_reward[:, learners],
            ghost_final_reward=step_reward[:, ghosts],
            best_return=jnp.max(episode_return, axis=-1),
        )
        runner = EnvRunner(
            obs=obs,
            state=state,
            episode_return=jnp.where(ended[:, None], 0.0, episode_return),
            episode_length=jnp.where(ended, 0, episode_length),
            active=ended[:, None] | (runner.active & ~done),
            episode_id=runner.episode_id + ended,
        )
        return runner, (step, episodes)

    runner, (steps, episodes) = jax.lax.scan(body, runner, jax.random.split(key, num_steps))
    return runner, steps, episodes


EPISODE_MEANS = ("episode_return", "episode_best_return", "episode_length", "win_rate", "loss_rate")
"""Keys of ``episode_metrics`` that are means over episodes: a log that merges several updates
weights them by ``episodes`` (the count of episodes they finished)."""
EPISODE_COUNTS = ("episodes", "decided_games")
"""Keys of ``episode_metrics`` that count: a log that merges several updates sums them."""


def episode_metrics(episodes: Episodes) -> dict[str, jax.Array]:
    """Means over the episodes that ended in a rollout (NaN-free: 0 when none ended).

    ``episode_best_return`` is Udacity's Tennis score of an episode: the larger agent return.
    """
    ended = episodes.ended
    count = jnp.sum(ended)
    denom = jnp.maximum(count, 1)
    decided = ended & episodes.terminated
    result = game_result(episodes).mean(-1)
    return {
        "episodes": count,
        # games ended by the rules (a goal, a fault), not by the time limit: in a game whose
        # only rewards are its results, none of them means an update without a learning signal
        "decided_games": jnp.sum(decided),
        "episode_return": jnp.sum(episodes.episode_return.mean(-1) * ended) / denom,
        "episode_best_return": jnp.sum(episodes.best_return * ended) / denom,
        "episode_length": jnp.sum(episodes.episode_length * ended) / denom,
        "win_rate": jnp.sum(decided & (result == 1.0)) / denom,
        "loss_rate": jnp.sum(decided & (result == 0.0)) / denom,
    }


def game_result(episodes: Episodes) -> jax.Array:
    """``[..., n]`` score of each learning agent's game: 1 win, 0 loss, 0.5 draw, by
    ``envs.base.winner`` between the agent's last reward and the ghost team's mean."""
    own = episodes.final_reward
    if episodes.ghost_final_reward.shape[-1] == 0:  # no opponent: no game to win
        return jnp.full(own.shape, 0.5)
    ghost = jnp.broadcast_to(episodes.ghost_final_reward.mean(-1, keepdims=True), own.shape)
    won = winner(jnp.stack([own, ghost], axis=-1))
    return jnp.where(won == 0, 1.0, jnp.where(won == 1, 0.0, 0.5))
