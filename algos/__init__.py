"""The algorithms: a module of ``algos/`` that defines ``LEARNER`` (a ``Learner`` subclass)
is an algorithm, named by its module; ``conf/algo/<name>.yaml`` configures it and is the one
source of its defaults (the config dataclasses declare fields, not values; BenchMARL's rule).
Adding one is that module plus its YAML, and nothing else."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from algos.learner import Learner
from algos.selfplay import SelfPlayConfig
from algos.trainer import Trainer, build
from envs.base import MultiAgentEnv
from envs.policy import Policy


def names() -> list[str]:
    """Every algorithm module of ``algos/``, sorted."""
    found = []
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        learner = getattr(importlib.import_module(f"algos.{module.name}"), "LEARNER", None)
        if isinstance(learner, type) and issubclass(learner, Learner):
            found.append(module.name)
    return sorted(found)


def learner_class(name: str) -> type[Learner]:
    """``algos.<name>.LEARNER``; an unknown name lists the valid ones."""
    valid = names()
    if name not in valid:
        raise ValueError(f"unknown algo {name!r}; valid algos: {', '.join(valid)}")
    return importlib.import_module(f"algos.{name}").LEARNER


CONF_ALGO = Path(__file__).resolve().parents[1] / "conf" / "algo"


def defaults(name: str) -> dict[str, Any]:
    """``conf/algo/<name>.yaml``'s values (without ``name``): every setting of the algorithm."""
    learner_class(name)  # an unknown name lists the valid ones
    path = CONF_ALGO / f"{name}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"algo {name!r} has no {path}: add its defaults there")
    values = yaml.safe_load(path.read_text()) or {}
    values.pop("name", None)
    return values


def make(
    name: str,
    env: MultiAgentEnv,
    cfg: Mapping[str, Any],
    selfplay: SelfPlayConfig | Sequence[SelfPlayConfig],
    total_env_steps: int,
    opponents: Sequence[Policy] = (),
) -> Trainer:
    """The trainer of algorithm ``name`` for ``env`` (``algos.trainer.build``), its learners
    configured by ``cfg`` over the algorithm's defaults (``defaults``). In a game whose teams
    play different behaviours ``selfplay`` may be one config per behaviour, and
    ``cfg["behaviours"][name]`` a behaviour's settings over the shared ones. ``opponents``:
    the team policies of ``selfplay.opponents`` (frozen players a swap may draw)."""
    cls = learner_class(name)
    cfg = {**defaults(name), **cfg}
    overrides = cfg.pop("behaviours", None) or {}
    return build(cls, env, cfg, selfplay, total_env_steps, overrides, opponents)


__all__ = ["Learner", "Trainer", "defaults", "learner_class", "make", "names"]
