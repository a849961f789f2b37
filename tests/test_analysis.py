"""Aggregates with known answers, and every figure from fixture data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from rliable import metrics

from analysis import plots, report
from analysis.aggregate import (
    aggregate_table,
    algo_head_to_head,
    group_ratings,
    improvement_table,
    pair_counts,
    probability_of_improvement,
    task_scores,
)


def test_stratified_bootstrap_brackets_the_truth_and_separates_algorithms():
    rng = np.random.default_rng(0)
    strong = np.clip(0.8 + 0.05 * rng.standard_normal((10, 3)), 0, 1)
    weak = np.clip(0.3 + 0.05 * rng.standard_normal((10, 3)), 0, 1)
    table = aggregate_table({"strong": strong, "weak": weak}, reps=300).set_index(
        ["algo", "metric"]
    )
    iqm = table.loc[("strong", "IQM")]
    assert iqm["low"] <= iqm["estimate"] <= iqm["high"]
    assert iqm["low"] < 0.8 < iqm["high"]  # the population IQM is the mean, 0.8
    assert table.loc[("strong", "IQM"), "low"] > table.loc[("weak", "IQM"), "high"]
    gap = table.loc[("weak", "optimality gap"), "estimate"]
    assert gap == pytest.approx(1.0 - weak.mean(), abs=1e-6)  # no score above 1

    imp = improvement_table({"strong": strong, "weak": weak}, reps=300).set_index(["x", "y"])
    assert imp.loc[("strong", "weak"), "p_x_beats_y"] == 1.0
    assert imp.loc[("weak", "strong"), "p_x_beats_y"] == 0.0
    # Our vectorised P(X > Y) is rliable's, ties included.
    ties = np.round(weak * 4) / 4
    for x, y in ((strong, weak), (weak, ties), (ties, np.round(strong * 4) / 4)):
        assert probability_of_improvement(x, y) == pytest.approx(
            metrics.probability_of_improvement(x, y)
        )
    same = improvement_table({"a": weak, "b": weak}, reps=50).set_index(["x", "y"])
    assert same.loc[("a", "b"), "p_x_beats_y"] == pytest.approx(0.5)


def fixture_study():
    """Two algorithms x two seeds and a scripted player, with made-up match counts:
    A beats B 3:1, both beat the scripted player, sides alternate."""
    players = pd.DataFrame(
        {
            "name": ["A/seed0", "A/seed1", "B/seed0", "B/seed1", "scripted/x"],
            "env": "g",
            "kind": ["trained"] * 4 + ["scripted"],
            "algo": ["A", "A", "B", "B", "scripted-x"],
            "seed": [0, 1, 0, 1, None],
        }
    )
    rows = []
    for a in ("A/seed0", "A/seed1"):
        for b in ("B/seed0", "B/seed1"):
            rows.append((a, b, 15, 0, 5))
            rows.append((b, a, 5, 0, 15))
    for p in players["name"][:4]:
        rows.append((p, "scripted/x", 9, 2, 1 if p.startswith("A") else 5))
    matches = pd.DataFrame(rows, columns=["player0", "player1", "wins0", "draws", "wins1"])
    matches = matches.assign(
        env="g",
        games=matches["wins0"] + matches["draws"] + matches["wins1"],
        seed=np.arange(len(matches)),
        round=0,
    )
    return matches, players


def test_head_to_head_and_task_scores_from_a_match_table():
    matches, players = fixture_study()
    counts = pair_counts(matches).set_index(["player", "opponent"])
    assert counts.loc[("A/seed0", "B/seed1"), "wins"] == 30  # both sides pooled
    h2h = algo_head_to_head(matches, players, reps=200).set_index(["algo", "opponent"])
    assert h2h.loc[("A", "B"), "score"] == pytest.approx(0.75)
    assert h2h.loc[("B", "A"), "score"] == pytest.approx(0.25)
    # Every seed of A scores 0.75 against every seed of B, so resampling seeds cannot move it.
    assert h2h.loc[("A", "B"), "low"] == pytest.approx(0.75)
    assert h2h.loc[("A", "B"), "draws"] == 0
    assert h2h.loc[("A", "scripted-x"), ["games", "draws"]].tolist() == [24, 4]
    tasks, scores = task_scores(matches, players)["g"]
    assert tasks == ["scripted/x"]
    np.testing.assert_allclose(scores["A"], [[10 / 12], [10 / 12]])
    np.testing.assert_allclose(scores["B"], [[10 / 16], [10 / 16]])


def has_content(fig: Figure) -> bool:
    return any(ax.lines or ax.collections or ax.patches or ax.images for ax in fig.axes)


def test_every_plot_draws_something_from_fixture_data():
    steps = np.tile(np.arange(1, 6) * 1000, 4)
    curves = pd.DataFrame(
        {
            "env": np.repeat(["soccer_twos", "tennis"], 10),
            "algo": np.tile(np.repeat(["A", "B"], 5), 2),
            "seed": 0,
            "env_steps": steps,
            "elo": 1200 + steps / 100,
            "episode_best_return": steps / 5000,
        }
    )
    matches, players = fixture_study()
    h2h = algo_head_to_head(matches, players, reps=50)
    ratings = pd.DataFrame(
        {
            "env": "g",
            "name": ["A/seed0", "B/seed0"],
            "group": ["A", "B"],
            "bt": [1300.0, 1100.0],
            "bt_low": [1250.0, 1050.0],
            "bt_high": [1350.0, 1150.0],
        }
    )
    _, scores = task_scores(matches, players)["g"]
    agg = aggregate_table(scores, reps=50).assign(env="g")
    imp = improvement_table(scores, reps=50).assign(env="g")
    figures = [
        plots.elo_curves(curves),
        plots.score_curves(curves, "tennis", 0.5),
        plots.win_rate_matrix(h2h),
        plots.rating_intervals(ratings),
        plots.aggregate_intervals(agg),
        plots.improvement_intervals(imp),
    ]
    for fig in figures:
        assert has_content(fig), fig
    solved_line = [ln for ln in figures[1].axes[0].lines if ln.get_linestyle() == "--"]
    assert solved_line and solved_line[0].get_ydata()[0] == 0.5


def test_group_ratings_average_a_groups_players_with_an_interval_over_them():
    ratings = pd.DataFrame(
        {
            "env": ["g"] * 5,
            "group": ["poca", "poca", "poca", "poca", "mlagents"],
            "bt": [1000.0, 1100.0, 1200.0, 1300.0, 1250.0],
            "bt_low": [990.0, 1090.0, 1190.0, 1290.0, 1230.0],
            "bt_high": [1010.0, 1110.0, 1210.0, 1310.0, 1270.0],
        }
    )
    table = group_ratings(ratings, reps=500).set_index("group")
    poca, reference = table.loc["poca"], table.loc["mlagents"]
    assert poca["players"] == 4 and poca["bt"] == pytest.approx(1150.0)
    # Resampling the players: wider than any one player's interval, inside their range.
    assert 1000.0 <= poca["low"] < 1100.0 and 1200.0 < poca["high"] <= 1300.0
    assert (poca["best"], poca["worst"]) == (1300.0, 1000.0)
    # One player: its own interval over games.
    assert (reference["low"], reference["high"]) == (1230.0, 1270.0)
    assert list(table.index) == ["mlagents", "poca"]  # best mean first


def test_findings_state_the_worst_run_and_when_a_solvable_game_was_solved():
    """The sentences the paper quotes carry the worst seed beside the mean, and a game with a
    solved score says how many runs solved it and when; a game without one says neither."""
    h2h = pd.DataFrame(
        [
            ("tennis", "ippo", "poca", 0.6, 0.55, 0.65, 40, 30),
            ("tennis", "poca", "ippo", 0.4, 0.35, 0.45, 40, 30),
        ],
        columns=["env", "algo", "opponent", "score", "low", "high", "games", "draws"],
    )
    groups = pd.DataFrame(
        [("tennis", "ippo", 2, 1200.0, 1150.0, 1250.0, 1250.0, 1150.0)],
        columns=["env", "group", "players", "bt", "low", "high", "best", "worst"],
    )
    summary = pd.DataFrame(
        [
            ("tennis", "ippo", 2, 2048, 120.0, 900.0, 1.5, 0.4, 1, 870400.0, None),
            ("tennis", "poca", 2, 2048, 60.0, 900.0, np.nan, np.nan, 0, np.nan, None),
        ],
        columns=[
            "env", "algo", "runs", "env_steps", "train_wall_s", "env_steps_per_s",
            "game_score", "game_score_worst", "solved_runs", "solved_at_env_steps",
            "stalled_runs",
        ],
    )  # fmt: skip
    vs_fixed = pd.DataFrame(
        [("tennis", "ippo", "mlagents/Tennis", 2, 2048, 0.55, 0.31, 0.3, 0.8)],
        columns=["env", "algo", "opponent", "runs", "env_steps", "score", "worst", "low", "high"],
    )
    empty = pd.DataFrame(columns=["env", "algo", "metric", "estimate", "low", "high"])
    imp = pd.DataFrame(columns=["env", "x", "y", "p_x_beats_y", "low", "high"])
    text = report.findings(h2h, empty, imp, summary, groups, vs_fixed)
    assert "ippo 1200 [1150, 1250] (worst 1150)" in text
    assert (
        "ippo vs poca: score 0.600 [95% CI 0.550, 0.650] over 40 games (30 drawn): ippo wins"
        in text
    )
    assert "over 2 runs, worst run 0.310." in text
    ippo, poca = (line for line in text.splitlines() if line.startswith(("- ippo:", "- poca:")))
    assert ippo.endswith(
        "solved in 1 of 2 (median at 870,400 env steps); final game score 1.50, worst run 0.40."
    )
    assert "solved" not in poca and poca.endswith("each (mean).")


def test_equal_compute_takes_each_runs_last_snapshot_within_the_cheapest_full_run():
    """A slow algorithm is judged at the env steps it reaches in the time the fastest needs
    for the whole budget: here ``fast`` trains 4x faster, so ``slow`` is read at a quarter of
    the budget, its snapshot at 100 steps, not at 400, and not at 200 (past a quarter)."""
    speed = pd.DataFrame(
        [("g", "fast", 40.0), ("g", "slow", 10.0)], columns=["env", "algo", "env_steps_per_s"]
    )
    rows = []
    for algo, seed, scores in [
        ("fast", 0, [0.2, 0.4, 0.6, 0.7]),
        ("fast", 1, [0.2, 0.4, 0.6, 0.5]),
        ("slow", 0, [0.3, 0.8, 0.9, 1.0]),
        ("slow", 1, [0.1, 0.8, 0.9, 1.0]),
    ]:
        for steps, score in zip([100, 200, 300, 400], scores, strict=True):
            rows.append(("g", algo, seed, steps, "scripted/x", score))
    fixed = pd.DataFrame(rows, columns=["env", "algo", "seed", "env_steps", "opponent", "score"])
    fixed = report.compute_minutes(fixed, speed)
    assert fixed["compute_min"].max() == pytest.approx(400 / 10 / 60)
    table = report.equal_compute_scores(fixed, reps=200).set_index("algo")
    assert table.loc["fast", "budget_min"] == pytest.approx(400 / 40 / 60)
    assert table.loc["fast", "env_steps"] == 400 and table.loc["slow", "env_steps"] == 100
    assert table.loc["fast", "score"] == pytest.approx(0.6)
    assert table.loc["slow", "score"] == pytest.approx(0.2)
    assert table.loc["slow", "worst"] == pytest.approx(0.1)
    assert table.loc["slow", "low"] <= 0.2 <= table.loc["slow", "high"]


def test_the_all_games_aggregate_keeps_every_run_an_algorithm_has_in_every_game():
    """B has one run in game h; A keeps both of its runs in the aggregate over the games
    (scores 10/12 and 4/12 on every task, mean 7/12), B its one (6/12)."""
    players = pd.DataFrame(
        {
            "name": ["A/seed0", "A/seed1", "B/seed0", "B/seed1", "scripted/x"] * 2,
            "env": ["g"] * 5 + ["h"] * 5,
            "kind": (["trained"] * 4 + ["scripted"]) * 2,
            "algo": ["A", "A", "B", "B", "scripted-x"] * 2,
            "seed": [0, 1, 0, 1, None] * 2,
        }
    )
    wins = {"A/seed0": 10, "A/seed1": 4, "B/seed0": 6, "B/seed1": 2}
    rows = [
        (env, p, "scripted/x", w, 0, 12 - w)
        for env in ("g", "h")
        for p, w in wins.items()
        if (env, p) != ("h", "B/seed1")
    ]
    matches = pd.DataFrame(rows, columns=["env", "player0", "player1", "wins0", "draws", "wins1"])
    matches = matches.assign(games=12, seed=np.arange(len(matches)), round=0)
    agg, _ = report.aggregates(matches, players, reps=50)
    mean = agg[(agg["env"] == "all") & (agg["metric"] == "mean")].set_index("algo")["estimate"]
    assert mean["A"] == pytest.approx(7 / 12)
    assert mean["B"] == pytest.approx(6 / 12)
