"""Reading training curves: the episode at which Tennis counts as solved."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.learning_curves import solved_at
from experiments.core.training import summarise


def rows(*pairs):
    return [
        {"env_steps": 100 * (i + 1), "episodes": n, "episode_best_return": score}
        for i, (n, score) in enumerate(pairs)
    ]


def test_solved_needs_a_full_window_of_good_episodes():
    # 60 good episodes are not 100; the next 60 complete the window at row 2.
    assert solved_at(rows((60, 0.9)), 0.5) is None
    at = solved_at(rows((50, 0.0), (60, 0.9), (60, 0.9)), 0.5)  # row 1: 54 / 110 < 0.5
    assert at == {"episode": 170, "env_steps": 300, "score": pytest.approx(0.9)}


def test_solved_weights_rows_by_their_episodes():
    # Trailing window at row 2: 80 eps at 0.6 and 40 at 0.3 -> 0.5 exactly (solved);
    # at row 1 the window is 40 at 0.3 + 80 at 0.2 -> not solved.
    at = solved_at(rows((80, 0.2), (40, 0.3), (80, 0.6)), 0.5)
    assert at is not None and at["episode"] == 200 and at["score"] == pytest.approx(0.5)
    assert solved_at(rows((80, 0.2), (40, 0.3), (79, 0.6)), 0.5) is None


def test_chunk_rows_weight_episode_means_by_episodes():
    row = summarise(
        {
            "episodes": np.array([1.0, 3.0]),
            "episode_return": np.array([1.0, 0.0]),
            "loss": np.array([2.0, 4.0]),
        }
    )
    assert row == {"episodes": 4.0, "episode_return": 0.25, "loss": 3.0}
