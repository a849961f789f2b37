# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Training curves: self-play ELO, the Tennis score, and scores against fixed players
#
# Reads a study directory written by `python -m experiments.reproduce` (its `runs/` and
# `curves.sqlite`), so it reproduces the paper's `elo_curves.png`, `tennis_score.png`,
# `<env>_vs_fixed.png` and `<env>_vs_fixed_compute.png` from results on disk.
# Open it as a notebook with `jupytext --to ipynb analysis/notebooks/training_curves.py`, or
# run it as a script: `python analysis/notebooks/training_curves.py` (the paper's study,
# `paper/data`; any other with `STUDY_DIR=<dir>`).

# %%
import os
from pathlib import Path

import pandas as pd

from analysis import plots
from analysis.formats import CURVES_DB, SPEED_FILE, read_jsonl
from analysis.learning_curves import solved_at
from analysis.report import (
    compute_minutes,
    equal_compute_scores,
    last_snapshot_scores,
    solved_scores,
)
from analysis.results import load_curves, load_finals, load_snapshot_scores

STUDY_DIR = Path(os.environ.get("STUDY_DIR", "paper/data"))
FIGURES_DIR = Path(os.environ.get("FIGURES_DIR", STUDY_DIR / "notebook_figures"))
FIGURES_DIR.mkdir(parents=True, exist_ok=True)
curves = load_curves(STUDY_DIR)
curves.groupby(["env", "algo"])["seed"].nunique()

# %% [markdown]
# ELO of the learning team against its own snapshots (ML-Agents' ghost trainer, K = 1), mean
# and 95% band over seeds. Self-play ELO only says a policy beats its own past; the tournament
# notebook compares policies with each other.

# %%
fig = plots.elo_curves(curves)
fig.savefig(FIGURES_DIR / "elo_curves.png", dpi=130)

# %% [markdown]
# Games with a solved score (Tennis: the max-agent episode return, Udacity's score, solved at
# a 100-episode mean of 0.5), as each run's `eval.json` reports it.

# %%
for env, score in solved_scores(load_finals(STUDY_DIR)).items():
    fig = plots.score_curves(curves, env, score)
    fig.savefig(FIGURES_DIR / f"{env}_score.png", dpi=130)
    for (algo, seed), run in curves[curves["env"] == env].groupby(["algo", "seed"]):
        print(env, algo, seed, solved_at(run.to_dict("records"), score))

# %% [markdown]
# Self-play ELO cannot compare runs with each other. The policy snapshots saved along each run
# (`checkpoint.policy_every`) played the game's scripted players and the reference players
# (ML-Agents' own models) on both sides: score `(W + D/2) / games`, mean and 95% band over
# seeds, and the last snapshot's score per algorithm with a bootstrap interval over runs.

# %%
fixed = load_snapshot_scores(STUDY_DIR / CURVES_DB)
for env in sorted(fixed["env"].unique()):
    plots.fixed_opponent_curves(fixed, env).savefig(FIGURES_DIR / f"{env}_vs_fixed.png", dpi=130)
last_snapshot_scores(fixed, reps=int(os.environ.get("REPS", "2000")))

# %% [markdown]
# The same curves per unit of compute: each snapshot at the minutes its env steps take at its
# algorithm's speed measured apart on the idle machine (`speed.jsonl`), and each algorithm's
# score within the compute of the game's cheapest full run (the dotted line).

# %%
speed = read_jsonl(STUDY_DIR / SPEED_FILE)
if speed:
    fixed = compute_minutes(fixed, pd.DataFrame(speed))
    equal = equal_compute_scores(fixed, reps=int(os.environ.get("REPS", "2000")))
    for env, rows in equal.groupby("env"):
        figure = plots.fixed_opponent_curves(fixed, env, rows["budget_min"].iloc[0])
        figure.savefig(FIGURES_DIR / f"{env}_vs_fixed_compute.png", dpi=130)
    equal

# %% [markdown]
# One row per run: budget, wall time, env-steps/s, and for the soccer games the stalls
# (spans of 300k env steps or more in which self-play decided no game).

# %%
load_finals(STUDY_DIR).drop(columns="run")
