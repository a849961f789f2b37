"""Goal attribution in a ball game (the library of ``experiments.goal_report``).

What the report needs of a game comes from its record (``envs.registry.BallGame``): the
soccer scenes, SoccerTwos and StrikersVsGoalie, have it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from envs import match
from envs.base import MultiAgentEnv
from envs.policy import Policy, Roles, for_team
from envs.registry import BallGame, find, names

LENGTH_BINS = ((1, 10), (11, 20), (21, 50), (51, 100), (101, 300), (301, 10**9))


class Trace(NamedTuple):
    """Per-decision records ``[T, N, ...]`` of ``N`` games played for ``T`` decisions."""

    touches: np.ndarray  # [T, N, A] ball touches by each agent during the decision
    scorer: np.ndarray  # [T, N] team that scored at this decision, -1 for none
    done: np.ndarray  # [T, N] the game ended (goal or time-out)
    nearest_team: np.ndarray  # [T, N] team of the agent nearest the ball before the decision


class PlayedGame(NamedTuple):
    """One finished game: its length, the scoring team (-1: time-out) and attributions."""

    length: int
    scorer: int
    last_touch: int  # team of the last agent to touch the ball, -1 if nobody did
    kickoff_nearest: int  # team nearest the ball at kick-off


def ball_game(env: MultiAgentEnv) -> BallGame:
    """The record's ball-game facts; a game without them names the games that have them."""
    record = find(env.spec.name)
    if record is None or record.ball is None:
        valid = [n for n in names() if (r := find(n)) is not None and r.ball is not None]
        raise ValueError(f"{env.spec.name} has no goals to attribute; valid: {', '.join(valid)}")
    return record.ball


def trace(
    env: MultiAgentEnv,
    policies: Sequence[Policy],
    params: Sequence[Any],
    key: jax.Array,
    num_envs: int,
    num_steps: int,
) -> Trace:
    """Play ``num_envs`` games for ``num_steps`` decisions (one jitted scan) and record them."""
    ball = ball_game(env)
    env = ball.counting(env)
    act = match.team_actions(env, policies)
    teams = jnp.asarray(env.spec.teams)

    def run(params: Sequence[Any], key: jax.Array):
        key, k_reset = jax.random.split(key)
        obs, state = env.reset_batch(jax.random.split(k_reset, num_envs))

        def body(carry, k):
            obs, state = carry
            k_act, k_step = jax.random.split(k)
            nearest = teams[jnp.argmin(jax.vmap(ball.ball_distances)(state), axis=-1)]
            actions = jax.vmap(act, in_axes=(None, 0, 0))(
                params, obs, jax.random.split(k_act, num_envs)
            )
            obs, state, reward, done, info = env.step_batch(
                jax.random.split(k_step, num_envs), state, actions
            )
            goal = info.terminated[:, 0]
            scorer = jnp.where(goal, teams[jnp.argmax(info.group_reward, axis=-1)], -1)
            touches = jnp.round(reward).astype(jnp.int32)
            return (obs, state), (touches, scorer, jnp.all(done, axis=-1), nearest)

        return jax.lax.scan(body, (obs, state), jax.random.split(key, num_steps))[1]

    return Trace(*(np.asarray(r) for r in jax.jit(run)(list(params), key)))


def games(record: Trace, teams: Sequence[int]) -> list[PlayedGame]:
    """Split a trace into finished games (unfinished tails are dropped)."""
    teams = np.asarray(teams)
    out = []
    num_steps, num_envs = record.done.shape
    for n in range(num_envs):
        start, last = 0, -1
        for t in range(num_steps):
            touched = record.touches[t, n]
            if touched.any():  # two agents in one 0.1 s decision (rare): the lower index
                last = int(teams[np.argmax(touched)])
            if record.done[t, n]:
                out.append(
                    PlayedGame(
                        t - start + 1,
                        int(record.scorer[t, n]),
                        last,
                        int(record.nearest_team[start, n]),
                    )
                )
                start, last = t + 1, -1
    return out


def summarise(played: Sequence[tuple[PlayedGame, int]]) -> dict[str, Any]:
    """Counts and win rates from ``(game, learner_team)`` pairs; see the module docstring."""
    goals = {"learner_goal": 0, "opponent_own_goal": 0, "opponent_goal": 0, "learner_own_goal": 0}
    timeouts = 0
    lengths, won, learner_nearest = [], [], []
    for game, me in played:
        if game.scorer < 0:
            timeouts += 1
            continue
        mine = game.scorer == me
        by_me = game.last_touch == me
        key = (
            ("learner_goal" if by_me else "opponent_own_goal")
            if mine
            else ("learner_own_goal" if by_me else "opponent_goal")
        )
        goals[key] += 1
        lengths.append(game.length)
        won.append(mine)
        learner_nearest.append(game.kickoff_nearest == me)
    # typed, so that a report with no decided game (all time-outs) still masks correctly
    lengths = np.asarray(lengths, np.int64)
    won, learner_nearest = np.asarray(won, bool), np.asarray(learner_nearest, bool)

    def rate(mask: np.ndarray) -> dict[str, Any]:
        return {
            "games": int(mask.sum()),
            "win_rate": float(won[mask].mean()) if mask.any() else None,
        }

    return {
        "decided": int(won.size),
        "timeouts": timeouts,
        "win_rate": float(won.mean()) if won.size else None,
        "goals": goals,
        "by_length": {
            f"{lo}-{hi if hi < 10**9 else 'max'}": rate((lengths >= lo) & (lengths <= hi))
            for lo, hi in LENGTH_BINS
        },
        "kickoff_learner_nearest": rate(learner_nearest),
        "kickoff_opponent_nearest": rate(~learner_nearest),
    }


def report(
    env: MultiAgentEnv,
    policy: Policy | Roles,
    params: Any,
    opponent: Policy | Roles,
    games_per_side: int,
    decisions: int,
    key: jax.Array,
) -> dict[str, Any]:
    """The policy as team 0, then as team 1, against ``opponent``; one summary of both."""
    played = []
    for side, k in enumerate(jax.random.split(key, 2)):
        none = [None, None] if isinstance(opponent, Roles) else None  # scripted: no params
        mine = for_team(policy, params, side)
        theirs = for_team(opponent, none, 1 - side)
        pair = [mine, theirs] if side == 0 else [theirs, mine]
        record = trace(
            env, [p for p, _ in pair], [q for _, q in pair], k, games_per_side, decisions
        )
        played += [(g, side) for g in games(record, env.spec.teams)]
    return summarise(played)


def describe(summary: dict[str, Any]) -> str:
    g, d = summary["goals"], max(summary["decided"], 1)
    lines = [
        f"decided {summary['decided']} (time-outs {summary['timeouts']}), "
        "learner wins " + ("n/a" if summary["win_rate"] is None else f"{summary['win_rate']:.1%}"),
        "goals: " + ", ".join(f"{k} {v} ({v / d:.1%})" for k, v in g.items()),
    ]
    for name, r in summary["by_length"].items():
        if r["games"]:
            lines.append(
                f"  length {name:>8}: {r['games']:5d} games, learner wins {r['win_rate']:.1%}"
            )
    for name in ("kickoff_learner_nearest", "kickoff_opponent_nearest"):
        r = summary[name]
        if r["games"]:
            lines.append(f"  {name}: {r['games']} games, learner wins {r['win_rate']:.1%}")
    return "\n".join(lines)
