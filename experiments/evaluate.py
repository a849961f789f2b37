"""Play a trained policy against scripted opponents and other trained policies.

python -m experiments.evaluate outputs/2026-11-23/10-00-00
python -m experiments.evaluate RUN_DIR --opponents chaser random --games 512
python -m experiments.evaluate RUN_DIR --against OTHER_RUN_DIR [OTHER ...]

Each pairing is played on both sides (``games`` vmapped envs as team 0 and as team 1, for
``decisions`` decisions each; finished episodes restart). Results are win/draw/loss, the win
rate among decided games with its 95% Wilson interval, and the score ``(W + D/2) / games``.
For Tennis it also reports the solved score: the mean over episodes of the larger of the
two agents' returns when the policy plays itself (Udacity's measure; solved at 0.5).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
from omegaconf import OmegaConf

from algos.base import Learner
from analysis.intervals import wilson
from envs import match, scripted
from envs.base import MultiAgentEnv
from experiments.builder import build
from experiments.checkpoint import CONFIG_FILE, load_policy


def head_to_head(
    env: MultiAgentEnv,
    policy: match.Policy,
    params: Any,
    opponent: match.Policy,
    opponent_params: Any,
    games: int,
    decisions: int,
    key: jax.Array,
) -> dict[str, Any]:
    """Win/draw/loss of ``policy`` over both sides, with a 95% interval on the decided rate."""
    wins = draws = losses = 0
    for side, k in enumerate(jax.random.split(key, 2)):
        pair = [policy, opponent] if side == 0 else [opponent, policy]
        pair_params = [params, opponent_params] if side == 0 else [opponent_params, params]
        c = match.play(env, pair, k, games, decisions, params=pair_params).counts()
        wins += c[f"team{side}"]
        losses += c[f"team{1 - side}"]
        draws += c["draw"]
    decided = wins + losses
    low, high = wilson(wins, decided)
    total = decided + draws
    return {
        "wins": wins,
        "draws": draws,
        "losses": losses,
        "games": total,
        "win_rate_decided": wins / decided if decided else float("nan"),
        "win_rate_decided_ci95": [low, high],
        "score": (wins + 0.5 * draws) / total if total else float("nan"),
    }


def vs_scripted(
    env: MultiAgentEnv,
    learner: Learner,
    params: Any,
    name: str,
    games: int,
    decisions: int,
    key: jax.Array,
) -> dict[str, Any]:
    """``head_to_head`` of a learner's policy against the env's scripted team ``name``."""
    opponent = scripted.team(env.spec.name, name)
    return head_to_head(env, learner.act, params, opponent, None, games, decisions, key)


def tennis_score(
    env: MultiAgentEnv,
    policy: match.Policy,
    params: Any,
    games: int,
    decisions: int,
    key: jax.Array,
) -> dict[str, Any]:
    """Udacity's solved score with the policy on both sides: mean of per-episode max return."""
    result = match.play(env, [policy, policy], key, games, decisions, params=[params, params])
    best = result.episode_return[result.done].max(axis=-1)
    return {
        "episodes": int(best.size),
        "mean_max_return": float(best.mean()) if best.size else float("nan"),
        "solved": bool(best.size >= 100 and best.mean() >= 0.5),
    }


def evaluate_learner(
    env: MultiAgentEnv,
    learner: Learner,
    params: Any,
    opponents: Sequence[str],
    games: int,
    decisions: int,
    key: jax.Array,
    others: dict[str, tuple[Learner, Any]] | None = None,
) -> dict[str, Any]:
    """Evaluate against each scripted opponent and each ``others`` entry (name -> policy)."""
    summary: dict[str, Any] = {
        "env": env.spec.name,
        "games_per_side": games,
        "decisions": decisions,
    }
    keys = iter(jax.random.split(key, len(opponents) + len(others or {}) + 1))
    for name in opponents:
        summary[f"vs_{name}"] = vs_scripted(
            env, learner, params, name, games, decisions, next(keys)
        )
    for name, (other, other_params) in (others or {}).items():
        summary[f"vs_{name}"] = head_to_head(
            env, learner.act, params, other.act, other_params, games, decisions, next(keys)
        )
    if env.spec.name == "tennis":
        summary["tennis_score"] = tennis_score(
            env, learner.act, params, games, decisions, next(keys)
        )
    return summary


