"""Ratings from match tables: known strengths must come back, in order and inside intervals."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.ratings import (
    ELO_SCALE,
    bootstrap_intervals,
    bradley_terry,
    game_cells,
    sequential_elo,
)

TRUE = np.array([1000.0, 1150.0, 1250.0, 1400.0])  # ELO scale, mean 1200


def synthetic_matches(n: int, seed: int):
    """Round-robin pairs with results drawn from the Bradley–Terry model of ``TRUE``."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(1, 4, n)) % 4  # never a player against itself
    p = 1.0 / (1.0 + np.exp(-(TRUE[a] - TRUE[b]) / ELO_SCALE))
    score = (rng.random(n) < p).astype(np.float64)
    return a, b, score


def test_bradley_terry_recovers_known_strengths():
    a, b, score = synthetic_matches(20000, seed=0)
    fit = bradley_terry(a, b, score, 4)
    assert list(np.argsort(fit)) == [0, 1, 2, 3]
    np.testing.assert_allclose(fit, TRUE, atol=25.0)
    assert fit.mean() == pytest.approx(1200.0)


def test_bradley_terry_ignores_match_order_but_sequential_elo_does_not():
    a, b, score = synthetic_matches(2000, seed=1)
    order = np.argsort(score, kind="stable")  # all losses first, then all wins
    np.testing.assert_allclose(
        bradley_terry(a, b, score, 4), bradley_terry(a[order], b[order], score[order], 4), atol=1e-3
    )
    first = sequential_elo(a, b, score, 4, k=32)
    shuffled = sequential_elo(a[order], b[order], score[order], 4, k=32)
    assert np.abs(first - shuffled).max() > 20.0
    assert list(np.argsort(first)) == [0, 1, 2, 3]  # in play order it still ranks correctly


def test_sequential_elo_by_hand():
    # Equal ratings, A beats B with K = 16: +8 / -8; then a draw between 1208 and 1192.
    ratings = sequential_elo([0, 0], [1, 1], [1.0, 0.5], 2, k=16)
    e = 1 / (1 + 10 ** ((1192 - 1208) / 400))
    np.testing.assert_allclose(ratings, [1208 + 16 * (0.5 - e), 1192 - 16 * (0.5 - e)])


def test_a_perfect_record_stays_finite():
    fit = bradley_terry(np.zeros(50, int), np.ones(50, int), np.ones(50), 2)
    assert np.all(np.isfinite(fit)) and fit[0] > fit[1] + 400


def test_bootstrap_intervals_cover_the_truth_in_most_datasets():
    covered = 0
    for seed in range(10):
        a, b, score = synthetic_matches(800, seed=seed)
        low, high = bootstrap_intervals(a, b, score, 4, resamples=60, seed=seed)
        covered += np.sum((low <= TRUE) & (high >= TRUE))
    assert covered >= 0.8 * 40


def test_counted_cells_fit_as_the_games_they_stand_for():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 4, 3000)
    b = (a + rng.integers(1, 4, 3000)) % 4
    score = rng.choice([0.0, 0.5, 1.0], 3000, p=[0.4, 0.1, 0.5])
    cell_a, cell_b, cell_score, count = game_cells(a, b, score)
    assert len(cell_a) <= 4 * 3 * 3 and count.sum() == 3000
    assert bradley_terry(cell_a, cell_b, cell_score, 4, count=count) == pytest.approx(
        bradley_terry(a, b, score, 4), abs=1e-6
    )
