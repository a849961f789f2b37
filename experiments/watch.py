"""Write a GIF of a match between scripted policies and/or trained runs.

python -m experiments.watch                                   # SoccerTwos, chaser vs random
python -m experiments.watch env=tennis team0=tracker team1=tracker steps=400
python -m experiments.watch team0=outputs/2026-11-23/10-00-00 team1=chaser

A team that names a run directory plays that run's final policy (its env must match).
"""

from __future__ import annotations

import os
from pathlib import Path

import hydra
import jax
from omegaconf import DictConfig

import envs
from envs import match, render, scripted
from experiments.evaluate import load_run


def team_policy(env_name: str, team: str) -> tuple[match.Policy, object]:
    """A scripted policy by name, or the final policy of a run directory."""
    if not (Path(hydra.utils.to_absolute_path(team)) / "final").is_dir():
        return scripted.team(env_name, team), None
    run_env, learner, params = load_run(hydra.utils.to_absolute_path(team))
    if run_env.spec.name != env_name:
        raise ValueError(f"{team} was trained on {run_env.spec.name}; pass env={run_env.spec.name}")
    return learner.act, params


@hydra.main(version_base=None, config_path="../conf", config_name="watch")
def main(cfg: DictConfig) -> None:
    env = envs.make(cfg.env.name, **cfg.env.options)
    (p0, w0), (p1, w1) = (team_policy(cfg.env.name, t) for t in (cfg.team0, cfg.team1))
    result = match.play(
        env,
        [p0, p1],
        jax.random.PRNGKey(cfg.seed),
        num_envs=1,
        num_steps=cfg.steps,
        params=[w0, w1],
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
