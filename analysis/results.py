"""Results on disk into pandas: training curves, end-of-run summaries, the match table.

A run directory is what ``experiments.run`` writes (``analysis.formats``): its config (who:
algo, env, seed), ``metrics.jsonl`` (one row per chunk) and, once finished, ``eval.json``.
Anything else under the root is ignored, so a half-finished study loads what it has.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis.aggregate import pair_counts
from analysis.formats import (
    EVAL_FILE,
    METRICS_FILE,
    read_config,
    read_matches,
    read_metrics,
    read_players,
    run_identity,
    snapshot_of,
)


def find_runs(root: str | Path, finished: bool = True) -> list[Path]:
    """Run directories under ``root`` (a metrics file and a config; with ``finished``, also
    ``eval.json``, so runs still training do not bend the curves)."""
    return sorted(
        p.parent
        for p in Path(root).glob(f"**/{METRICS_FILE}")
        if read_config(p.parent) is not None and (not finished or (p.parent / EVAL_FILE).exists())
    )


def who(run_dir: Path) -> dict[str, object]:
    """A run's identity plus its directory: the columns every loaded row is tagged with."""
    return {**run_identity(read_config(run_dir)), "run": str(run_dir)}


def load_curves(root: str | Path, seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """Every logged row of every finished run (of ``seeds``, if given), tagged with env,
    algo, seed and run directory."""
    frames = []
    for run_dir in find_runs(root):
        rows, tags = read_metrics(run_dir), who(run_dir)
        if rows and (seeds is None or tags["seed"] in seeds):
            frames.append(pd.DataFrame(rows).assign(**tags))
    if not frames:
        raise FileNotFoundError(f"no run directories with {METRICS_FILE} under {root}")
    return pd.concat(frames, ignore_index=True)


def load_finals(root: str | Path, seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per finished run (of ``seeds``, if given): the last logged row plus
    ``eval.json``'s scalars."""
    rows = []
    for run_dir in find_runs(root):
        eval_file = run_dir / EVAL_FILE
        metrics = read_metrics(run_dir)
        if not metrics or (seeds is not None and who(run_dir)["seed"] not in seeds):
            continue
        summary = json.loads(eval_file.read_text())
        solved = summary.get("solved_at") or {}
        score = summary.get("game_score") or summary.get("tennis_score") or {}
        stall = summary.get("stall")  # games with a stall measure (analysis.stalls)
        last = metrics[-1]
        rows.append(
            {
                **who(run_dir),
                "env_steps": last["env_steps"],
                "final_elo": last.get("elo"),
                "train_wall_s": summary.get("train_wall_s"),
                "env_steps_per_s": last["env_steps"] / summary["train_wall_s"]
                if summary.get("train_wall_s")
                else None,
                "game_score": score.get("mean_max_return"),
                "solved_score": summary.get("solved_score"),
                "solved_at_env_steps": solved.get("env_steps"),
                "stalls": len(stall["spans"]) if stall else None,
                "stalled_env_steps": stall["stalled_env_steps"] if stall else None,
            }
        )
    return pd.DataFrame(rows)


def load_snapshot_scores(db: str | Path) -> pd.DataFrame:
    """A study's checkpoint curves (its ``curves.sqlite``): per policy snapshot and fixed
    opponent, ``env``, ``algo``, ``seed``, ``env_steps``, ``opponent``, the pooled counts of
    both sides and ``score`` = (wins + draws / 2) / games, as in the tournament."""
    pairs = pair_counts(read_matches(db))
    snapshot = pairs["player"].map(snapshot_of)
    pairs = pairs[snapshot.notna()].assign(env_steps=[s[1] for s in snapshot.dropna()])
    players = read_players(db)[["env", "name", "algo", "seed"]]
    pairs = pairs.merge(players, left_on=["env", "player"], right_on=["env", "name"])
    score = (pairs["wins"] + 0.5 * pairs["draws"]) / pairs["games"]
    return pairs.drop(columns=["name", "player"]).assign(score=score)
