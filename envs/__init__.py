"""Two-team games behind one protocol (see ``envs.base``): the pure-JAX ones, a Unity build
through mlagents-envs, and their registry."""

from __future__ import annotations

import inspect

from envs.base import Box, EnvSpec, MultiAgentEnv, MultiDiscrete, StepInfo
from envs.jaxmarl_adapter import JaxMARLEnv
from envs.soccer_twos import SoccerTwos
from envs.tennis import Tennis
from envs.unity import UnityEnv

GAMES = ("soccer_twos", "tennis")  # the pure-JAX games: any batch size, no outside process
REGISTRY: dict[str, type[MultiAgentEnv]] = {
    "soccer_twos": SoccerTwos,
    "tennis": Tennis,
    "unity": UnityEnv,  # a real Unity build through mlagents-envs (host side)
    "jaxmarl": JaxMARLEnv,  # a two-team JaxMARL env (SMAX, ...); needs the `bench` extra
}


def make(name: str, **overrides) -> MultiAgentEnv:
    """Build a registered env, with its dataclass fields overridden by ``overrides``."""
    if name not in REGISTRY:
        raise ValueError(f"unknown env {name!r}; valid envs: {', '.join(sorted(REGISTRY))}")
    cls = REGISTRY[name]
    valid = sorted(set(inspect.signature(cls).parameters) - {"spec"})
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for env {name!r}; valid: {', '.join(valid)}"
        )
    return cls(**overrides)


__all__ = [
    "GAMES",
    "REGISTRY",
    "Box",
    "EnvSpec",
    "MultiAgentEnv",
    "MultiDiscrete",
    "StepInfo",
    "make",
]
