"""Algorithm registry: a new algorithm is one module here plus ``conf/algo/<name>.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from algos.base import Learner
from algos.ippo import IPPO
from algos.maddpg import MADDPG
from algos.poca import POCA
from algos.selfplay import SelfPlayConfig
from envs.base import MultiAgentEnv

REGISTRY: dict[str, type[Learner]] = {"ippo": IPPO, "maddpg": MADDPG, "poca": POCA}


def make(
    name: str,
    env: MultiAgentEnv,
    cfg: Mapping[str, Any],
    selfplay: SelfPlayConfig,
    total_env_steps: int,
) -> Learner:
    """Build a registered learner; an unknown name lists the valid ones."""
    if name not in REGISTRY:
        raise ValueError(f"unknown algo {name!r}; valid algos: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](env, cfg, selfplay, total_env_steps)


__all__ = ["REGISTRY", "Learner", "make"]
