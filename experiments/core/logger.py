"""One logging path for every run: ``metrics.jsonl`` in the run dir, wandb, a progress bar.

The JSONL file is the contract with ``analysis/`` (``analysis.formats``): one object per
logged chunk with ``env_steps``, ``agent_steps``, ``wall_s``, ``sps``, ``elo``, returns and
losses. Each line is flushed and fsynced, so a killed run keeps everything it logged; on
resume the lines past the restored checkpoint are dropped so the file never holds two
histories.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

from tqdm import tqdm

from analysis.formats import METRICS_FILE, read_metrics


def _plain(value: Any) -> Any:
    """JSON-safe scalars; NaN/inf become null so the file stays valid JSON."""
    value = float(value) if hasattr(value, "__float__") and not isinstance(value, int) else value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunLogger:
    """Writes metrics rows to the JSONL file, to wandb (if enabled) and to a tqdm bar."""

    def __init__(
        self,
        run_dir: str | Path,
        total_env_steps: int,
        config: dict[str, Any],
        wandb_mode: str | None,
        wandb_project: str = "marl-arena",
        progress: bool = True,
        resume_from_steps: int | None = None,
    ) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        start = 0
        if resume_from_steps is not None:
            kept = [r for r in read_metrics(run_dir) if r["env_steps"] <= resume_from_steps]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))
            start = resume_from_steps
        else:
            self.path.write_text("")
        self._file = self.path.open("a")
        self._wandb = None
        if wandb_mode:
            import wandb

            id_file = Path(run_dir) / "wandb_id.txt"
            run_id = id_file.read_text().strip() if id_file.exists() else wandb.util.generate_id()
            id_file.write_text(run_id)
            self._wandb = wandb.init(
                project=wandb_project,
                mode=wandb_mode,
                dir=str(run_dir),
                config=config,
                id=run_id,
                resume="allow",
                name=Path(run_dir).name,
            )
        self._bar = tqdm(
            total=total_env_steps, initial=start, unit="step", unit_scale=True, disable=not progress
        )

    def log(self, row: dict[str, Any]) -> None:
        row = {k: _plain(v) for k, v in row.items()}
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        if self._wandb is not None:
            self._wandb.log(row, step=int(row["env_steps"]))
        self._bar.update(int(row["env_steps"]) - self._bar.n)
        shown = {
            "elo": ("elo", ".1f"),
            "episode_return": ("ret", ".3f"),
            "win_rate": ("win", ".2f"),
            "decided_games": ("decided", ".0f"),  # games ended by the rules in the chunk
        }
        self._bar.set_postfix(
            {s: format(row[k], f) for k, (s, f) in shown.items() if row.get(k) is not None}
        )

    def warn(self, message: str) -> None:
        """News for the user: on the console and in the run's log (Hydra writes the root
        logger to both) and in wandb's run summary."""
        logging.getLogger(__name__).warning(message)
        if self._wandb is not None:
            self._wandb.summary["warning"] = message

    def summary(self, values: dict[str, Any]) -> None:
        """Final numbers (evaluation) into wandb's run summary."""
        if self._wandb is not None:
            self._wandb.summary.update({k: _plain(v) for k, v in values.items()})

    def close(self) -> None:
        self._bar.close()
        self._file.close()
        if self._wandb is not None:
            self._wandb.finish()
