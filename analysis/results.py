"""Results on disk into pandas: training curves, end-of-run summaries, the match table.

A run directory is what ``experiments.run`` writes: ``.hydra/config.yaml`` (who: algo, env,
seed), ``metrics.jsonl`` (one row per chunk) and, once finished, ``eval.json``. Anything else
under the root is ignored, so a half-finished study loads what it has.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from experiments.logger import METRICS_FILE, read_metrics

RUN_KEYS = ["env", "algo", "seed", "run"]


def find_runs(root: str | Path, finished: bool = True) -> list[Path]:
    """Run directories under ``root`` (a metrics file and a Hydra config; with ``finished``,
    also ``eval.json``, so runs still training do not bend the curves)."""
    return sorted(
        p.parent
        for p in Path(root).glob(f"**/{METRICS_FILE}")
        if (p.parent / ".hydra" / "config.yaml").exists()
        and (not finished or (p.parent / "eval.json").exists())
    )


def run_identity(run_dir: Path) -> dict[str, object]:
    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    return {"env": cfg.env.name, "algo": cfg.algo.name, "seed": int(cfg.seed), "run": str(run_dir)}


def load_curves(root: str | Path, seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """Every logged row of every finished run (of ``seeds``, if given), tagged with env,
    algo, seed and run directory."""
    frames = []
    for run_dir in find_runs(root):
        rows, who = read_metrics(run_dir), run_identity(run_dir)
        if rows and (seeds is None or who["seed"] in seeds):
            frames.append(pd.DataFrame(rows).assign(**who))
    if not frames:
        raise FileNotFoundError(f"no run directories with {METRICS_FILE} under {root}")
    return pd.concat(frames, ignore_index=True)


def load_finals(root: str | Path, seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per finished run (of ``seeds``, if given): the last logged row plus
    ``eval.json``'s scalars."""
    rows = []
    for run_dir in find_runs(root):
        eval_file = run_dir / "eval.json"
        metrics = read_metrics(run_dir)
        if not metrics or (seeds is not None and run_identity(run_dir)["seed"] not in seeds):
            continue
        summary = json.loads(eval_file.read_text())
        solved = summary.get("solved_at") or {}
        tennis = summary.get("tennis_score") or {}
        last = metrics[-1]
        rows.append(
            {
                **run_identity(run_dir),
                "env_steps": last["env_steps"],
                "final_elo": last.get("elo"),
                "train_wall_s": summary.get("train_wall_s"),
                "env_steps_per_s": last["env_steps"] / summary["train_wall_s"]
                if summary.get("train_wall_s")
                else None,
                "tennis_score": tennis.get("mean_max_return"),
                "solved_at_env_steps": solved.get("env_steps"),
            }
        )
    return pd.DataFrame(rows)
