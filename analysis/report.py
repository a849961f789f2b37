"""Every figure and table of the write-up from a study directory (runs/ + matches.sqlite).

``make_report(study_dir, figures_dir, tables_dir)`` is what ``experiments.reproduce`` and the
notebooks call; each figure is a function in ``analysis.plots`` and each table is a CSV plus a
Markdown copy for the paper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis import plots
from analysis.aggregate import (
    aggregate_table,
    algo_head_to_head,
    group_ratings,
    improvement_table,
    task_scores,
)
from analysis.formats import (
    CURVES_DB,
    MATCH_DB,
    SPEED_FILE,
    read_jsonl,
    read_matches,
    read_players,
    read_roles,
)
from analysis.ratings import rating_table, role_rating_table
from analysis.results import load_curves, load_finals, load_snapshot_scores


def ratings_by_env(matches: pd.DataFrame, players: pd.DataFrame) -> pd.DataFrame:
    """Bradley–Terry table per env for every player that played there."""
    frames = []
    for env, env_matches in matches.groupby("env"):
        names = sorted(set(env_matches["player0"]) | set(env_matches["player1"]))
        table = rating_table(env_matches, names).assign(env=env)
        frames.append(table)
    ratings = pd.concat(frames, ignore_index=True)
    group = dict(zip(players["name"], players["algo"], strict=True))
    return ratings.assign(group=ratings["name"].map(group))


def aggregates(
    matches: pd.DataFrame, players: pd.DataFrame, reps: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """rliable aggregates and probabilities of improvement per env, and over every env
    (``all``: every task of every env; an algorithm's first n runs in each, n its fewest in
    any env, so one algorithm's short line does not cut the others')."""
    per_env = task_scores(matches, players)
    if len(per_env) > 1:
        algos = sorted(set.intersection(*(set(s) for _, s in per_env.values())))
        runs = {a: min(s[a].shape[0] for _, s in per_env.values()) for a in algos}
        per_env["all"] = (
            [f"{env}/{t}" for env, (tasks, _) in per_env.items() for t in tasks],
            {
                a: np.concatenate([s[a][: runs[a]] for _, s in per_env.values()], axis=1)
                for a in algos
            },
        )
    agg = [aggregate_table(s, reps).assign(env=env) for env, (_, s) in per_env.items()]
    imp = [improvement_table(s, reps).assign(env=env) for env, (_, s) in per_env.items()]
    return pd.concat(agg, ignore_index=True), pd.concat(imp, ignore_index=True)


def findings(
    h2h: pd.DataFrame,
    agg: pd.DataFrame,
    imp: pd.DataFrame,
    summary: pd.DataFrame,
    groups: pd.DataFrame,
    vs_fixed: pd.DataFrame | None = None,
    equal_compute: pd.DataFrame | None = None,
) -> str:
    """The comparisons the paper states, as sentences generated from the tables (so the
    text cannot drift from the numbers): head to head, aggregates, the last policy
    snapshots against the reference players, cost and stalls."""
    lines = []
    trained = h2h[
        ~h2h["algo"].str.startswith("scripted") & ~h2h["opponent"].str.startswith("scripted")
    ]
    for env, rows in trained.groupby("env"):
        lines.append(f"### {env}\n")
        ranked = groups[groups["env"] == env]
        lines.append(
            "- Tournament rating (Bradley–Terry, mean over a group's players [95% CI over "
            "them]): "
            + "; ".join(
                f"{r.group} {r.bt:.0f} [{r.low:.0f}, {r.high:.0f}]"
                + (f" (worst {r.worst:.0f})" if r.players > 1 else "")
                for r in ranked.itertuples()
            )
            + "."
        )
        for r in rows[rows["algo"] < rows["opponent"]].itertuples():
            verdict = (
                f"{r.algo} wins"
                if r.low > 0.5
                else f"{r.opponent} wins"
                if r.high < 0.5
                else "no clear winner"
            )
            lines.append(
                f"- {r.algo} vs {r.opponent}: score {r.score:.3f} [95% CI {r.low:.3f}, "
                f"{r.high:.3f}] over {r.games} games ({r.draws} drawn): {verdict}."
            )
        for r in agg[(agg["env"] == env) & (agg["metric"] == "IQM")].itertuples():
            lines.append(
                f"- {r.algo} IQM score vs fixed opponents (scripted, reference): {r.estimate:.3f} "
                f"[{r.low:.3f}, {r.high:.3f}]."
            )
        lines += _versus_reference(vs_fixed, env, lambda r: f"at {r.env_steps:,} env steps")
        lines += _versus_reference(
            equal_compute,
            env,
            lambda r: (
                f"at equal compute ({r.budget_min:.1f} min, the cheapest algorithm's full "
                f"run; {r.env_steps:,.0f} env steps on average)"
            ),
        )
        for r in summary[summary["env"] == env].itertuples():
            stalled = (
                "" if pd.isna(r.stalled_runs) else f"; stalled in {r.stalled_runs:.0f} of {r.runs}"
            )
            lines.append(
                f"- {r.algo}: {r.runs} runs of {r.env_steps:,} env steps, "
                f"{r.train_wall_s / 60:.1f} min and {r.env_steps_per_s:,.0f} env-steps/s each "
                f"(mean){stalled}{solved_sentence(r)}."
            )
        lines.append("")
    for env, rows in imp.groupby("env"):
        lines.append(f"Probability of improvement ({env}):")
        for r in rows[rows["x"] < rows["y"]].itertuples():
            lines.append(f"- P({r.x} > {r.y}) = {r.p_x_beats_y:.3f} [{r.low:.3f}, {r.high:.3f}]")
        lines.append("")
    return "\n".join(lines)


def _versus_reference(
    table: pd.DataFrame | None, env: str, when: Callable[[Any], str]
) -> list[str]:
    """A sentence per algorithm and reference player of ``env`` in ``table`` (a
    ``last_snapshot_scores``-shaped table); ``when`` says which of its policies played."""
    if table is None:
        return []
    rows = table[(table["env"] == env) & table["opponent"].str.startswith("mlagents")]
    return [
        f"- {r.algo}'s policies {when(r)} vs {r.opponent}: score {r.score:.3f} "
        f"[{r.low:.3f}, {r.high:.3f}] over {r.runs} runs, worst run {r.worst:.3f}."
        for r in rows.itertuples()
    ]


def solved_sentence(row: Any) -> str:
    """``runs_summary``'s solved columns in words, for a game with a solved score (else "")."""
    if pd.isna(row.game_score):
        return ""
    when = f" (median at {row.solved_at_env_steps:,.0f} env steps)" if row.solved_runs else ""
    return (
        f"; solved in {row.solved_runs} of {row.runs}{when}; final game score "
        f"{row.game_score:.2f}, worst run {row.game_score_worst:.2f}"
    )


