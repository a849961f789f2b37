"""Tables of the published-baseline comparisons from their curves (``experiments.mpe_baselines``
writes them): each loop's return at the end of training beside the published figure."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

SPREAD = "MPE_simple_spread_v3"


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
