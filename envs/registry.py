"""One registration record per game: everything per-game that the rest of the package reads.

A game is a module (or package) of ``envs/`` that defines ``GAME = Game(...)``: its env class,
scripted players, renderer, ML-Agents behaviour name, solved score and extra evaluation.
``game(name)`` imports ``envs.<name>`` and returns its record, so adding a game is that module
plus ``conf/env/<name>.yaml`` and nothing else; no code elsewhere asks which game it is.

``envs.game(name)`` is the lookup (this module is ``envs.registry``, so that name stays free).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs.base import MultiAgentEnv
from envs.policy import Policy


@dataclass(frozen=True)
class BallGame:
    """What a goal report reads of a game played with a ball (``experiments.goal_report``).

    ``counting(env)`` is the same game with its individual reward counting ball touches (one
    per touch, no shaping), and ``ball_distances(state) -> [A]`` each agent's distance to the
    ball, so who touched the ball last and who was nearest at kick-off need no field of
    ``StepInfo``.
    """

    counting: Callable[[MultiAgentEnv], MultiAgentEnv]
    ball_distances: Callable[[Any], Any]


@dataclass(frozen=True)
class Game:
    """What a game is besides its rules.

    ``extra_eval(env, team_policy, params, games, decisions, key) -> {name: summary}`` adds
    game-specific entries to a run's evaluation (Tennis: Udacity's score, as ``game_score``).
    ``adapter`` marks an env that wraps an outside program or package (a Unity build,
    JaxMARL): registry-wide tests and benchmarks, which need any batch size and no extra
    install, skip it.
    """

    name: str
    env: type[MultiAgentEnv]
    # name -> policy; in an asymmetric game name -> {behaviour name: policy} (``envs.scripted``)
    scripted: Mapping[str, Policy | Mapping[str, Policy]] = field(default_factory=dict)
    scene: Callable[[Any], Any] | None = None  # state -> ``envs.render.Scene``
    behaviour: str | None = None  # ML-Agents' behaviour name: the exported `<behaviour>.onnx`
    solved_score: float | None = None  # a score of this much or more "solves" the game
    extra_eval: Callable[..., dict[str, Any]] | None = None
    # An episode's score from each agent's summed reward ``[..., A] -> [...]`` (what
    # ``solved_score`` is compared with; Tennis: the larger of the two).
    episode_score: Callable[[Any], Any] | None = None
    ball: BallGame | None = None  # a ball game: goals can be attributed (goal report)
    adapter: bool = False


def names() -> list[str]:
    """Every game of ``envs/``: the modules that define a ``GAME`` record, sorted."""
    modules = pkgutil.iter_modules([str(Path(__file__).parent)])
    return sorted(
        m.name
        for m in modules
        if isinstance(getattr(importlib.import_module(f"envs.{m.name}"), "GAME", None), Game)
    )


def games() -> list[str]:
    """The pure-JAX games: any batch size, no outside process or extra install (what
    registry-wide tests and benchmarks run over)."""
    return [name for name in names() if not game(name).adapter]


def game(name: str) -> Game:
    """The record of game ``name`` (module ``envs.<name>``); an unknown name lists the valid."""
    valid = names()
    if name not in valid:
        raise ValueError(f"unknown env {name!r}; valid envs: {', '.join(valid)}")
    return importlib.import_module(f"envs.{name}").GAME


def find(name: str) -> Game | None:
    """The record of ``name`` if it is a game (a spec's name), else ``None`` (an adapter's
    spec named after what it wraps, such as ``jaxmarl_SMAX_3m``)."""
    return game(name) if name in names() else None
