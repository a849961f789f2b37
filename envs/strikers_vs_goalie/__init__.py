"""Strikers vs Goalie (2 strikers vs 1 goalie): the game (``env``), its scripted players per
role and its picture. Asymmetric: Blue plays behaviour ``Striker``, Purple ``Goalie``."""

from __future__ import annotations

from envs.registry import Game
from envs.strikers_vs_goalie import render, scripted
from envs.strikers_vs_goalie.env import StrikersVsGoalie

GAME = Game(
    name="strikers_vs_goalie",
    env=StrikersVsGoalie,
    scripted={
        "random": {"Striker": scripted.random, "Goalie": scripted.random},
        "scripted": {"Striker": scripted.striker, "Goalie": scripted.goalie},
    },
    render=render.frame,
)
