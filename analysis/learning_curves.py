"""Reading training curves from ``metrics.jsonl`` rows (one row per logged chunk)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def solved_at(
    rows: Sequence[dict[str, Any]],
    threshold: float,
    window: int = 100,
    key: str = "episode_best_return",
) -> dict[str, float] | None:
    """The first row at which the mean ``key`` over the last ``window`` episodes reaches
    ``threshold`` (Udacity's "solved": 100-episode mean of the max-agent score >= 0.5).

    Rows carry ``episodes`` finished since the previous row and ``key`` averaged over them, so
    the trailing mean is taken over whole rows, newest first, until they hold ``window``
    episodes; the answer is exact to one row. Returns ``{"episode", "env_steps", "score"}``
    (episodes counted from the start of training) or ``None``.
    """
    total = 0.0
    for i, row in enumerate(rows):
        total += row.get("episodes", 0.0)
        held = weighted = 0.0
        for past in reversed(rows[: i + 1]):
            n = past.get("episodes", 0.0)
            held, weighted = held + n, weighted + n * past.get(key, 0.0)
            if held >= window:
                break
        if held >= window and weighted / held >= threshold:
            return {"episode": total, "env_steps": row["env_steps"], "score": weighted / held}
    return None
