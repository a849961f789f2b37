"""Aggregate comparisons across runs with intervals (Agarwal et al. 2021, rliable).

Scores are per run and task (a task here: one fixed opponent in one game, scripted or a
reference player such as ML-Agents' own model, the score being
``(wins + draws / 2) / games`` from the tournament, so 1 is a perfect result). The metrics
are rliable's (IQM, optimality gap; the probability of improvement is rliable's statistic,
vectorised here). Intervals come from the
stratified bootstrap of the paper: runs are resampled with replacement within each task. We
do the resampling here because ``rliable.library`` needs ``arch < 8``, which does not import
under pandas 3.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from rliable import metrics

AGGREGATES: dict[str, Callable[[np.ndarray], float]] = {
    "IQM": metrics.aggregate_iqm,
    "mean": metrics.aggregate_mean,
    "optimality gap": metrics.aggregate_optimality_gap,
}


def _resample(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Runs drawn with replacement, independently for every task (column)."""
    runs, tasks = scores.shape
    return scores[rng.integers(0, runs, (runs, tasks)), np.arange(tasks)]


def _interval(estimates: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.nanpercentile(estimates, [tail, 100.0 - tail])
    return float(low), float(high)


def aggregate_table(
    scores: Mapping[str, np.ndarray], reps: int = 2000, level: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Per algorithm and aggregate: point estimate and stratified-bootstrap interval.

    ``scores[algo]`` is ``[runs, tasks]``.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for algo, s in scores.items():
        s = np.asarray(s, np.float64)
        draws = [_resample(s, rng) for _ in range(reps)]
        for name, fn in AGGREGATES.items():
            low, high = _interval(np.array([fn(d) for d in draws]), level)
            rows.append(
                {"algo": algo, "metric": name, "estimate": float(fn(s)), "low": low, "high": high}
            )
    return pd.DataFrame(rows)


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) per task, averaged over tasks: the Mann–Whitney U statistic over
    ``n_x n_y``, which is what ``rliable.metrics.probability_of_improvement`` computes.

    Works on stacks of resamples (``[..., runs, tasks]``) at once; rliable's loops over tasks
    and calls scipy's test each time, about 20 ms per call, too slow for thousands of
    bootstrap resamples.
    """
    diff = x[..., :, None, :] - y[..., None, :, :]  # [..., runs_x, runs_y, tasks]
    wins = (diff > 0).astype(np.float64) + 0.5 * (diff == 0)
    return wins.mean(axis=(-3, -2)).mean(axis=-1)


def improvement_table(
    scores: Mapping[str, np.ndarray], reps: int = 2000, level: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """P(X > Y) for every ordered pair of algorithms: the chance that a random run of X
    beats a random run of Y on a random task (ties count half), with intervals."""
    rng = np.random.default_rng(seed)
    rows = []
    for x, y in itertools.permutations(scores, 2):
        sx, sy = np.asarray(scores[x], np.float64), np.asarray(scores[y], np.float64)
        bx = np.stack([_resample(sx, rng) for _ in range(reps)])
        by = np.stack([_resample(sy, rng) for _ in range(reps)])
        low, high = _interval(probability_of_improvement(bx, by), level)
        p = float(probability_of_improvement(sx, sy))
        rows.append({"x": x, "y": y, "p_x_beats_y": p, "low": low, "high": high})
    return pd.DataFrame(rows)


def pair_counts(matches: pd.DataFrame) -> pd.DataFrame:
    """Wins, draws and losses of each player against each other, both sides pooled."""
    first = matches.rename(
        columns={"player0": "player", "player1": "opponent", "wins0": "wins", "wins1": "losses"}
    )
    second = matches.rename(
        columns={"player1": "player", "player0": "opponent", "wins1": "wins", "wins0": "losses"}
    )
    both = pd.concat([first, second], ignore_index=True)
    cols = ["wins", "draws", "losses", "games"]
    return both.groupby(["env", "player", "opponent"], as_index=False)[cols].sum()


def task_scores(
    matches: pd.DataFrame, players: pd.DataFrame
) -> dict[str, tuple[list[str], dict[str, np.ndarray]]]:
    """Per env: the task names (the fixed opponents: scripted and reference players, anything
    not trained in the study) and ``{algo: [runs, tasks]}`` scores of every trained player
    against them."""
    pairs = pair_counts(matches).merge(
        players[["env", "name", "kind", "algo", "seed"]],
        left_on=["env", "player"],
        right_on=["env", "name"],
    )
    fixed = set(players.loc[players["kind"] != "trained", "name"])
    out = {}
    for env, env_pairs in pairs.groupby("env"):
        trained = env_pairs[(env_pairs["kind"] == "trained") & env_pairs["opponent"].isin(fixed)]
        trained = trained.assign(
            score=(trained["wins"] + 0.5 * trained["draws"]) / trained["games"]
        )
        table = trained.pivot_table(index=["algo", "seed"], columns="opponent", values="score")
        tasks = sorted(table.columns)
        out[env] = (
            tasks,
            {algo: table.loc[algo, tasks].to_numpy() for algo in table.index.unique("algo")},
        )
    return out


def algo_head_to_head(
    matches: pd.DataFrame,
    players: pd.DataFrame,
    reps: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Score of each algorithm (or scripted player) against each other one, pooled over seeds,
    with an interval from resampling each side's seeds: seeds, not games, are the units
    that vary between studies."""
    pairs = pair_counts(matches)
    group = dict(zip(players["name"], players["algo"], strict=True))
    pairs = pairs.assign(group=pairs["player"].map(group), opp_group=pairs["opponent"].map(group))
    rng = np.random.default_rng(seed)
    rows = []
    for (env, g, h), sub in pairs.groupby(["env", "group", "opp_group"]):
        if g == h:
            continue
        mine, theirs = sorted(sub["player"].unique()), sorted(sub["opponent"].unique())
        points = (sub["wins"] + 0.5 * sub["draws"]).to_numpy()
        games = sub["games"].to_numpy()
        i = np.searchsorted(mine, sub["player"].to_numpy())
        j = np.searchsorted(theirs, sub["opponent"].to_numpy())
        p_mat = np.zeros((len(mine), len(theirs)))
        g_mat = np.zeros_like(p_mat)
        np.add.at(p_mat, (i, j), points)
        np.add.at(g_mat, (i, j), games)
        boot = []
        for _ in range(reps):
            a = rng.integers(0, len(mine), len(mine))
            b = rng.integers(0, len(theirs), len(theirs))
            total = g_mat[np.ix_(a, b)].sum()
            boot.append(p_mat[np.ix_(a, b)].sum() / total if total else np.nan)
        low, high = _interval(np.array(boot), level)
        rows.append(
            {
                "env": env,
                "algo": g,
                "opponent": h,
                "score": p_mat.sum() / g_mat.sum() if g_mat.sum() else np.nan,
                "low": low,
                "high": high,
                "games": int(g_mat.sum()),
                "draws": int(sub["draws"].sum()),
            }
        )
    return pd.DataFrame(rows)


def group_ratings(
    ratings: pd.DataFrame, reps: int = 2000, level: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Per env and group (algorithm, or one fixed player): the mean Bradley–Terry rating of
    its players with an interval over them (players resampled: seeds are what varies
    between studies); a group of one keeps its own bootstrap interval over games."""
    rng = np.random.default_rng(seed)
    rows = []
    for (env, group), data in ratings.groupby(["env", "group"]):
        bt = data["bt"].to_numpy(np.float64)
        if len(bt) > 1:
            means = bt[rng.integers(0, len(bt), (reps, len(bt)))].mean(axis=1)
            low, high = _interval(means, level)
        else:
            low, high = float(data["bt_low"].iloc[0]), float(data["bt_high"].iloc[0])
        rows.append(
            {
                "env": env,
                "group": group,
                "players": len(bt),
                "bt": float(bt.mean()),
                "low": low,
                "high": high,
                "best": float(bt.max()),
                "worst": float(bt.min()),
            }
        )
    return pd.DataFrame(rows).sort_values(["env", "bt"], ascending=[True, False])