def over_runs(scores: np.ndarray, reps: int, rng: np.random.Generator) -> dict[str, float]:
    """One score per run: their mean with a bootstrap 95% interval (runs resampled), the
    worst run and how many there are."""
    boot = scores[rng.integers(0, len(scores), (reps, len(scores)))].mean(axis=1)
    return {
        "runs": len(scores),
        "score": float(scores.mean()),
        "worst": float(scores.min()),
        "low": float(np.percentile(boot, 2.5)),
        "high": float(np.percentile(boot, 97.5)),
    }


def last_snapshot_scores(curves: pd.DataFrame, reps: int, seed: int = 0) -> pd.DataFrame:
    """Per env, algorithm and fixed opponent: the score of each run's last policy snapshot,
    its mean over runs with a bootstrap 95% interval (runs resampled), and the fewest env
    steps after which the mean over runs stays at or above 0.5."""
    rng = np.random.default_rng(seed)
    rows = []
    for (env, algo, opponent), data in curves.groupby(["env", "algo", "opponent"]):
        last = data.loc[data.groupby("seed")["env_steps"].idxmax(), "score"].to_numpy()
        mean_curve = data.groupby("env_steps")["score"].mean()
        below = mean_curve[~(mean_curve >= 0.5)]  # no decided game (NaN) does not hold
        after = mean_curve.index[mean_curve.index > (below.index.max() if len(below) else -1)]
        rows.append(
            {
                "env": env,
                "algo": algo,
                "opponent": opponent,
                "env_steps": int(data["env_steps"].max()),
                **over_runs(last, reps, rng),
                "holds_half_from": int(after.min()) if len(after) else None,
            }
        )
    return pd.DataFrame(rows)


