"""Self-play stalls read from ``metrics.jsonl``: spans of training in which no game was decided.

In a game whose only rewards are its results (SoccerTwos' goals), a rollout in which every
game times out gives the learner all-zero rewards: nothing to learn from, and a ghost copied
from such a learner does not score either. A *stall* is a span of at least ``min_env_steps``
env steps in which self-play decided no game. Rows cover ``(previous env_steps, env_steps]``,
so spans are exact to one logged chunk.

``python -m analysis.stalls RUN_DIR ... [--min-env-steps 300000] [--until ENV_STEPS]`` prints
the stall table of a set of runs (Markdown; ``--json`` for the rows).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analysis.formats import HOST_FILE, read_config, read_jsonl, read_metrics

COUNT = "decided_games"


def decided_games(row: dict[str, Any]) -> float:
    """Games of a row that ended by the rules (every behaviour's, in an asymmetric game).

    Rows written before ``decided_games`` was logged carry it as ``(win_rate + loss_rate) x
    episodes``."""
    counts = [v for k, v in row.items() if k == COUNT or k.startswith(COUNT + "_")]
    if counts:
        return float(sum(counts))
    total = 0.0
    for key, episodes in row.items():
        if key == "episodes" or key.startswith("episodes_"):
            suffix = key[len("episodes") :]
            rates = row.get("win_rate" + suffix, 0.0) + row.get("loss_rate" + suffix, 0.0)
            total += round(rates * episodes)
    return total


def quiet_spans(rows: Sequence[dict[str, Any]], start: int = 0) -> list[tuple[int, int]]:
    """``(first, last)`` env steps of every maximal run of rows with no decided game; a run
    begins where the row before it ended (``start`` before the first row)."""
    spans, begin, previous = [], None, start
    for row in rows:
        if decided_games(row) > 0:
            if begin is not None:
                spans.append((begin, previous))
            begin = None
        elif begin is None:
            begin = previous
        previous = int(row["env_steps"])
    if begin is not None:
        spans.append((begin, previous))
    return spans


def stalls(rows: Sequence[dict[str, Any]], min_env_steps: int) -> list[tuple[int, int]]:
    """The quiet spans of at least ``min_env_steps`` env steps."""
    return [(a, b) for a, b in quiet_spans(rows) if b - a >= min_env_steps]


def ongoing(rows: Sequence[dict[str, Any]]) -> int:
    """Env steps since self-play last decided a game (0 if the newest row decided one)."""
    spans = quiet_spans(rows)
    if not spans or not rows or spans[-1][1] != int(rows[-1]["env_steps"]):
        return 0
    return spans[-1][1] - spans[-1][0]


def summary(rows: Sequence[dict[str, Any]], min_env_steps: int) -> dict[str, Any]:
    """What ``eval.json`` and the stall table report of one run: its stalls (``spans``,
    ``[first, last]`` env steps), their total and the longest, and the env steps covered."""
    found = stalls(rows, min_env_steps)
    lengths = [b - a for a, b in found]
    return {
        "min_env_steps": int(min_env_steps),
        "spans": [list(s) for s in found],
        "stalled_env_steps": int(sum(lengths)),
        "longest_env_steps": int(max(lengths, default=0)),
        "env_steps": int(rows[-1]["env_steps"]) if rows else 0,
        "decided_games": int(sum(decided_games(r) for r in rows)),
    }


def describe(stall: dict[str, Any]) -> str:
    """One line for a run's summary."""
    if not stall["spans"]:
        return (
            f"no stall: self-play decided a game in every {stall['min_env_steps'] / 1e6:.2f}M "
            "env steps"
        )
    spans = ", ".join(f"{a / 1e6:.2f}-{b / 1e6:.2f}M" for a, b in stall["spans"])
    share = stall["stalled_env_steps"] / max(stall["env_steps"], 1)
    return (
        f"STALLED for {stall['stalled_env_steps'] / 1e6:.2f}M env steps ({share:.0%} of the run; "
        f"{spans}): self-play decided no game there, so those updates had no learning signal"
    )


def threading(run_dir: Path) -> str:
    """How the run's invocations were threaded (``host.jsonl``), e.g. ``2 cpus, default``."""
    hosts = read_jsonl(Path(run_dir) / HOST_FILE)
    seen = {(h["cpus"], h["xla_flags"] or "default") for h in hosts}
    return "; ".join(f"{c} cpus, XLA_FLAGS {f}" for c, f in sorted(seen)) or "not recorded"


def table_row(run_dir: Path, min_env_steps: int, until: int | None) -> dict[str, Any]:
    rows = [r for r in read_metrics(run_dir) if until is None or r["env_steps"] <= until]
    config = read_config(run_dir) or {}
    return {
        "run": Path(run_dir).name,
        "algo": config.get("algo", {}).get("name"),
        "seed": config.get("seed"),
        "threading": threading(run_dir),
        **summary(rows, min_env_steps),
    }


def markdown(table: Sequence[dict[str, Any]]) -> str:
    """One line per run, then per algorithm: stalled runs and the longest stall."""
    lines = [
        "| run | algo | seed | env steps | stalls (first-last env steps) | stalled | threading |",
        "|---|---|---:|---:|---|---:|---|",
    ]
    for r in table:
        spans = ", ".join(f"{a / 1e6:.2f}-{b / 1e6:.2f}M" for a, b in r["spans"]) or "none"
        lines.append(
            f"| {r['run']} | {r['algo']} | {r['seed']} | {r['env_steps'] / 1e6:.2f}M | {spans} "
            f"| {r['stalled_env_steps'] / 1e6:.2f}M | {r['threading']} |"
        )
    lines += ["", "| algo | runs | stalled runs | longest stall | stalled env steps, all runs |"]
    lines.append("|---|---:|---:|---:|---:|")
    for algo in sorted({str(r["algo"]) for r in table}):
        runs = [r for r in table if str(r["algo"]) == algo]
        stalled = [r for r in runs if r["spans"]]
        longest = max(r["longest_env_steps"] for r in runs)
        total = sum(r["stalled_env_steps"] for r in runs) / max(
            sum(r["env_steps"] for r in runs), 1
        )
        lines.append(
            f"| {algo} | {len(runs)} | {len(stalled)} | {longest / 1e6:.2f}M | {total:.1%} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m analysis.stalls", description=__doc__)
    parser.add_argument("runs", nargs="+", type=Path, help="run directories")
    parser.add_argument("--min-env-steps", type=int, default=300_000, help="shortest stall")
    parser.add_argument("--until", type=int, default=None, help="read rows up to these steps")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    missing = [str(r) for r in args.runs if not read_metrics(r)]
    if missing:
        raise SystemExit(f"no metrics.jsonl rows in {', '.join(missing)}: pass run directories")
    table = [table_row(r, args.min_env_steps, args.until) for r in args.runs]
    print(json.dumps(table, indent=1) if args.json else markdown(table))


if __name__ == "__main__":
    main()
