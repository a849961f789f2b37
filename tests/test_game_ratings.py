"""Nash averaging and α-Rank on games whose answers are known: copies move no Nash-averaged
rating, a cycle shares the mass, a dominated player gets none, α-Rank equals OpenSpiel's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from open_spiel.python.egt import alpharank as openspiel_alpharank

from analysis.game_ratings import alpha_rank, nash_average, score_matrix
from analysis.ratings import rating_table


def symmetric_scores(upper: np.ndarray) -> np.ndarray:
    """A score matrix from its upper triangle: S[j, i] = 1 - S[i, j], 0.5 on the diagonal."""
    n = len(upper)
    s = np.triu(upper, 1)
    s = s + np.tril(1.0 - s.T, -1)
    s[np.diag_indices(n)] = 0.5
    return s


def with_copies(scores: np.ndarray, copies: list[int]) -> np.ndarray:
    """The game with a copy of each player in ``copies`` appended (a copy plays exactly as
    its original, and even against it)."""
    index = list(range(len(scores))) + copies
    return scores[np.ix_(index, index)]


# Rock, paper, scissors with uneven margins, a player that beats rock but loses to the rest,
# and one dominated by everyone.
GAME = symmetric_scores(
    np.array(
        [
            [0.5, 0.2, 0.9, 0.3, 0.95],
            [0.0, 0.5, 0.35, 0.6, 0.9],
            [0.0, 0.0, 0.5, 0.7, 0.8],
            [0.0, 0.0, 0.0, 0.5, 0.7],
            [0.0, 0.0, 0.0, 0.0, 0.5],
        ]
    )
)


def test_nash_average_of_a_cycle_is_flat_and_dominated_players_get_no_mass():
    mass, rating = nash_average(GAME)
    assert mass.sum() == pytest.approx(1.0)
    assert mass[4] < 1e-6  # beaten by everyone
    assert (mass[:3] > 0.05).all()  # the cycle holds the equilibrium
    assert rating[:3] == pytest.approx(0.0, abs=1e-6)  # its members break even against it
    assert rating[4] < -0.2  # and the dominated player loses to it
    assert (GAME - 0.5) @ mass == pytest.approx(rating)


@pytest.mark.parametrize("copies", [[0], [0, 0, 1], [3], [4, 4], [0, 3, 4]])
def test_copies_move_no_nash_averaged_rating(copies):
    """Balduzzi et al.'s invariance: whoever is copied, and however often, every original
    keeps its rating, each copy gets its original's, and the copies share one mass."""
    mass, rating = nash_average(GAME)
    bigger = with_copies(GAME, copies)
    more_mass, more_rating = nash_average(bigger)
    n = len(GAME)
    assert more_rating[:n] == pytest.approx(rating, abs=1e-6)
    assert more_rating[n:] == pytest.approx(rating[copies], abs=1e-6)
    for player in set(copies):
        shared = more_mass[player] + more_mass[n:][np.array(copies) == player].sum()
        assert shared == pytest.approx(mass[player], abs=1e-5)


def test_a_transitive_game_puts_all_the_mass_on_the_best():
    order = symmetric_scores(np.full((4, 4), 0.8))  # each beats every later one
    mass, rating = nash_average(order)
    assert mass[0] == pytest.approx(1.0, abs=1e-6)
    assert rating == pytest.approx([0.0, -0.3, -0.3, -0.3], abs=1e-6)
    pi = alpha_rank(order)
    assert pi[0] > 0.99 and np.argsort(-pi)[0] == 0


def test_an_equilibrium_on_a_face_is_found_with_its_maximum_entropy():
    """Player 0 ties with 1 and 5 and beats the rest; 5 beats 2, 3 and 4 by much. The
    equilibria mix 0 and 5 with weight a >= 35/37 on 0 (player 4's margin
    -0.02 a + 0.35 (1 - a) <= 0 binds), so the maximum-entropy one is a = 35/37. Started at
    the uniform mixture, SLSQP stopped on this face without an answer."""
    scores = symmetric_scores(
        np.array(
            [
                [0.5, 0.5, 0.55, 0.53, 0.52, 0.5],
                [0, 0.5, 0.63, 0.12, 0.53, 0.49],
                [0, 0, 0.5, 0.88, 0.88, 0.32],
                [0, 0, 0, 0.5, 0.56, 0.8],
                [0, 0, 0, 0, 0.5, 0.85],
                [0, 0, 0, 0, 0, 0.5],
            ]
        )
    )
    mass, rating = nash_average(scores)
    assert mass == pytest.approx([35 / 37, 0, 0, 0, 0, 2 / 37], abs=1e-6)
    assert rating[[0, 4, 5]] == pytest.approx(0.0, abs=1e-6) and (rating <= 1e-7).all()


@pytest.mark.parametrize("alpha", [0.5, 5.0, 100.0])
def test_alpha_rank_is_openspiels(alpha):
    rng = np.random.default_rng(int(alpha * 10))
    for n in (2, 3, 5, 7):
        scores = symmetric_scores(rng.uniform(0.0, 1.0, (n, n)))
        expected = openspiel_alpharank.compute([scores], m=50, alpha=alpha)[2]
        assert alpha_rank(scores, alpha) == pytest.approx(expected, abs=1e-8)


def test_the_score_matrix_pools_both_sides_and_counts_unplayed_pairs_as_even():
    matches = pd.DataFrame(
        {
            "player0": ["a", "b", "a"],
            "player1": ["b", "a", "x"],  # x is not rated here
            "wins0": [3, 1, 5],
            "draws": [1, 0, 0],
            "wins1": [0, 3, 0],
        }
    )
    scores = score_matrix(matches, ["a", "b", "c"])
    # a vs b: 3 wins + 1 draw as team 0, 3 wins as team 1, out of 8 games.
    assert scores[0, 1] == pytest.approx(6.5 / 8) and scores[1, 0] == pytest.approx(1.5 / 8)
    assert scores[0, 2] == scores[2, 1] == scores[2, 2] == 0.5


def test_rating_table_carries_both_beside_bradley_terry():
    matches = pd.DataFrame(
        {
            "player0": ["r", "p", "s"],
            "player1": ["s", "r", "p"],
            "wins0": [9, 9, 9],
            "draws": [0, 0, 0],
            "wins1": [1, 1, 1],
            "seed": [0, 1, 2],
        }
    )
    table = rating_table(matches, ["r", "p", "s"], resamples=0).set_index("name")
    assert table["nash_mass"].to_numpy() == pytest.approx([1 / 3] * 3, abs=1e-5)
    assert table["alpharank"].to_numpy() == pytest.approx([1 / 3] * 3, abs=1e-6)
