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
# Tennis: the max-agent episode return (Udacity's score), solved at a 100-episode mean of 0.5.

# %%
if (curves["env"] == "tennis").any():
    fig = plots.tennis_score_curves(curves)
    fig.savefig(FIGURES_DIR / "tennis_score.png", dpi=130)
    for (algo, seed), run in curves[curves["env"] == "tennis"].groupby(["algo", "seed"]):
        print(algo, seed, solved_at(run.to_dict("records"), plots.SOLVED_SCORE))

# %%
load_finals(STUDY_DIR).drop(columns="run")
