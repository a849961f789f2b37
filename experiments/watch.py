"""Write a GIF of a match between two scripted policies (learned ones once they exist).

python -m experiments.watch                                   # SoccerTwos, chaser vs random
python -m experiments.watch env=tennis team0=tracker team1=tracker steps=400
"""

from __future__ import annotations

import os

import hydra
import jax
from omegaconf import DictConfig

import envs
from envs import match, render, scripted


@hydra.main(version_base=None, config_path="../conf", config_name="watch")
def main(cfg: DictConfig) -> None:
    env = envs.make(cfg.env.name, **cfg.env.options)
    policies = [scripted.team(cfg.env.name, cfg.team0), scripted.team(cfg.env.name, cfg.team1)]
    result = match.play(
        env,
        policies,
        jax.random.PRNGKey(cfg.seed),
        num_envs=1,
        num_steps=cfg.steps,
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
