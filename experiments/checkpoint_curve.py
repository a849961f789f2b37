"""Win rates at every saved checkpoint of a run: the learning curve against fixed opponents.

Training logs self-play ELO, which measures progress only against the run's own past; this
replays each checkpoint's policy against scripted opponents, so runs (and budgets) can be
compared on one absolute scale, and "how many steps until 80% against the chaser?" has an
answer. Works on finished, running and killed runs (it reads the ``config.json`` written
beside the checkpoints, or Hydra's copy).

Each (checkpoint, opponent) result is appended to ``RUN_DIR/checkpoint_curve.jsonl`` as soon
as it is known; a rerun evaluates only what is missing, so a killed evaluation loses at most
one result. The key is the one ``experiments.run`` gives its final evaluation, so with the
same games and decisions the last checkpoint's row equals ``eval.json``.

    python -m experiments.checkpoint_curve outputs/2026-12-01/12-00-00 --opponents chaser
    python -m experiments.checkpoint_curve RUN_DIR --opponents path/to/SoccerTwos.onnx
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from experiments.core.curves import CURVE_FILE, checkpoint_curve, run_config


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a run directory written by experiments.run")
    parser.add_argument(
        "--opponents",
        nargs="+",
        default=None,
        help="scripted players, run directories, .onnx files or model folders (default: the run's "
        "eval)",
    )
    parser.add_argument("--games", type=int, default=None, help="parallel envs per side")
    parser.add_argument("--decisions", type=int, default=None, help="decisions per env")
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir)
    opponents = args.opponents or list(run_config(run_dir)["eval"]["opponents"])
    checkpoint_curve(run_dir, opponents, args.games, args.decisions)
    print(f"curve: {run_dir / CURVE_FILE}")


if __name__ == "__main__":
    main()
