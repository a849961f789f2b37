"""Ratings from a table of match results: sequential ELO, a Bradley–Terry fit, and the
game-theoretic ratings of ``analysis.game_ratings`` beside them.

A match is ``(a, b, score)`` with ``score`` the first player's result: 1 win, 0.5 draw, 0 loss.
Sequential ELO (ML-Agents, the AI-vs-AI ladder) depends on the order matches were played;
the Bradley–Terry maximum-likelihood fit does not, and its bootstrap intervals (resampling
matches) are what a comparison should report. Both are on the ELO scale: a 400-point gap
means 10:1 odds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from analysis.game_ratings import alpha_rank, nash_average, score_matrix

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


def one_blas_thread() -> threadpool_limits:
    """A context for many tiny solves: L-BFGS-B's and SLSQP's BLAS calls on a handful of
    variables, spread over OpenBLAS's threads, ran 80x slower (12 s against 0.14 s for one
    rating table) on 2 cores busy with training."""
    return threadpool_limits(limits=1, user_api="blas")


def bradley_terry(
    a: np.ndarray,
    b: np.ndarray,
    score: np.ndarray,
    num_players: int,
    prior: float = 1e-3,
    mean: float = 1200.0,
    count: np.ndarray | None = None,
) -> np.ndarray:
    """Maximum-likelihood strengths (ELO scale, centred on ``mean``).

    Draws count as half a win for each side. The tiny Gaussian ``prior`` on the log-strengths
    keeps a player who won (or lost) every match finite instead of infinite. ``count``: how
    many games each ``(a, b, score)`` row stands for (default one each; ``game_cells``).
    """
    a, b, score = np.asarray(a), np.asarray(b), np.asarray(score, np.float64)
    count = np.ones(score.shape) if count is None else np.asarray(count, np.float64)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        diff = theta[a] - theta[b]
        p = 1.0 / (1.0 + np.exp(-diff))
        eps = 1e-12
        nll = -np.sum(count * (score * np.log(p + eps) + (1.0 - score) * np.log(1.0 - p + eps)))
        nll += 0.5 * prior * np.sum(theta**2)
        g = count * (score - p)  # d log-likelihood / d diff
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
    """Percentile intervals ``(low, high)`` of the Bradley–Terry ratings over resamples of the
    games (with replacement). A resample draws how often each distinct game result
    (``game_cells``) occurs, a multinomial, so a fit costs the same for 100 games or 10^6."""
    a, b, score, count = game_cells(a, b, score)
    rng = np.random.default_rng(seed)
    total = int(count.sum())
    fits = np.empty((resamples, num_players))
    with one_blas_thread():
        for r in range(resamples):
            drawn = rng.multinomial(total, count / total)
            fits[r] = bradley_terry(a, b, score, num_players, count=drawn)
    tail = (1.0 - level) / 2.0 * 100.0
    return np.percentile(fits, tail, axis=0), np.percentile(fits, 100.0 - tail, axis=0)


def game_cells(
    a: np.ndarray, b: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The distinct ``(a, b, score)`` game results and how many games each stands for: what
    Bradley–Terry needs of a table of games, whatever its length."""
    rows = np.stack([np.asarray(a, np.float64), np.asarray(b, np.float64), np.asarray(score)], 1)
    cells, count = np.unique(rows.reshape(-1, 3), axis=0, return_counts=True)
    return cells[:, 0].astype(int), cells[:, 1].astype(int), cells[:, 2], count.astype(np.float64)


def games_from_matches(
    matches: pd.DataFrame, names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One ``(a, b, score)`` per game from a match table (``player0``, ``player1``,
    ``wins0``, ``draws``, ``wins1``, ``seed``; see ``experiments.tournament``).

    Games inside a match are put in a random order drawn from the match's seed, so sequential
    ELO sees them interleaved (as if played one at a time) and the order is reproducible.
    """
    index = {name: i for i, name in enumerate(names)}
    a, b, score = [], [], []
    for row in matches.itertuples(index=False):
        results = np.repeat([1.0, 0.5, 0.0], [row.wins0, row.draws, row.wins1])
        results = np.random.default_rng(row.seed).permutation(results)
        a.append(np.full(results.size, index[row.player0]))
        b.append(np.full(results.size, index[row.player1]))
        score.append(results)
    if not score:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    return np.concatenate(a), np.concatenate(b), np.concatenate(score)


def rating_table(
    matches: pd.DataFrame,
    names: Sequence[str],
    resamples: int = 200,
    seed: int = 0,
    game_ratings: bool = True,
) -> pd.DataFrame:
    """Per player: games, W/D/L, mean score, sequential ELO (K = 16, in table order), the
    Bradley–Terry rating and (``resamples`` > 0) its bootstrap 95% interval, and the ratings of
    the empirical game (``analysis.game_ratings``): the Nash-averaged rating ``nash`` (the
    expected score margin against the maximum-entropy Nash mixture, 0 for its members) with
    the player's ``nash_mass`` in that mixture, and α-Rank's mass ``alpharank`` (unless
    ``game_ratings`` is off: matchmaking needs only the order); best BT first."""
    names = list(names)
    a, b, score = games_from_matches(matches, names)
    n = len(names)
    both = np.concatenate([a, b])
    mine = np.concatenate([score, 1.0 - score])
    table = pd.DataFrame(
        {
            "name": names,
            "games": np.bincount(both, minlength=n),
            "wins": np.bincount(both, mine == 1.0, n).astype(int),
            "draws": np.bincount(both, mine == 0.5, n).astype(int),
            "losses": np.bincount(both, mine == 0.0, n).astype(int),
        }
    )
    table["score"] = np.bincount(both, mine, n) / np.maximum(table["games"], 1)
    table["elo"] = sequential_elo(a, b, score, n)
    with one_blas_thread():
        if a.size:
            cell_a, cell_b, cell_score, count = game_cells(a, b, score)
            table["bt"] = bradley_terry(cell_a, cell_b, cell_score, n, count=count)
        else:
            table["bt"] = 1200.0
        if resamples > 0 and a.size:
            table["bt_low"], table["bt_high"] = bootstrap_intervals(
                a, b, score, n, resamples, seed=seed
            )
        if game_ratings:  # the empirical game: ratings that no copy or cycle fools
            scores = score_matrix(matches, names)
            table["nash_mass"], table["nash"] = nash_average(scores)
            table["alpharank"] = alpha_rank(scores)
    return table.sort_values("bt", ascending=False, kind="stable").reset_index(drop=True)


def role_matches(matches: pd.DataFrame, roles: Sequence[str]) -> pd.DataFrame:
    """An asymmetric game's matches between *role players*: ``<name>/<behaviour>`` for the
    behaviour each side played (team 0 plays ``roles[0]``), so that ``rating_table`` rates
    each player's strikers and goalie apart, on one scale."""
    return matches.assign(
        player0=matches["player0"] + "/" + roles[0], player1=matches["player1"] + "/" + roles[1]
    )


def role_rating_table(
    matches: pd.DataFrame, roles: Sequence[str], resamples: int = 200, seed: int = 0
) -> pd.DataFrame:
    """``rating_table`` over the role players of ``role_matches``, with each one's
    ``player`` and ``behaviour`` columns."""
    by_role = role_matches(matches, roles)
    names = sorted(set(by_role["player0"]) | set(by_role["player1"]))
    table = rating_table(by_role, names, resamples, seed)
    split = table["name"].str.rsplit("/", n=1)
    return table.assign(player=split.str[0], behaviour=split.str[1])
