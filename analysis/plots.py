"""The paper's figures: each function takes tidy pandas data and returns a matplotlib figure.

Bands and error bars are 95% intervals: over seeds for curves (seaborn's bootstrap of the
mean), Bradley–Terry bootstrap intervals for ratings, stratified bootstrap for aggregates.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only: CI and the reproduction driver have no display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure


def _order(values: pd.Series) -> list[str]:
    return sorted(values.unique())


def _mean_curve(
    ax: plt.Axes, data: pd.DataFrame, y: str, algos: list[str], x: str = "env_steps"
) -> None:
    """One line per algorithm: the mean over seeds with seaborn's 95% bootstrap band."""
    sns.lineplot(data=data, x=x, y=y, hue="algo", hue_order=algos, errorbar=("ci", 95), ax=ax)


def elo_panels(curves: pd.DataFrame) -> list[tuple[str, str, str]]:
    """``(env, column, title)`` per ELO panel: one per env, or one per behaviour of an
    asymmetric game (its runs log ``elo_<behaviour>``, one rating per learner)."""
    panels = []
    for env in _order(curves["env"]):
        rows = curves[curves["env"] == env]
        own = [c for c in sorted(rows) if c.startswith("elo_") and rows[c].notna().any()]
        if own:
            panels += [(env, c, f"{env}: {c.removeprefix('elo_')}") for c in own]
        else:
            panels.append((env, "elo", env))
    return panels


def elo_curves(curves: pd.DataFrame) -> Figure:
    """Self-play ELO against env steps, one panel per env (per behaviour in an asymmetric
    game), mean and 95% band over seeds."""
    panels = elo_panels(curves)
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (env, column, title) in zip(axes[0], panels, strict=True):
        _mean_curve(ax, curves[curves["env"] == env], column, _order(curves["algo"]))
        ax.set(title=title, xlabel="env steps", ylabel="self-play ELO")
    fig.tight_layout()
    return fig


