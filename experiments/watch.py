"""Write a GIF of a match between scripted policies and/or trained runs.

python -m experiments.watch                                   # SoccerTwos, chaser vs random
python -m experiments.watch env=tennis team0=tracker team1=tracker steps=400
python -m experiments.watch team0=outputs/2026-11-23/10-00-00 team1=chaser
python -m experiments.watch team0=path/to/SoccerTwos.onnx team1=path/to/model_folder
python -m experiments.watch env=strikers_vs_goalie team0=scripted team1=random

A team that names a run directory plays that run's final policy (its env must match); an
ML-Agents ``.onnx`` file or model folder plays the imported model.
"""

from __future__ import annotations

import os
from pathlib import Path

import hydra
import jax
from omegaconf import DictConfig

import envs
from envs import match, render
from envs.policy import for_team
from experiments.core.config import CONF_DIR
from experiments.core.players import is_model, side


def run_path(team: str) -> str:
    """A team given as a run directory or a model, made absolute (Hydra changes into its
    output dir)."""
    path = hydra.utils.to_absolute_path(team)
    return path if (Path(path) / "final").is_dir() or is_model(path) else team


@hydra.main(version_base=None, config_path=CONF_DIR, config_name="watch")
def main(cfg: DictConfig) -> None:
    env = envs.make(cfg.env.name, **cfg.env.options)
    players = [side(cfg.env.name, run_path(t)) for t in (cfg.team0, cfg.team1)]
    # Each player plays its team's role (its strikers as team 0, its goalie as team 1).
    sides = [for_team(p.policy, p.params, team) for team, p in enumerate(players)]
    result = match.play(
        env,
        [policy for policy, _ in sides],
        jax.random.PRNGKey(cfg.seed),
        num_envs=1,
        num_steps=cfg.steps,
        params=[params for _, params in sides],
        record_states=True,
    )
    frames = [
        render.render(cfg.env.name, jax.tree.map(lambda x, t=t: x[t, 0], result.states))
        for t in range(cfg.steps)
    ]
    render.save_gif(frames, cfg.out, fps=cfg.fps)
    print(f"{cfg.team0} vs {cfg.team1}: {result.counts()} -> {os.path.abspath(cfg.out)}")


if __name__ == "__main__":
    main()
