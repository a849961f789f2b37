"""Two-team games behind one protocol (``envs.base``), each registered by one record
(``envs.registry``): the pure-JAX games, a Unity build through mlagents-envs, JaxMARL's envs."""

from __future__ import annotations

import inspect

from envs.base import Box, EnvSpec, MultiAgentEnv, MultiDiscrete, StepInfo
from envs.registry import Game, game, games, names


def make(name: str, **overrides) -> MultiAgentEnv:
    """Build a registered env, with its dataclass fields overridden by ``overrides``."""
    cls = game(name).env
    valid = sorted(set(inspect.signature(cls).parameters) - {"spec"})
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for env {name!r}; valid: {', '.join(valid)}"
        )
    return cls(**overrides)


__all__ = [
    "Box",
    "EnvSpec",
    "Game",
    "MultiAgentEnv",
    "MultiDiscrete",
    "StepInfo",
    "game",
    "games",
    "make",
    "names",
]
