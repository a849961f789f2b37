"""Tennis (1 vs 1): the game (``env``), its scripted players, its picture and Udacity's score."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from envs import match
from envs.policy import Policy
from envs.registry import Game
from envs.tennis import render, scripted
from envs.tennis.env import SOLVED_SCORE, Tennis, episode_score


def udacity_score(
    env: Tennis, policy: Policy, params: Any, games: int, decisions: int, key: jax.Array
) -> dict[str, Any]:
    """Udacity's measure with the policy on both sides, as ``game_score``: the mean over
    episodes of the larger agent return; solved at ``SOLVED_SCORE`` over 100 episodes or more."""
    result = match.play(env, [policy, policy], key, games, decisions, params=[params, params])
    best = np.asarray(episode_score(result.episode_return[result.done]))
    return {
        "game_score": {
            "episodes": int(best.size),
            "mean_max_return": float(best.mean()) if best.size else float("nan"),
            "solved": bool(best.size >= 100 and best.mean() >= SOLVED_SCORE),
        }
    }


GAME = Game(
    name="tennis",
    env=Tennis,
    scripted={"random": scripted.random, "tracker": scripted.tracker},
    scene=render.scene,
    behaviour="Tennis",
    solved_score=SOLVED_SCORE,
    extra_eval=udacity_score,
    episode_score=episode_score,
)
