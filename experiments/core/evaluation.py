"""A policy against scripted players and other policies: win/draw/loss with 95% intervals.

Each pairing is played on both sides (``games`` vmapped envs as team 0 and as team 1, for
``decisions`` decisions each; finished episodes restart). Results are win/draw/loss, the win
rate among decided games with its 95% Wilson interval, and the score ``(W + D/2) / games``,
plus whatever the game's record adds (``Game.extra_eval``: Tennis' solved score).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from analysis.intervals import wilson
from envs import match, scripted
from envs.base import MultiAgentEnv
from envs.policy import Policy, Roles, for_team
from envs.registry import find


def record(wins: int, draws: int, losses: int) -> dict[str, Any]:
    """Win/draw/loss with the decided win rate, its 95% Wilson interval and the score."""
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


def head_to_head(
    env: MultiAgentEnv,
    policy: Policy | Roles,
    params: Any,
    opponent: Policy | Roles,
    opponent_params: Any,
    games: int,
    decisions: int,
    key: jax.Array,
) -> dict[str, Any]:
    """Win/draw/loss of ``policy`` over both sides, with a 95% interval on the decided rate.

    In an asymmetric game (``Roles``) the two sides are two different roles, so the result
    of each is kept as well, under ``as_<behaviour>``.
    """
    total = [0, 0, 0]
    sides = {}
    for side, k in enumerate(jax.random.split(key, 2)):
        mine = for_team(policy, params, side)
        theirs = for_team(opponent, opponent_params, 1 - side)
        pair = [mine, theirs] if side == 0 else [theirs, mine]
        c = match.play(env, [p for p, _ in pair], k, games, decisions, [q for _, q in pair])
        c = c.counts()
        result = (c[f"team{side}"], c["draw"], c[f"team{1 - side}"])
        total = [a + b for a, b in zip(total, result, strict=True)]
        if isinstance(policy, Roles):
            behaviour = env.spec.behaviour_specs[env.spec.behaviour_of(side)].name
            sides[f"as_{behaviour}"] = record(*result)
    return record(*total) | sides


def scripted_opponent(env: MultiAgentEnv, name: str) -> Policy | Roles:
    """The env's scripted player ``name`` as a team policy, or per role in an asymmetric
    game (``Roles``, whose params are ``[None, None]``)."""
    spec = env.spec
    if not spec.asymmetric:
        return scripted.team(spec.name, name)
    teams = range(spec.num_teams)
    behaviours = [spec.behaviour_specs[spec.behaviour_of(t)].name for t in teams]
    return Roles(tuple(scripted.team(spec.name, name, b) for b in behaviours), tuple(teams))


def vs_scripted(
    env: MultiAgentEnv,
    policy: Policy | Roles,
    params: Any,
    name: str,
    games: int,
    decisions: int,
    key: jax.Array,
) -> dict[str, Any]:
    """``head_to_head`` of a policy (a learner's ``act``, an imported model's) against the
    env's scripted team ``name``."""
    opponent = scripted_opponent(env, name)
    none = [None, None] if isinstance(opponent, Roles) else None
    return head_to_head(env, policy, params, opponent, none, games, decisions, key)


def evaluate_policy(
    env: MultiAgentEnv,
    policy: Policy | Roles,
    params: Any,
    opponents: Sequence[str],
    games: int,
    decisions: int,
    key: jax.Array,
    others: dict[str, tuple[Policy, Any]] | None = None,
) -> dict[str, Any]:
    """Evaluate against each scripted opponent and each ``others`` entry
    (name -> ``(policy, params)``)."""
    summary: dict[str, Any] = {
        "env": env.spec.name,
        "games_per_side": games,
        "decisions": decisions,
    }
    keys = iter(jax.random.split(key, len(opponents) + len(others or {}) + 1))
    for name in opponents:
        summary[f"vs_{name}"] = vs_scripted(env, policy, params, name, games, decisions, next(keys))
    for name, (other, other_params) in (others or {}).items():
        summary[f"vs_{name}"] = head_to_head(
            env, policy, params, other, other_params, games, decisions, next(keys)
        )
    record = find(env.spec.name)
    if record is not None and record.extra_eval is not None:
        summary |= record.extra_eval(env, policy, params, games, decisions, next(keys))
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
            entries = [(key, value)]
            entries += [(f"  {k}", v) for k, v in value.items() if k.startswith("as_")]
            for name, v in entries:
                low, high = v["win_rate_decided_ci95"]
                lines.append(
                    f"{name}: W/D/L {v['wins']}/{v['draws']}/{v['losses']}, "
                    f"won {v['win_rate_decided']:.1%} of decided [95% CI {low:.1%}, {high:.1%}]"
                )
    if "game_score" in summary:
        t = summary["game_score"]
        lines.append(
            f"{summary['env']} score (mean max return over {t['episodes']} episodes): "
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
