"""Same seed, same numbers: a fingerprint of short runs of every algorithm and play case.

A refactor that claims to change no numbers runs this before and after and compares the two
files: every case trains a few small chunks through ``experiments.run``'s loop (ghost swaps and
team changes shortened so they happen) and records its last metrics row, its evaluation and a
hash of its final policy. Cases: each algorithm on SoccerTwos, StrikersVsGoalie (turn-taking
and concurrent) and Tennis, and a cooperative JaxMARL task when JaxMARL is installed.

    python -m experiments.bench.fingerprint --out before.json        # on the old commit
    python -m experiments.bench.fingerprint --out after.json --compare before.json

A case that fails records its error (and the others still run); the file is written after
every case, and a rerun with the same ``--out`` runs only the cases it lacks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from algos import names
from experiments.core import training
from experiments.core.config import compose
from experiments.core.players import load_run

SMALL = [
    "algo.num_envs=8",
    "algo.hidden=[32]",
    "chunk_env_steps=256",
    "total_env_steps=1024",
    "checkpoint.every_chunks=2",
    "eval.games=4",
    "eval.decisions=40",
    "logging.wandb=false",
    "logging.progress=false",
    # self-play events every few updates, so that swaps, saves and team changes are exercised
    "env.selfplay.save_steps=400",
    "env.selfplay.swap_steps=200",
    "env.selfplay.team_change=800",
]
PER_ALGO = {
    "ippo": ["algo.rollout_len=16", "algo.num_minibatches=2"],
    "poca": ["algo.rollout_len=16", "algo.num_minibatches=2"],
    "maddpg": ["algo.learning_starts=64", "algo.buffer_size=2048", "algo.batch_size=32"],
}
TIMINGS = ("compile_s", "train_wall_s")  # in eval.json, but not numbers of the run
STRIKERS_ROLES = ["~env.selfplay.behaviours"]  # the per-role swaps: shortened with the rest


def cases(with_jaxmarl: bool) -> dict[str, list[str]]:
    """Name -> overrides of every case."""
    out: dict[str, list[str]] = {}
    for algo in names():
        extra = PER_ALGO.get(algo, [])
        out[f"{algo}/soccer_twos"] = [f"algo={algo}", "env=soccer_twos", *extra]
        out[f"{algo}/strikers_vs_goalie"] = [
            f"algo={algo}",
            "env=strikers_vs_goalie",
            *STRIKERS_ROLES,
            *extra,
        ]
        out[f"{algo}/strikers_vs_goalie/concurrent"] = [
            *out[f"{algo}/strikers_vs_goalie"],
            "env.selfplay.concurrent=true",
        ]
        out[f"{algo}/tennis"] = [f"algo={algo}", "env=tennis", *extra]
        if with_jaxmarl:
            out[f"{algo}/mpe_spread"] = [
                f"algo={algo}",
                "env=jaxmarl",
                "env.options.env_id=MPE_simple_spread_v3",
                "env.options.scenario=null",
                *extra,
            ]
    return out


def digest(tree: Any) -> str:
    """sha256 over a pytree's leaves in order: equal only for bit-identical params."""
    import jax

    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        if leaf is not None:
            h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()


def fingerprint(overrides: Sequence[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        summary = training.train(compose([*overrides, *SMALL]), run_dir)
        rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        _, _, params = load_run(run_dir)
    last = {k: v for k, v in rows[-1].items() if k not in ("wall_s", "sps", "agent_sps")}
    summary = {k: v for k, v in summary.items() if k not in TIMINGS}
    return {"metrics": last, "eval": summary, "policy": digest(params)}


def same(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs, one line per case and part."""
    lines = []
    for name in sorted(set(before) | set(after)):
        if name not in before or name not in after:
            lines.append(f"{name}: only in {'after' if name in after else 'before'}")
            continue
        if "error" in before[name] or "error" in after[name]:
            if before[name].get("error") != after[name].get("error"):
                lines.append(
                    f"{name}: error before {before[name].get('error')!r}, after "
                    f"{after[name].get('error')!r}"
                )
            continue
        for part in ("policy", "metrics", "eval"):
            b, a = before[name][part], after[name][part]
            if part == "eval":  # timings are not numbers of the run
                b, a = ({k: v for k, v in x.items() if k not in TIMINGS} for x in (b, a))
            if same(b) != same(a):  # as JSON text: a NaN (no decided game) equals a NaN
                lines.append(f"{name}: {part} differs")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the fingerprint file to write")
    parser.add_argument("--compare", default=None, help="an earlier fingerprint file")
    parser.add_argument("--only", nargs="*", default=None, help="case names (default: all)")
    args = parser.parse_args(argv)
    try:
        import jaxmarl  # noqa: F401

        with_jaxmarl = True
    except ImportError:
        with_jaxmarl = False
    todo = cases(with_jaxmarl)
    unknown = sorted(set(args.only or []) - set(todo))
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; valid: {sorted(todo)}")
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}  # resumable: kept cases
    for name, overrides in todo.items():
        if (args.only and name not in args.only) or name in results:
            continue
        try:
            results[name] = fingerprint(overrides)
            print(f"{name}: policy {results[name]['policy'][:12]}", flush=True)
        except Exception as error:  # a failing case is a result too: the others still run
            results[name] = {"error": f"{type(error).__name__}: {error}"[:500]}
            print(f"{name}: {results[name]['error']}", flush=True)
        out.write_text(json.dumps(results, indent=1, sort_keys=True, default=str))
    if args.compare:
        before = json.loads(Path(args.compare).read_text())
        if args.only:  # only the cases run now
            before = {k: v for k, v in before.items() if k in results}
        differences = compare(before, results)
        print("\n".join(differences) or "same numbers in every case")


if __name__ == "__main__":
    main()