def compute_minutes(fixed: pd.DataFrame, speed: pd.DataFrame) -> pd.DataFrame:
    """``fixed`` (``load_snapshot_scores``) with ``compute_min``: the minutes its snapshot's
    env steps take at its algorithm's speed on the game, measured apart on an idle machine
    (``speed.jsonl``). The study's own wall times are not used: its runs share the machine
    with each other and with whatever else runs, so they vary by up to 2x between seeds."""
    rate = speed.set_index(["env", "algo"])["env_steps_per_s"]
    keys = pd.MultiIndex.from_frame(fixed[["env", "algo"]])
    return fixed.assign(
        compute_min=fixed["env_steps"].to_numpy() / rate.reindex(keys).to_numpy() / 60
    )


def equal_compute_scores(fixed: pd.DataFrame, reps: int, seed: int = 0) -> pd.DataFrame:
    """Per env, algorithm and fixed opponent: each run's last snapshot within the compute of
    the env's cheapest full run (``compute_min``, ``compute_minutes``), mean over runs with a
    bootstrap 95% interval (runs resampled) and the worst run.

    The per-second counterpart of ``last_snapshot_scores``: what a reader with that much time
    on this machine gets from each algorithm."""
    rng = np.random.default_rng(seed)
    full = fixed.groupby(["env", "algo"])["compute_min"].max()
    budgets = full.groupby("env").min()
    rows = []
    for (env, algo, opponent), data in fixed.groupby(["env", "algo", "opponent"]):
        budget = float(budgets[env])
        within = data[data["compute_min"] <= budget * (1 + 1e-9)]
        if within.empty:
            continue
        last = within.loc[within.groupby("seed")["env_steps"].idxmax()]
        rows.append(
            {
                "env": env,
                "algo": algo,
                "opponent": opponent,
                "budget_min": budget,
                "env_steps": float(last["env_steps"].mean()),
                **over_runs(last["score"].to_numpy(), reps, rng),
            }
        )
    return pd.DataFrame(rows)


def solved_scores(finals: pd.DataFrame) -> dict[str, float]:
    """``{env: solved score}`` for the games whose runs report one in ``eval.json``."""
    known = finals.dropna(subset=["solved_score"])
    return {env: float(rows["solved_score"].iloc[0]) for env, rows in known.groupby("env")}


def _save_table(table: pd.DataFrame, tables_dir: Path, name: str) -> list[Path]:
    csv, md = tables_dir / f"{name}.csv", tables_dir / f"{name}.md"
    table.to_csv(csv, index=False)
    md.write_text(table.to_markdown(index=False, floatfmt=".3f") + "\n")
    return [csv, md]


