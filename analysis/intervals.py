"""Confidence intervals for win rates (small samples and rates near 0 or 1 included)."""

from __future__ import annotations

import math


def wilson(successes: float, trials: float, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default).

    Preferred to the normal approximation because it stays inside [0, 1] and keeps its
    coverage when the rate is near 0 or 1 or the sample is small. No trials: (0, 1).
    """
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