def flatten(summary: dict[str, Any]) -> dict[str, Any]:
    """``vs_chaser/win_rate_decided``-style scalars (for wandb's summary)."""
    flat = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            for k, v in value.items():
                if np.isscalar(v):
                    flat[f"eval/{key}/{k}"] = v
        elif np.isscalar(value):
            flat[f"eval/{key}"] = value
    return flat


def describe(summary: dict[str, Any]) -> str:
    lines = []
    for key, value in summary.items():
        if key.startswith("vs_"):
            low, high = value["win_rate_decided_ci95"]
            lines.append(
                f"{key}: W/D/L {value['wins']}/{value['draws']}/{value['losses']}, "
                f"won {value['win_rate_decided']:.1%} of decided [95% CI {low:.1%}, {high:.1%}]"
            )
    if "tennis_score" in summary:
        t = summary["tennis_score"]
        lines.append(
            f"tennis score (mean max return over {t['episodes']} episodes): "
            f"{t['mean_max_return']:.3f}{' (solved)' if t['solved'] else ''}"
        )
    if "solved_at" in summary:
        at = summary["solved_at"]
        lines.append(
            "not solved during training"
            if at is None
            else f"solved during training at episode {at['episode']:.0f} "
            f"({at['env_steps']} env steps, 100-episode score {at['score']:.3f})"
        )
    return "\n".join(lines)


def load_run(run_dir: str | Path) -> tuple[MultiAgentEnv, Learner, Any]:
    """The env, learner and final policy params saved by ``experiments.run``."""
    final = Path(run_dir) / "final"
    config_file = final / CONFIG_FILE
    if not config_file.exists():
        raise FileNotFoundError(
            f"{config_file} not found: {run_dir} is not a finished run (resume it with "
            f"`python -m experiments.run resume={run_dir}`)"
        )
    env, learner = build_offline(json.loads(config_file.read_text()), run_dir)
    template = learner.policy_params(learner.init(jax.random.PRNGKey(0)))
    return env, learner, load_policy(final, template)


def build_offline(config: dict[str, Any], run_dir: str | Path) -> tuple[MultiAgentEnv, Learner]:
    """The env and learner of a run's saved config; a run trained on a Unity build gets the
    JAX game it matched (``env.expect``), so its policies play without the binary."""
    cfg = OmegaConf.create(config)
    if cfg.env.name == "unity":
        if not cfg.env.get("expect"):
            raise ValueError(
                f"{run_dir} was trained on a Unity build with env.expect=null: its spec exists "
                "only in that build, so it cannot be loaded offline"
            )
        cfg.env.name, cfg.env.options = cfg.env.expect, {}
    return build(cfg)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a run directory written by experiments.run")
    parser.add_argument("--opponents", nargs="*", default=None, help="scripted (default: all)")
    parser.add_argument("--against", nargs="*", default=[], help="other run directories")
    parser.add_argument("--games", type=int, default=256, help="parallel envs per side")
    parser.add_argument("--decisions", type=int, default=1000, help="decisions per env")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the summary JSON here")
    args = parser.parse_args(argv)

    env, learner, params = load_run(args.run_dir)
    opponents = (
        args.opponents if args.opponents is not None else sorted(scripted.POLICIES[env.spec.name])
    )
    others = {}
    for other_dir in args.against:
        other_env, other, other_params = load_run(other_dir)
        if other_env.spec != env.spec:
            raise ValueError(
                f"{other_dir} was trained on {other_env.spec.name}, not {env.spec.name}"
            )
        others[str(other_dir)] = (other, other_params)
    summary = evaluate_learner(
        env,
        learner,
        params,
        opponents,
        args.games,
        args.decisions,
        jax.random.PRNGKey(args.seed),
        others,
    )
    print(describe(summary))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
