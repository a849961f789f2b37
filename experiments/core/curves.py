"""Win rates at every saved checkpoint and policy snapshot of a run
(``experiments.checkpoint_curve``'s library)."""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax

from analysis.formats import CONFIG_FILE, read_config, read_jsonl, run_identity
from envs import scripted
from experiments.core.build import build_offline
from experiments.core.checkpoint import (
    SNAPSHOTS,
    Checkpointer,
    CheckpointError,
    load_policy,
    snapshots,
)
from experiments.core.evaluation import head_to_head, vs_scripted
from experiments.core.players import Player, side

CURVE_FILE = "checkpoint_curve.jsonl"


def run_config(run_dir: Path) -> dict[str, Any]:
    """The resolved training config of ``run_dir``."""
    config = read_config(run_dir)
    if config is None:
        raise FileNotFoundError(
            f"no {CONFIG_FILE} or .hydra/config.yaml in {run_dir}: is it a run directory written "
            "by experiments.run?"
        )
    return config


def read_curve(run_dir: Path) -> list[dict[str, Any]]:
    """The rows written so far."""
    return read_jsonl(run_dir / CURVE_FILE)


def opponent_key(
    key: jax.Array, name: str, eval_order: Sequence[str], all_names: Sequence[str]
) -> jax.Array:
    """``evaluate_policy``'s key for an opponent of the run's final evaluation (one split per
    opponent, in ``eval.opponents`` order); a fixed key per name for any other opponent."""
    if name in eval_order:
        return jax.random.split(key, len(eval_order) + 1)[list(eval_order).index(name)]
    if name in all_names:
        return jax.random.fold_in(key, list(all_names).index(name))
    return jax.random.fold_in(key, zlib.crc32(name.encode()) & 0x7FFFFFFF)


def checkpoint_curve(
    run_dir: str | Path,
    opponents: Sequence[str],
    games: int | None = None,
    decisions: int | None = None,
) -> list[dict[str, Any]]:
    """Evaluate every checkpoint and policy snapshot (``checkpoint.policy_every``) against
    every opponent not yet in the curve file; all rows.

    An opponent is a scripted player's name, or a run directory, ML-Agents ``.onnx`` file or
    model folder (``experiments.core.players``; its row's ``opponent`` is the path as given),
    e.g. Unity's shipped model, to see when a run passes it. ``games`` (parallel envs per side)
    and ``decisions`` default to the run's ``eval`` settings. Rows: ``chunk``, ``env_steps``,
    ``wall_s`` (training time at the save), ``opponent``, ``games_per_side``, ``decisions``
    and ``head_to_head``'s counts and rates.
    """
    run_dir = Path(run_dir).absolute()
    saved = snapshots(run_dir)
    if not saved and not (run_dir / "checkpoints").is_dir():
        raise CheckpointError(f"no checkpoints/ or {SNAPSHOTS}/ directory in {run_dir}")
    config = run_config(run_dir)
    games = int(games or config["eval"]["games"])
    decisions = int(decisions or config["eval"]["decisions"])
    env, trainer = build_offline(config, run_dir)
    valid = scripted.names(env.spec.name)
    if not opponents:
        raise ValueError(
            f"no opponents given for {env.spec.name}; valid: {sorted(valid)}, or a run "
            "directory, .onnx file or model folder"
        )
    players: dict[str, Player] = {}
    for name in opponents:
        if name not in valid:
            try:
                players[name] = side(env.spec.name, name)
            except (ValueError, FileNotFoundError) as error:
                raise ValueError(
                    f"unknown opponent {name!r} for {env.spec.name}; valid: {sorted(valid)}, or "
                    f"a run directory, .onnx file or model folder ({error})"
                ) from error

    rows = read_curve(run_dir)
    # Rewrite what was readable, so rows appended now do not follow a torn line.
    tmp = run_dir / f"{CURVE_FILE}.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp.replace(run_dir / CURVE_FILE)
    done = {(r["chunk"], r["opponent"], r["games_per_side"], r["decisions"]) for r in rows}
    template = jax.eval_shape(trainer.init, jax.random.PRNGKey(0))  # shapes only
    ident = run_identity(config)
    checkpointer = Checkpointer(run_dir / "checkpoints", keep=None)  # keep all: only reads
    key = jax.random.PRNGKey(int(config["seed"]) + 1)  # experiments.run's evaluation key
    steps = sorted(set(checkpointer.steps()) | set(saved))
    with (run_dir / CURVE_FILE).open("a") as out:
        for step in steps:
            todo = [o for o in opponents if (step, o, games, decisions) not in done]
            if not todo:
                continue
            if step in saved:  # a policy snapshot: the policy alone, cheap to load
                meta = saved[step]
                policy_dir = run_dir / SNAPSHOTS / str(step)
                params = load_policy(policy_dir, trainer.policy_params(template))
            else:
                state, meta = checkpointer.restore(template, ident, step)
                params = trainer.policy_params(state)
            for name in todo:
                k = opponent_key(key, name, config["eval"]["opponents"], sorted(valid))
                if name in players:
                    other = players[name]
                    result = head_to_head(
                        env,
                        trainer.team_policy,
                        params,
                        other.policy,
                        other.params,
                        games,
                        decisions,
                        k,
                    )
                else:
                    result = vs_scripted(
                        env, trainer.team_policy, params, name, games, decisions, k
                    )
                row = {
                    "chunk": step,
                    "env_steps": meta["env_steps"],
                    "wall_s": meta["wall_s"],
                    "opponent": name,
                    "games_per_side": games,
                    "decisions": decisions,
                    **result,
                }
                out.write(json.dumps(row) + "\n")
                out.flush()
                os.fsync(out.fileno())
                rows.append(row)
                low, high = result["win_rate_decided_ci95"]
                print(
                    f"chunk {step:5d} ({meta['env_steps']:>11,} env steps) vs {name}: won "
                    f"{result['win_rate_decided']:.1%} of {result['wins'] + result['losses']} "
                    f"decided [95% CI {low:.1%}, {high:.1%}]",
                    flush=True,
                )
    checkpointer.close()
    return rows
