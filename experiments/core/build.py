"""Env + trainer from a composed config: shared by training, evaluation and benchmarks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import algos
import envs
from algos.learner import config_from
from algos.selfplay import SelfPlayConfig
from algos.trainer import Trainer
from envs.policy import Policy

# ``env.selfplay`` keys of runs saved before training against a population, and their names now
RENAMED = {"scripted": "opponents", "scripted_ratio": "opponents_ratio"}


def build(cfg: DictConfig, opponents: Sequence[Policy] = ()) -> tuple[envs.MultiAgentEnv, Trainer]:
    """The env and trainer a config describes (training config or a saved ``config.json``);
    ``opponents``: the team policies of ``env.selfplay.opponents``
    (``experiments.core.players.frozen_opponents``)."""
    env = envs.make(cfg.env.name, **OmegaConf.to_container(cfg.env.options, resolve=True))
    selfplay = selfplay_configs(env, OmegaConf.to_container(cfg.env.selfplay))
    algo = OmegaConf.to_container(cfg.algo)
    name = algo.pop("name")
    if env.num_envs is not None and "num_envs" in algo:  # a Unity build: one env per area
        algo["num_envs"] = env.num_envs
    return env, algos.make(name, env, algo, selfplay, int(cfg.total_env_steps), opponents)


def selfplay_configs(
    env: envs.MultiAgentEnv, values: dict[str, Any]
) -> SelfPlayConfig | list[SelfPlayConfig]:
    """``env.selfplay``: one config, or in an asymmetric game one per behaviour, each the
    shared keys overridden by ``behaviours.<name>`` (ML-Agents: a self_play block per
    behaviour, e.g. StrikersVsGoalie's swap_steps 4000 for Striker and 1000 for Goalie)."""
    for old, new in RENAMED.items():
        if old in values:
            values[new] = values.pop(old)
    values.setdefault("pfsp", "uniform")  # runs saved before PFSP drew uniformly
    per_behaviour = values.pop("behaviours", None) or {}
    names = [b.name for b in env.spec.behaviour_specs]
    unknown = sorted(set(per_behaviour) - set(names) if env.spec.asymmetric else per_behaviour)
    if unknown:
        raise ValueError(
            f"env.selfplay.behaviours names {', '.join(unknown)}; {env.spec.name} has "
            + (f"behaviours {', '.join(names)}" if env.spec.asymmetric else "one behaviour")
        )
    if not env.spec.asymmetric:
        return config_from(SelfPlayConfig, values, "env.selfplay")
    return [
        config_from(SelfPlayConfig, {**values, **per_behaviour.get(n, {})}, f"env.selfplay ({n})")
        for n in names
    ]


def build_offline(
    config: dict[str, Any], run_dir: str | Path
) -> tuple[envs.MultiAgentEnv, Trainer]:
    """The env and trainer of a run's saved config; a run trained on a Unity build gets the
    JAX game it matched (``env.expect``), so its policies play without the binary."""
    cfg = OmegaConf.create(config)
    if cfg.env.name == "unity":
        if not cfg.env.get("expect"):
            raise ValueError(
                f"{run_dir} was trained on a Unity build with env.expect=null: its spec exists "
                "only in that build, so it cannot be loaded offline"
            )
        cfg.env.name, cfg.env.options = cfg.env.expect, {}
    # the policy alone: the frozen players it trained against need not be on this machine
    for key in ("opponents", "scripted"):
        if key in cfg.env.selfplay:
            cfg.env.selfplay[key] = []
    for key in ("opponents_ratio", "scripted_ratio"):
        if key in cfg.env.selfplay:
            cfg.env.selfplay[key] = 0.0
    return build(cfg)


def chunk_updates(cfg: DictConfig, trainer: Trainer) -> int:
    """Updates per jitted chunk: ``chunk_env_steps`` worth, at least one."""
    return max(1, round(int(cfg.chunk_env_steps) / trainer.env_steps_per_update))
