"""Strikers vs Goalie (2 strikers vs 1 goalie): the game (``env``), its scripted players per
role and its picture. Asymmetric: Blue plays behaviour ``Striker``, Purple ``Goalie``."""

from __future__ import annotations

from envs.registry import BallGame, Game
from envs.soccer_twos.env import ball_distances
from envs.strikers_vs_goalie import render, scripted
from envs.strikers_vs_goalie.env import StrikersVsGoalie, touch_counting

GAME = Game(
    name="strikers_vs_goalie",
    env=StrikersVsGoalie,
    scripted={
        "random": {"Striker": scripted.random, "Goalie": scripted.random},
        "scripted": {"Striker": scripted.striker, "Goalie": scripted.goalie},
    },
    scene=render.scene,
    ball=BallGame(counting=touch_counting, ball_distances=ball_distances),
)