def _save_figure(fig: plt.Figure, figures_dir: Path, name: str) -> Path:
    path = figures_dir / f"{name}.png"
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def make_report(
    study_dir: str | Path,
    figures_dir: str | Path,
    tables_dir: str | Path,
    reps: int = 2000,
    seeds: Sequence[int] | None = None,
) -> list[Path]:
    """Write every figure and table (from the runs of ``seeds``, default all); returns their
    paths. The tournament table holds whichever players the tournament stage was given."""
    study_dir, figures_dir, tables_dir = Path(study_dir), Path(figures_dir), Path(tables_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    tables_dir.mkdir(parents=True, exist_ok=True)
    made = []

    curves = load_curves(study_dir, seeds)
    made.append(_save_figure(plots.elo_curves(curves), figures_dir, "elo_curves"))
    finals = load_finals(study_dir, seeds)
    for env, score in solved_scores(finals).items():
        figure = plots.score_curves(curves, env, score)
        made.append(_save_figure(figure, figures_dir, f"{env}_score"))
    summary = finals.groupby(["env", "algo"]).agg(
        runs=("seed", "size"),
        env_steps=("env_steps", "first"),
        final_elo=("final_elo", "mean"),
        train_wall_s=("train_wall_s", "mean"),
        env_steps_per_s=("env_steps_per_s", "mean"),
        game_score=("game_score", "mean"),
        game_score_worst=("game_score", "min"),
        solved_runs=("solved_at_env_steps", "count"),
        solved_at_env_steps=("solved_at_env_steps", "median"),
        stalled_runs=("stalls", lambda x: (x > 0).sum() if x.notna().any() else None),
        stalled_env_steps=("stalled_env_steps", "mean"),
    )
    made += _save_table(finals.drop(columns="run"), tables_dir, "runs")
    summary = summary.reset_index()
    made += _save_table(summary, tables_dir, "runs_summary")

    speed = read_jsonl(study_dir / SPEED_FILE)
    if speed:  # measured apart, one run on an idle machine: per second, not per sample
        columns = ["env", "algo", "num_envs", "env_steps_per_s", "compile_s", "memory_mb"]
        made += _save_table(pd.DataFrame(speed)[columns], tables_dir, "speed")
    vs_fixed = equal_compute = None
    if (study_dir / CURVES_DB).exists():
        fixed = load_snapshot_scores(study_dir / CURVES_DB)
        if seeds is not None:
            fixed = fixed[fixed["seed"].isin(seeds)]
        for env in sorted(fixed["env"].unique()):
            figure = plots.fixed_opponent_curves(fixed, env)
            made.append(_save_figure(figure, figures_dir, f"{env}_vs_fixed"))
        vs_fixed = last_snapshot_scores(fixed, reps)
        made += _save_table(vs_fixed, tables_dir, "vs_fixed")
        if speed:
            fixed = compute_minutes(fixed, pd.DataFrame(speed))
            equal_compute = equal_compute_scores(fixed, reps)
            made += _save_table(equal_compute, tables_dir, "equal_compute")
            for env, rows in equal_compute.groupby("env"):
                figure = plots.fixed_opponent_curves(fixed, env, rows["budget_min"].iloc[0])
                made.append(_save_figure(figure, figures_dir, f"{env}_vs_fixed_compute"))

    db = study_dir / MATCH_DB
    if not db.exists():
        return made
    matches, players = read_matches(db), read_players(db)
    ratings = ratings_by_env(matches, players)
    made.append(_save_figure(plots.rating_intervals(ratings), figures_dir, "ratings"))
    made += _save_table(ratings, tables_dir, "ratings")
    groups = group_ratings(ratings, reps)
    made += _save_table(groups, tables_dir, "group_ratings")
    roles = read_roles(db)
    if roles:  # asymmetric games: each player's roles rated apart (its strikers, its goalie)
        by_role = [
            role_rating_table(matches[matches["env"] == env], names, reps).assign(env=env)
            for env, names in roles.items()
            if (matches["env"] == env).any()
        ]
        made += _save_table(pd.concat(by_role, ignore_index=True), tables_dir, "role_ratings")
    h2h = algo_head_to_head(matches, players, reps)
    made.append(_save_figure(plots.win_rate_matrix(h2h), figures_dir, "win_rates"))
    made += _save_table(h2h, tables_dir, "head_to_head")
    agg, imp = aggregates(matches, players, reps)
    made.append(_save_figure(plots.aggregate_intervals(agg), figures_dir, "aggregates"))
    made.append(_save_figure(plots.improvement_intervals(imp), figures_dir, "improvement"))
    made += _save_table(agg, tables_dir, "aggregates")
    made += _save_table(imp, tables_dir, "improvement")
    (tables_dir / "findings.md").write_text(
        findings(h2h, agg, imp, summary, groups, vs_fixed, equal_compute)
    )
    made.append(tables_dir / "findings.md")
    return made
