# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # AI vs AI: ratings, head-to-head scores and aggregate comparisons
#
# Everything here is recomputed from the tournament's SQLite match table
# (`<study>/matches.sqlite`): Bradley–Terry ratings with bootstrap intervals, algorithm vs
# algorithm scores with intervals over seeds (ML-Agents' own models are a group of their own,
# `mlagents`), and rliable aggregates over the fixed opponents (scripted and reference players).
# Run: `python analysis/notebooks/tournament_ratings.py` (the paper's study, `paper/data`; any
# other with `STUDY_DIR=<dir>`).

# %%
import os
from pathlib import Path

from analysis import plots
from analysis.aggregate import algo_head_to_head
from analysis.formats import read_matches, read_players
from analysis.report import aggregates, ratings_by_env

STUDY_DIR = Path(os.environ.get("STUDY_DIR", "paper/data"))
FIGURES_DIR = Path(os.environ.get("FIGURES_DIR", STUDY_DIR / "notebook_figures"))
REPS = int(os.environ.get("REPS", "2000"))  # bootstrap resamples
FIGURES_DIR.mkdir(parents=True, exist_ok=True)
matches = read_matches(STUDY_DIR / "matches.sqlite")
players = read_players(STUDY_DIR / "matches.sqlite")
print(f"{len(matches)} matches, {matches['games'].sum()} finished games")

# %% [markdown]
# Bradley–Terry ratings (order-independent maximum likelihood, ELO scale) with 95%
# intervals from resampling games; sequential ELO (ML-Agents / AI vs AI) alongside.

# %%
ratings = ratings_by_env(matches, players)
plots.rating_intervals(ratings).savefig(FIGURES_DIR / "ratings.png", dpi=130)
ratings[["env", "name", "games", "score", "elo", "bt", "bt_low", "bt_high"]]

# %% [markdown]
# Score `(W + D/2) / games` of each algorithm against each other one, pooled over seeds;
# the interval resamples seeds on both sides.

# %%
h2h = algo_head_to_head(matches, players, REPS)
plots.win_rate_matrix(h2h).savefig(FIGURES_DIR / "win_rates.png", dpi=130)
h2h

# %% [markdown]
# Aggregates over tasks (one task = one fixed opponent in one game): IQM, mean and
# optimality gap with stratified-bootstrap intervals, and the probability of improvement.

# %%
agg, imp = aggregates(matches, players, REPS)
plots.aggregate_intervals(agg).savefig(FIGURES_DIR / "aggregates.png", dpi=130)
plots.improvement_intervals(imp).savefig(FIGURES_DIR / "improvement.png", dpi=130)
agg
