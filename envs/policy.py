"""The policy signatures, named once, and the one lift between them.

- ``Policy``: ``(params, obs, key) -> actions`` for the agents in ``obs``: one agent's
  ``[*obs_shape]`` (a scripted player; ``params`` is ``None`` for them) or one team's
  ``[n, *obs_shape]`` (``Learner.act``, what matches, tournaments and ghosts play);
  ``vmap_policy`` makes the second from the first.
- ``BatchPolicy``: ``(obs [E, n, ...], key, episode_id [E]) -> env actions [E, n, ...]`` for
  one team in ``E`` envs, its parameters closed over (the rollout's ghost; ``episode_id``
  lets a policy hold a choice for an episode, as MADDPG's sub-policy draw does).
- ``SnapshotPolicy``: ``(params, obs [E, n, ...], key, episode_id [E]) -> env actions``: how a
  frozen snapshot of an algorithm plays in a rollout (``BatchPolicy`` once its params are
  bound).

- ``Roles``: one team policy per team of an asymmetric game, where each team plays its own
  behaviour (a learner of Strikers vs Goalie plays strikers as team 0, the goalie as team 1).

``vmap_policy`` is the one lift from a policy to one over a leading axis: agent -> team
(each member on its own observation) and team -> batch of envs (a scripted ghost). Each entry
acts on its own slice with its own key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax

Policy = Callable[[Any, jax.Array, jax.Array], jax.Array]
BatchPolicy = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
SnapshotPolicy = Callable[[Any, jax.Array, jax.Array, jax.Array], jax.Array]


def vmap_policy(policy: Policy) -> Policy:
    """``policy`` over a leading axis of ``obs``: entry ``i`` acts on ``obs[i]`` with key ``i``
    of ``split(key, len(obs))``, all with the same ``params``."""

    def lifted(params: Any, obs: jax.Array, key: jax.Array) -> jax.Array:
        keys = jax.random.split(key, obs.shape[0])
        return jax.vmap(policy, in_axes=(None, 0, 0))(params, obs, keys)

    return lifted


class Roles(NamedTuple):
    """Team policies by team: team ``t`` plays ``policies[t]`` with ``params[param_index[t]]``
    of a params sequence (one entry per behaviour, as a trainer of several behaviours saves
    them)."""

    policies: tuple[Policy, ...]
    param_index: tuple[int, ...]


def for_team(policy: Policy | Roles, params: Any, team: int) -> tuple[Policy, Any]:
    """The policy and params that play ``team``: the same for every team unless ``Roles``."""
    if isinstance(policy, Roles):
        return policy.policies[team], params[policy.param_index[team]]
    return policy, params


def own_view_policy(policy: Policy, width: int) -> Policy:
    """``policy`` on the leading ``width`` floats of padded observation rows (a behaviour's
    own observation in an asymmetric game, ``envs.base.Behaviour``)."""

    def play(params: Any, obs: jax.Array, key: jax.Array) -> jax.Array:
        return policy(params, obs[..., :width], key)

    return play
