"""Ratings from the empirical game, which redundant players and cycles cannot fool.

Bradley–Terry and ELO assume a transitive order and count every opponent once: a pool with
five copies of one player rewards whoever beats that player five times over, and a
rock-paper-scissors cycle gets an arbitrary order. Two game-theoretic ratings read the matrix
of mean scores ``S`` (``S[i, j]``: player i's score against j, (wins + draws / 2) / games,
both sides pooled, so ``S + S.T = 1``) instead:

- **Nash averaging** (Balduzzi et al. 2018): the maximum-entropy Nash equilibrium ``p`` of
  the zero-sum game ``A = S - 1/2``, and each player's rating ``(A p)_i``, its expected margin
  against that equilibrium mixture. Zero for the players the equilibrium uses, below zero for
  the others. Adding a copy of a player splits its mass between the copies and moves no one's
  rating.
- **α-Rank** (Omidshafiei et al. 2019): the stationary distribution of an evolutionary
  process in which a population playing one player is invaded by another with a probability
  that grows with the score margin between them. The mass is the share of time the process
  spends on each player; a cycle shares it. The single-population model with local selection
  and OpenSpiel's defaults (``egt.alpharank.compute``: population 50, α = 100), against which
  the tests check it.

Pairs that never met count as even (0.5): both ratings need a full matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linprog, minimize


def score_matrix(matches: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """``S[i, j]``: ``names[i]``'s mean score against ``names[j]`` over every game between
    them, on both sides (a match table's ``player0``, ``player1``, ``wins0``, ``draws``,
    ``wins1``); 0.5 on the diagonal and for pairs that never met."""
    index = {name: i for i, name in enumerate(names)}
    n = len(index)
    points, games = np.zeros((n, n)), np.zeros((n, n))
    for row in matches.itertuples(index=False):
        if row.player0 not in index or row.player1 not in index:
            continue
        i, j = index[row.player0], index[row.player1]
        total = row.wins0 + row.draws + row.wins1
        points[i, j] += row.wins0 + 0.5 * row.draws
        points[j, i] += row.wins1 + 0.5 * row.draws
        games[i, j] += total
        games[j, i] += total
    return np.where(games > 0, points / np.maximum(games, 1), 0.5)


def nash_average(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The maximum-entropy Nash mixture of the symmetric zero-sum game ``scores - 1/2`` and
    each player's Nash-averaged rating (its expected margin against the mixture).

    The equilibria are the polytope ``{p >= 0, sum p = 1, A p <= 0}``. Its support (the
    players some equilibrium plays) and a point inside it come from one linear program per
    player (maximise ``p_i``); entropy is then maximised over the support from that point.
    Starting inside matters: a pool with one dominant player has a single equilibrium, a
    corner, where a solver started at the uniform mixture finds no feasible direction."""
    margin = np.asarray(scores, np.float64) - 0.5
    margin = 0.5 * (margin - margin.T)  # exactly antisymmetric, whatever the rounding
    n = len(margin)
    support, start = _equilibrium_support(margin)
    p = np.zeros(n)
    if len(support) == 1:
        p[support] = 1.0
        return p, margin @ p
    cols = margin[:, support]

    def neg_entropy(q: np.ndarray) -> tuple[float, np.ndarray]:
        safe = np.maximum(q, 1e-300)
        return float(np.sum(q * np.log(safe))), np.log(safe) + 1.0

    result = minimize(
        neg_entropy,
        start[support],
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * len(support),
        constraints=[
            {"type": "eq", "fun": lambda q: q.sum() - 1.0, "jac": lambda q: np.ones((1, len(q)))},
            # A p <= 0: no player gains against the mixture (the game's value is 0)
            {"type": "ineq", "fun": lambda q: -cols @ q, "jac": lambda q: -cols},
        ],
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    # SLSQP may stop on a face of the set and say it failed; its point still counts if it is
    # an equilibrium, else the LP's (which is one)
    q = np.clip(result.x, 0.0, None)
    q /= q.sum()
    p[support] = q if np.max(cols @ q) <= EQUILIBRIUM_TOL else start[support]
    return p, margin @ p


EQUILIBRIUM_TOL = 1e-7  # mass below this is not played; a gain below it is none


def _equilibrium_support(margin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The players some Nash mixture of ``margin`` plays, and a mixture inside the set of
    equilibria (the mean of the maximisers of each such player's mass)."""
    n = len(margin)
    maximisers = []
    for i in range(n):
        objective = np.zeros(n)
        objective[i] = -1.0
        result = linprog(
            objective,
            A_ub=margin,
            b_ub=np.zeros(n),
            A_eq=np.ones((1, n)),
            b_eq=[1.0],
            bounds=(0.0, None),
            method="highs",
        )
        if result.status != 0:
            raise RuntimeError(f"Nash averaging: the equilibrium LP failed ({result.message})")
        maximisers.append(result.x)
    support = np.flatnonzero([x[i] > EQUILIBRIUM_TOL for i, x in enumerate(maximisers)])
    return support, np.mean([maximisers[i] for i in support], axis=0)


def alpha_rank(scores: np.ndarray, alpha: float = 100.0, population: int = 50) -> np.ndarray:
    """α-Rank's stationary mass per player (single population, local selection: a rogue r
    takes over a population of s with the Fermi fixation probability of its margin)."""
    scores = np.asarray(scores, np.float64)
    n = len(scores)
    if n == 1:
        return np.ones(1)
    u = alpha * (scores.T - scores)  # u[s, r]: payoff of r against s minus that of s against r
    rho = np.full_like(u, 1.0 / population)  # a neutral mutant (u = 0)
    up, down = u > 1e-14, u < -1e-14
    # (1 - e^-u) / (1 - e^-mu), written so that no exponent is positive
    rho[up] = np.expm1(-u[up]) / np.expm1(-population * u[up])
    rho[down] = (
        np.exp((population - 1) * u[down]) * np.expm1(u[down]) / np.expm1(population * u[down])
    )
    chain = rho / (n - 1)
    np.fill_diagonal(chain, 0.0)
    np.fill_diagonal(chain, 1.0 - chain.sum(axis=1))
    # The stationary distribution: pi (C - I) = 0 with sum(pi) = 1, solved in least squares.
    system = np.vstack([(chain - np.eye(n)).T, np.ones((1, n))])
    target = np.concatenate([np.zeros(n), [1.0]])
    pi = np.linalg.lstsq(system, target, rcond=None)[0]
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()
