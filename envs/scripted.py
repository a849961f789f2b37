"""Scripted players by game and name, read from the games' records (``envs.registry``).

Each game keeps its own in ``envs/<game>/scripted.py``; they are one-agent policies
(``envs.policy.AgentPolicy``), so ``team`` lifts them to a team's.
"""

from __future__ import annotations

import functools

from envs.policy import AgentPolicy, TeamPolicy, vmap_policy
from envs.registry import game


def names(env_name: str) -> list[str]:
    """The scripted players of ``env_name``, sorted."""
    return sorted(game(env_name).scripted)


def get(env_name: str, name: str) -> AgentPolicy:
    """A scripted policy by env and name; unknown names list the valid ones."""
    table = game(env_name).scripted
    if name not in table:
        raise ValueError(f"unknown scripted policy {name!r} for {env_name}; valid: {sorted(table)}")
    return table[name]


@functools.cache
def team(env_name: str, name: str) -> TeamPolicy:
    """``get`` lifted to a team policy (every member plays it on its own observation); the
    same function object each time, so compiled match programs are reused."""
    return vmap_policy(get(env_name, name))
