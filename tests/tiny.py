"""Tiny configs for tests: any algorithm, with the sizes it has shrunk to run in seconds.

``tiny(algo)`` reads ``conf/algo/<algo>.yaml`` and shrinks the keys it has (so a new
algorithm gets a tiny config without being named here); ``config`` composes like the CLI.
"""

from __future__ import annotations

from omegaconf import ListConfig, OmegaConf

from experiments.core.config import CONF_DIR, compose

TINY_RUN = [
    "algo.num_envs=4",
    "algo.rollout_len=8",
    "algo.hidden=[16]",
    "chunk_env_steps=64",  # 2 updates of 4 envs x 8 decisions
    "total_env_steps=256",  # 4 chunks
    "checkpoint.every_chunks=2",
    "eval.games=2",
    "eval.decisions=20",
    "eval.opponents=[random]",
    "logging.wandb=false",
    "logging.progress=false",
]
# Sizes an algorithm's own keys shrink to (where it has them, and of the same kind), so that
# it learns from its second update on: PPO-style minibatches, replay-style buffers.
SHRINK = {
    "num_minibatches": 2,
    "learning_starts": 32,
    "buffer_size": 256,
    "batch_size": 16,
    "grad_steps": 1,
    "critic_hidden": [16],
}


def config(*overrides: str):
    return compose(overrides)


def tiny(algo: str = "ippo") -> list[str]:
    """``algo=<algo>`` and the overrides that make a run of it tiny (4 chunks of 64 steps)."""
    defaults = OmegaConf.load(f"{CONF_DIR}/algo/{algo}.yaml")
    shrink = [
        f"algo.{key}={list(value) if isinstance(value, list) else value}".replace(" ", "")
        for key, value in SHRINK.items()
        if key in defaults and isinstance(defaults[key], ListConfig) == isinstance(value, list)
    ]
    return [f"algo={algo}", *TINY_RUN, *shrink]
