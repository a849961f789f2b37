"""Play whole matches between per-team policies in many envs at once (one jitted scan).

Used by evaluation, tournaments, ``experiments.watch`` and the playability tests. A game is
*decided* when the rules end it (goal, fault) and ``envs.base.winner`` names a winner from the
teams' mean step reward at that moment; a game cut by the time limit, or a tie, is a draw.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from envs.base import MultiAgentEnv, pad_actions, winner
from envs.policy import Policy


class MatchResult(NamedTuple):
    """Per-step records ``[T, N, ...]`` of a batch of ``N`` envs played for ``T`` decisions."""

    done: np.ndarray  # [T, N] an episode ended at this step
    winner: np.ndarray  # [T, N] team id of the winner, -1 for a draw (only where done)
    episode_return: np.ndarray  # [T, N, A] each agent's summed reward (only where done)
    states: object | None  # pytree with leading [T, N] axes when recorded

    def counts(self) -> dict[str, int]:
        """Wins per team, draws and episodes (keys ``team0``, ``team1``, ``draw``, ``episodes``)."""
        w = self.winner[self.done]
        return {
            "team0": int(np.sum(w == 0)),
            "team1": int(np.sum(w == 1)),
            "draw": int(np.sum(w == -1)),
            "episodes": int(w.size),
        }


def team_actions(env: MultiAgentEnv, policies: Sequence[Policy]):
    """``act(params, obs [A, ...], key) -> actions [A, ...]``: each team's policy acts for its
    members, with ``params[t]`` the parameters of team ``t``'s policy."""
    members = [np.asarray(env.spec.team_agents(t)) for t in range(len(policies))]
    shape = env.spec.action_space.shape

    def act(params: Sequence[object], obs: jax.Array, key: jax.Array) -> jax.Array:
        keys = jax.random.split(key, len(policies))
        out = None
        for idx, policy, p, k in zip(members, policies, params, keys, strict=True):
            team = pad_actions(policy(p, obs[idx], k), shape)
            if out is None:
                out = jnp.zeros((obs.shape[0], *shape), team.dtype)
            out = out.at[idx].set(team.astype(out.dtype))
        return out

    return act


def match_fn(
    env: MultiAgentEnv,
    policies: Sequence[Policy],
    num_envs: int,
    num_steps: int,
    record_states: bool = False,
) -> Callable[[Sequence[object], jax.Array], MatchResult]:
    """A jitted ``(params, key) -> MatchResult`` for one line-up of policies.

    The parameters are arguments, not constants, so one compiled program serves every set of
    parameters that fits it (``experiments.tournament.Lineup`` builds one per tournament).
    """
    act = team_actions(env, policies)
    teams = jnp.asarray(env.spec.teams)
    num_teams = env.spec.num_teams
    one_hot_team = jax.nn.one_hot(teams, num_teams)  # [A, teams]

    def run(params: Sequence[object], key: jax.Array):
        key, k_reset = jax.random.split(key)
        obs, state = env.reset_batch(jax.random.split(k_reset, num_envs))
        returns = jnp.zeros((num_envs, env.spec.num_agents))

        def body(carry, _):
            obs, state, returns, key = carry
            key, k_act, k_step = jax.random.split(key, 3)
            actions = jax.vmap(act, in_axes=(None, 0, 0))(
                params, obs, jax.random.split(k_act, num_envs)
            )
            next_obs, next_state, reward, done, info = env.step_batch(
                jax.random.split(k_step, num_envs), state, actions
            )
            step_reward = reward + info.group_reward
            returns = returns + step_reward
            team_reward = step_reward @ one_hot_team / one_hot_team.sum(0)  # [N, teams]
            ended = jnp.all(done, axis=-1)
            decided = ended & ~jnp.any(info.truncated, axis=-1)
            won = jnp.where(decided, winner(team_reward), -1)
            record = (ended, won, jnp.where(ended[:, None], returns, 0.0))
            if record_states:
                record = (*record, state)
            returns = jnp.where(ended[:, None], 0.0, returns)
            return (next_obs, next_state, returns, key), record

        _, records = jax.lax.scan(body, (obs, state, returns, key), None, num_steps)
        return records

    compiled = jax.jit(run)

    def play_once(params: Sequence[object], key: jax.Array) -> MatchResult:
        records = jax.device_get(compiled(list(params), key))
        states = records[3] if record_states else None
        return MatchResult(*(np.asarray(r) for r in records[:3]), states=states)

    return play_once


def play(
    env: MultiAgentEnv,
    policies: Sequence[Policy],
    key: jax.Array,
    num_envs: int,
    num_steps: int,
    params: Sequence[object] | None = None,
    record_states: bool = False,
) -> MatchResult:
    """Play ``num_envs`` parallel games for ``num_steps`` decisions, one team policy per team
    (scripted players lifted with ``envs.scripted.team``)."""
    params = params if params is not None else [None] * len(policies)
    return _program(env, tuple(policies), num_envs, num_steps, record_states)(params, key)


@functools.cache
def _program(env: MultiAgentEnv, policies: tuple[Policy, ...], *sizes: int) -> Callable:
    """``match_fn`` kept per line-up and size, so repeated evaluations of the same policies
    (every checkpoint of a run, both sides of a pairing again) trace and compile once."""
    return match_fn(env, policies, *sizes)
