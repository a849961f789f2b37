"""The ``mpe_spread`` preset's table: our runs and JaxMARL's loop beside each
(``experiments.bench.vs_jaxmarl.jaxmarl_curve``), each loop's return at the end of training
beside the published figure, from the run directories."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from analysis.formats import read_config, read_metrics

SPREAD = "MPE_simple_spread_v3"
AGENTS = 3  # simple_spread's team: its return sums the agents'
JAXMARL_FILE = "jaxmarl.json"  # in a run directory: JaxMARL's loop, same settings and seed
PUBLISHED = {
    "source": "JaxMARL (arXiv 2311.10090), appendix figure of the MPE IPPO baselines",
    "return": None,  # the figure could not be read from this machine
}


def team_return_curve(run_dir: Path) -> np.ndarray:
    """Per logged row (one per update), our run's team return: the agents' mean episode
    return x 3, NaN where no episode finished."""
    rows = read_metrics(run_dir)
    returns = np.array([r["episode_return"] for r in rows]) * AGENTS
    return np.where(np.array([r["episodes"] for r in rows]) > 0, returns, np.nan)


def final_window(curve: np.ndarray, fraction: float = 0.1) -> float:
    """The mean of the last ``fraction`` of a curve's updates (the end of training)."""
    tail = curve[-max(1, math.ceil(fraction * len(curve))) :]
    return float(np.nanmean(tail))


def spread_report(
    results: dict[str, dict[int, np.ndarray]], env_steps: int, published: dict[str, Any]
) -> str:
    """A Markdown table: each loop's final return per seed and over seeds, and the published
    figure beside them (``published["return"]`` None: it could not be read, and says so)."""
    lines = [
        f"IPPO on {SPREAD}, JaxMARL's configuration, {env_steps:,} env steps "
        "(team return summed over the 3 agents; mean of the last 10% of updates)",
        "",
        "| loop | seeds | final return per seed | mean |",
        "|---|---:|---|---:|",
    ]
    for loop, curves in results.items():
        finals = [final_window(c) for c in curves.values()]
        per_seed = ", ".join(f"{f:.1f}" for f in finals)
        lines.append(f"| {loop} | {len(finals)} | {per_seed} | {np.mean(finals):.1f} |")
    figure = published["return"]
    lines.append(
        f"| published ({published['source']}) | | | "
        + ("not retrieved |" if figure is None else f"{figure} |")
    )
    return "\n".join(lines) + "\n"


def write_report(run_dirs: list[Path], tables_dir: Path) -> Path:
    """``tables_dir/spread.md`` from the finished runs and JaxMARL's curve beside each."""
    finished = [d for d in run_dirs if (d / JAXMARL_FILE).exists()]
    if not finished:
        raise FileNotFoundError(f"no run with {JAXMARL_FILE} among {[str(d) for d in run_dirs]}")
    results: dict[str, dict[int, np.ndarray]] = {"jaxmarl": {}, "ours": {}}
    for run_dir in finished:
        seed = int(read_config(run_dir)["seed"])
        results["jaxmarl"][seed] = np.array(json.loads((run_dir / JAXMARL_FILE).read_text()))
        results["ours"][seed] = team_return_curve(run_dir)
    env_steps = int(read_config(finished[0])["total_env_steps"])
    tables_dir.mkdir(parents=True, exist_ok=True)
    path = tables_dir / "spread.md"
    path.write_text(spread_report(results, env_steps, PUBLISHED))
    return path