def score_curves(curves: pd.DataFrame, env: str, solved_score: float) -> Figure:
    """A game's score (the max-agent episode return; Udacity's Tennis score) during training,
    with its solved line."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    _mean_curve(ax, curves[curves["env"] == env], "episode_best_return", _order(curves["algo"]))
    ax.axhline(
        solved_score, color="black", linestyle="--", linewidth=1, label=f"solved ({solved_score})"
    )
    ax.set(title=env, xlabel="env steps", ylabel="score (mean max return)")
    ax.legend()
    fig.tight_layout()
    return fig


def win_rate_matrix(head_to_head: pd.DataFrame) -> Figure:
    """Score of each row group against each column group ((W + D/2) / games), per env."""
    env_names = _order(head_to_head["env"])
    fig, axes = plt.subplots(1, len(env_names), figsize=(5.5 * len(env_names), 4.4), squeeze=False)
    for ax, env in zip(axes[0], env_names, strict=True):
        data = head_to_head[head_to_head["env"] == env]
        matrix = data.pivot(index="algo", columns="opponent", values="score")
        names = sorted(set(matrix.index) | set(matrix.columns))
        matrix = matrix.reindex(index=names, columns=names)
        sns.heatmap(
            matrix,
            annot=True,
            fmt=".2f",
            vmin=0.0,
            vmax=1.0,
            cmap="RdBu_r",
            center=0.5,
            cbar=ax is axes[0][-1],
            square=True,
            ax=ax,
        )
        ax.set(title=f"{env}: score of row vs column", xlabel="", ylabel="")
    fig.tight_layout()
    return fig


def rating_intervals(ratings: pd.DataFrame) -> Figure:
    """Bradley–Terry rating of every player with its bootstrap 95% interval, per env."""
    env_names = _order(ratings["env"])
    height = 0.28 * ratings.groupby("env").size().max() + 1.2
    fig, axes = plt.subplots(
        1, len(env_names), figsize=(5.5 * len(env_names), height), squeeze=False
    )
    palette = dict(
        zip(
            _order(ratings["group"]),
            sns.color_palette(n_colors=ratings["group"].nunique()),
            strict=True,
        )
    )
    for ax, env in zip(axes[0], env_names, strict=True):
        data = ratings[ratings["env"] == env].sort_values("bt")
        y = np.arange(len(data))
        for yi, row in zip(y, data.itertuples(), strict=True):
            ax.errorbar(
                row.bt,
                yi,
                xerr=[[row.bt - row.bt_low], [row.bt_high - row.bt]],
                fmt="o",
                color=palette[row.group],
                capsize=2,
            )
        ax.set_yticks(y, data["name"])
        ax.set(title=env, xlabel="Bradley–Terry rating (ELO scale, 95% CI)")
    fig.tight_layout()
    return fig


def aggregate_intervals(aggregates: pd.DataFrame) -> Figure:
    """rliable-style panels: one per aggregate metric, one interval per algorithm and env."""
    metric_names = list(dict.fromkeys(aggregates["metric"]))
    fig, axes = plt.subplots(
        1, len(metric_names), figsize=(4 * len(metric_names), 3.2), squeeze=False
    )
    labels = aggregates[["env", "algo"]].drop_duplicates().sort_values(["env", "algo"])
    ticks = [f"{e} / {a}" for e, a in labels.itertuples(index=False)]
    for ax, metric in zip(axes[0], metric_names, strict=True):
        data = aggregates[aggregates["metric"] == metric].set_index(["env", "algo"])
        for yi, key in enumerate(labels.itertuples(index=False)):
            row = data.loc[tuple(key)]
            ax.plot(
                [row["low"], row["high"]],
                [yi, yi],
                linewidth=6,
                alpha=0.6,
                color=sns.color_palette()[yi % 10],
            )
            ax.plot(row["estimate"], yi, "k|", markersize=12)
        ax.set_yticks(range(len(ticks)), ticks if ax is axes[0][0] else [""] * len(ticks))
        ax.set(title=metric, xlabel="normalised score")
    fig.tight_layout()
    return fig


def improvement_intervals(improvement: pd.DataFrame) -> Figure:
    """P(X > Y) with 95% intervals for every ordered pair of algorithms, per env."""
    data = improvement.assign(pair=improvement["x"] + " > " + improvement["y"])
    env_names = _order(data["env"])
    fig, axes = plt.subplots(1, len(env_names), figsize=(4.5 * len(env_names), 3.2), squeeze=False)
    for ax, env in zip(axes[0], env_names, strict=True):
        sub = data[data["env"] == env].reset_index(drop=True)
        for yi, row in sub.iterrows():
            ax.plot([row["low"], row["high"]], [yi, yi], linewidth=6, alpha=0.6)
            ax.plot(row["p_x_beats_y"], yi, "k|", markersize=12)
        ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
        ax.set_yticks(range(len(sub)), sub["pair"])
        ax.set(title=env, xlabel="P(X > Y)", xlim=(0, 1))
    fig.tight_layout()
    return fig


def fixed_opponent_curves(
    curves: pd.DataFrame, env: str, budget_min: float | None = None
) -> Figure:
    """A game's checkpoint curves: score ((W + D/2) / games) of each algorithm's policy
    snapshots against each fixed opponent (scripted, reference), mean and 95% band over seeds;
    against env steps, or, given ``budget_min`` (marked), against ``compute_min``, the minutes
    each snapshot's env steps take at its algorithm's measured speed
    (``report.compute_minutes``)."""
    data = curves[curves["env"] == env]
    x, label = (
        ("env_steps", "env steps")
        if budget_min is None
        else ("compute_min", "minutes at the measured speed")
    )
    opponents = _order(data["opponent"])
    fig, axes = plt.subplots(
        1, len(opponents), figsize=(4.2 * len(opponents), 3.4), squeeze=False, sharey=True
    )
    for ax, opponent in zip(axes[0], opponents, strict=True):
        data_vs = data[data["opponent"] == opponent]
        _mean_curve(ax, data_vs, "score", _order(curves["algo"]), x=x)
        ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
        if budget_min is not None:
            ax.axvline(budget_min, color="black", linestyle=":", linewidth=1)
        ax.set(title=f"{env} vs {opponent}", xlabel=label, ylabel="score", ylim=(0, 1))
    fig.tight_layout()
    return fig
