"""Scripted players by game and name, read from the games' records (``envs.registry``).

Each game keeps its own in ``envs/<game>/scripted.py``; they are one-agent policies
(``envs.policy.Policy``), so ``team`` lifts them to a team's. In an asymmetric game a
name stands for one player per role: ``Game.scripted[name]`` maps each behaviour's name to
its policy, and ``get`` / ``team`` take the behaviour that plays it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from envs.policy import Policy, vmap_policy
from envs.registry import game


def names(env_name: str) -> list[str]:
    """The scripted players of ``env_name``, sorted."""
    return sorted(game(env_name).scripted)


def get(env_name: str, name: str, behaviour: str | None = None) -> Policy:
    """A scripted policy by env and name (and, in an asymmetric game, the behaviour that plays
    it); unknown names list the valid ones."""
    table = game(env_name).scripted
    if name not in table:
        raise ValueError(f"unknown scripted policy {name!r}; valid for {env_name}: {sorted(table)}")
    player = table[name]
    if not isinstance(player, Mapping):
        return player
    if behaviour not in player:
        raise ValueError(
            f"scripted player {name!r} of {env_name} has one policy per behaviour; "
            f"pass one of {sorted(player)}, got {behaviour!r}"
        )
    return player[behaviour]


@functools.cache
def team(env_name: str, name: str, behaviour: str | None = None) -> Policy:
    """``get`` lifted to a team policy (every member plays it on its own observation); the
    same function object each time, so compiled match programs are reused."""
    return vmap_policy(get(env_name, name, behaviour))
