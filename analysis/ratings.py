"""Ratings from a table of match results: sequential ELO and a Bradley–Terry fit.

A match is ``(a, b, score)`` with ``score`` the first player's result: 1 win, 0.5 draw, 0 loss.
Sequential ELO (ML-Agents, the AI-vs-AI ladder) depends on the order matches were played;
the Bradley–Terry maximum-likelihood fit does not, and its bootstrap intervals (resampling
matches) are what a comparison should report. Both are on the ELO scale: a 400-point gap
means 10:1 odds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize

ELO_SCALE = 400.0 / np.log(10.0)  # natural-log strength -> ELO points


def sequential_elo(
    a: Sequence[int],
    b: Sequence[int],
    score: Sequence[float],
    num_players: int,
    k: float = 16.0,
    initial: float = 1200.0,
) -> np.ndarray:
    """ELO after replaying the matches in order: each moves both players by ``k (S - E)``."""
    ratings = np.full(num_players, initial, np.float64)
    for i, j, s in zip(a, b, score, strict=True):
        expected = 1.0 / (1.0 + 10.0 ** ((ratings[j] - ratings[i]) / 400.0))
        delta = k * (s - expected)
        ratings[i] += delta
        ratings[j] -= delta
    return ratings


def bradley_terry(
    a: np.ndarray,
    b: np.ndarray,
    score: np.ndarray,
    num_players: int,
    prior: float = 1e-3,
    mean: float = 1200.0,
) -> np.ndarray:
    """Maximum-likelihood strengths (ELO scale, centred on ``mean``).

    Draws count as half a win for each side. The tiny Gaussian ``prior`` on the log-strengths
    keeps a player who won (or lost) every match finite instead of infinite.
    """
    a, b, score = np.asarray(a), np.asarray(b), np.asarray(score, np.float64)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        diff = theta[a] - theta[b]
        p = 1.0 / (1.0 + np.exp(-diff))
        eps = 1e-12
        nll = -np.sum(score * np.log(p + eps) + (1.0 - score) * np.log(1.0 - p + eps))
        nll += 0.5 * prior * np.sum(theta**2)
        g = score - p  # d log-likelihood / d diff
        grad = -(np.bincount(a, g, num_players) - np.bincount(b, g, num_players))
        return nll, grad + prior * theta

    theta = minimize(loss, np.zeros(num_players), jac=True, method="L-BFGS-B").x
    return mean + ELO_SCALE * (theta - theta.mean())


def bootstrap_intervals(
    a: np.ndarray,
    b: np.ndarray,
    score: np.ndarray,
    num_players: int,
    resamples: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals ``(low, high)`` of the Bradley–Terry ratings over match resamples."""
    a, b, score = np.asarray(a), np.asarray(b), np.asarray(score)
    rng = np.random.default_rng(seed)
    fits = np.empty((resamples, num_players))
    for r in range(resamples):
        idx = rng.integers(0, a.size, a.size)
        fits[r] = bradley_terry(a[idx], b[idx], score[idx], num_players)
    tail = (1.0 - level) / 2.0 * 100.0
    return np.percentile(fits, tail, axis=0), np.percentile(fits, 100.0 - tail, axis=0)
