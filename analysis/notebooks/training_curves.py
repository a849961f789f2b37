# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Training curves: self-play ELO and the Tennis score
#
# Reads a study directory written by `python -m experiments.reproduce` (its `runs/`), so it
# reproduces the paper's `elo_curves.png` and `tennis_score.png` from results on disk.
# Open it as a notebook with `jupytext --to ipynb analysis/notebooks/training_curves.py`, or
# run it as a script: `STUDY_DIR=results/paper python analysis/notebooks/training_curves.py`.

# %%
import os
from pathlib import Path

from analysis import plots
from analysis.learning_curves import solved_at
from analysis.report import solved_scores
from analysis.results import load_curves, load_finals

STUDY_DIR = Path(os.environ.get("STUDY_DIR", "results/paper"))
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

# %%
load_finals(STUDY_DIR).drop(columns="run")
