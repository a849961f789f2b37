"""Players: anything that can take a side in a match (a finished run, a scripted player).

A ``Player`` is a team policy with its parameters and the facts a match table records; players
with the same ``arch`` share one compiled match program (``experiments.core.matches``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
from omegaconf import OmegaConf

from algos.base import Learner
from analysis.formats import CONFIG_FILE
from envs import scripted
from envs.base import MultiAgentEnv
from envs.policy import TeamPolicy
from experiments.core.build import build_offline
from experiments.core.checkpoint import load_policy


def load_run(run_dir: str | Path) -> tuple[MultiAgentEnv, Learner, Any]:
    """The env, learner and final policy params saved by ``experiments.run``."""
    final = Path(run_dir) / "final"
    config_file = final / CONFIG_FILE
    if not config_file.exists():
        raise FileNotFoundError(
            f"{config_file} not found: {run_dir} is not a finished run (resume it with "
            f"`python -m experiments.run resume={run_dir}`)"
        )
    env, learner = build_offline(json.loads(config_file.read_text()), run_dir)
    # Shapes only: computing a fresh state (eagerly, op by op) would cost seconds per load.
    template = learner.policy_params(jax.eval_shape(learner.init, jax.random.PRNGKey(0)))
    return env, learner, load_policy(final, template)


@dataclass(frozen=True)
class Player:
    """A policy that can take a side: ``policy(params, team_obs, key) -> team_actions``."""

    name: str
    kind: str  # "trained" or "scripted"
    policy: TeamPolicy
    params: Any
    arch: str  # players with the same arch share one compiled match program
    algo: str | None = None
    seed: int | None = None
    source: str | None = None


def trained_player(run_dir: str | Path, name: str | None = None) -> tuple[MultiAgentEnv, Player]:
    """A finished ``experiments.run`` directory as a player named ``<algo>/seed<seed>``."""
    env, learner, params = load_run(run_dir)
    cfg = OmegaConf.create(json.loads((Path(run_dir) / "final" / CONFIG_FILE).read_text()))
    algo, seed = str(cfg.algo.name), int(cfg.seed)
    arch = json.dumps(
        {"algo": OmegaConf.to_container(cfg.algo), "env": OmegaConf.to_container(cfg.env)},
        sort_keys=True,
    )
    player = Player(
        name=name or f"{algo}/seed{seed}",
        kind="trained",
        policy=learner.act,
        params=params,
        arch=arch,
        algo=algo,
        seed=seed,
        source=str(run_dir),
    )
    return env, player


def scripted_player(env_name: str, name: str) -> Player:
    return Player(
        name=f"scripted/{name}",
        kind="scripted",
        policy=scripted.team(env_name, name),
        params=None,
        arch=f"scripted/{name}",
        algo=f"scripted-{name}",
    )


def side(env_name: str, spec: str | Path) -> Player:
    """A run directory (its final policy; its game must be ``env_name``) or a scripted
    player's name: what a command line names a side by."""
    if not (Path(spec) / "final").is_dir():
        return scripted_player(env_name, str(spec))
    env, player = trained_player(spec)
    if env.spec.name != env_name:
        raise ValueError(f"{spec} was trained on {env.spec.name}, not {env_name}")
    return player
