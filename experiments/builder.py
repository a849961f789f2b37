"""Env + learner from a composed config: shared by training, evaluation and benchmarks."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

import algos
import envs
from algos.base import Learner, config_from
from algos.selfplay import SelfPlayConfig


def build(cfg: DictConfig) -> tuple[envs.MultiAgentEnv, Learner]:
    """The env and learner a config describes (training config or a saved ``config.json``)."""
    env = envs.make(cfg.env.name, **OmegaConf.to_container(cfg.env.options, resolve=True))
    selfplay = config_from(SelfPlayConfig, OmegaConf.to_container(cfg.env.selfplay), "env.selfplay")
    algo = OmegaConf.to_container(cfg.algo)
    name = algo.pop("name")
    if env.num_envs is not None and "num_envs" in algo:  # a Unity build: one env per area
        algo["num_envs"] = env.num_envs
    return env, algos.make(name, env, algo, selfplay, int(cfg.total_env_steps))


def chunk_updates(cfg: DictConfig, learner: Learner) -> int:
    """Learner updates per jitted chunk: ``chunk_env_steps`` worth, at least one."""
    return max(1, round(int(cfg.chunk_env_steps) / learner.env_steps_per_update))


def identity(cfg: DictConfig) -> dict[str, Any]:
    """What makes two runs the same experiment (checked on resume)."""
    return {"algo": cfg.algo.name, "env": cfg.env.name, "seed": int(cfg.seed)}
