"""Goal attribution: hand-made traces with known answers, and a scripted match."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import envs
from envs import scripted
from experiments.core import goals as gr
from experiments.core.evaluation import scripted_opponent

TEAMS = (0, 0, 1, 1)


def _trace(T: int, N: int) -> gr.Trace:
    return gr.Trace(
        touches=np.zeros((T, N, 4), np.int32),
        scorer=np.full((T, N), -1),
        done=np.zeros((T, N), bool),
        nearest_team=np.zeros((T, N), np.int32),
    )


def test_games_split_and_last_touch():
    t = _trace(8, 1)
    # Game 1 (decisions 0-2): purple_0 touches, then blue_1; team 0 scores -> team 0's goal.
    t.touches[0, 0, 2] = 1
    t.touches[1, 0, 1] = 1
    t.scorer[2, 0], t.done[2, 0] = 0, True
    # Game 2 (3-5): blue_0 touches last, team 1 scores -> an own goal by team 0.
    t.nearest_team[3, 0] = 1
    t.touches[4, 0, 0] = 1
    t.scorer[5, 0], t.done[5, 0] = 1, True
    # Decisions 6-7: unfinished, dropped.
    t.touches[6, 0, 3] = 1
    played = gr.games(t, TEAMS)
    assert played == [gr.PlayedGame(3, 0, 0, 0), gr.PlayedGame(3, 1, 0, 1)]


def test_summary_from_the_learners_side():
    played = [
        (gr.PlayedGame(5, 0, 0, 0), 0),  # learner (team 0) scores
        (gr.PlayedGame(30, 0, 1, 1), 0),  # opponent's own goal
        (gr.PlayedGame(12, 1, 1, 0), 1),  # learner as team 1 scores
        (gr.PlayedGame(40, 0, 0, 0), 1),  # opponent (team 0) scores against learner team 1
        (gr.PlayedGame(60, 1, 1, 1), 1),  # learner team 1 scores again
        (gr.PlayedGame(70, 0, 1, 1), 1),  # learner team 1 touched last, team 0 scored: own goal
        (gr.PlayedGame(1000, -1, -1, 0), 0),  # time-out
    ]
    s = gr.summarise(played)
    assert s["decided"] == 6 and s["timeouts"] == 1
    assert s["goals"] == {
        "learner_goal": 3,
        "opponent_own_goal": 1,
        "opponent_goal": 1,
        "learner_own_goal": 1,
    }
    assert s["win_rate"] == 4 / 6
    assert s["by_length"]["1-10"] == {"games": 1, "win_rate": 1.0}
    assert s["by_length"]["21-50"] == {"games": 2, "win_rate": 0.5}
    assert s["kickoff_learner_nearest"]["games"] == 3  # the 5-, 60- and 70-decision games
    assert s["kickoff_opponent_nearest"]["win_rate"] == 2 / 3


def test_scripted_match_every_goal_has_a_toucher():
    """The ball starts at rest, so no goal can come before a touch; counts match the trace."""
    env = envs.make("soccer_twos")
    pair = [scripted.team("soccer_twos", "chaser"), scripted.team("soccer_twos", "random")]
    record = gr.trace(env, pair, [None, None], jax.random.PRNGKey(0), 16, 150)
    played = gr.games(record, env.spec.teams)
    goals = [g for g in played if g.scorer >= 0]
    assert len(goals) >= 5
    assert all(g.last_touch >= 0 for g in goals)
    assert record.touches.sum() > len(goals)
    s = gr.summarise([(g, 0) for g in played])
    assert s["win_rate"] > 0.6, "the chaser beats random"
    assert sum(s["goals"].values()) == s["decided"] == len(goals)


def test_strikers_vs_goalie_goals_are_attributed_from_its_record():
    """The report reads the ball from the game record, so the asymmetric soccer scene has one
    too: the scripted strikers score against the random goalie, each goal after a touch, and
    only into Purple's goal (Blue's is blocked)."""
    env = envs.make("strikers_vs_goalie")
    opponent = scripted_opponent(env, "random")
    policy = scripted_opponent(env, "scripted")
    s = gr.report(env, policy, [None, None], opponent, 16, 150, jax.random.PRNGKey(0))
    assert s["decided"] >= 5
    assert sum(s["goals"].values()) == s["decided"]
    assert s["win_rate"] > 0.5, "scripted strikers and goalie beat random ones"


def test_a_game_without_a_ball_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="valid: soccer_twos, strikers_vs_goalie"):
        gr.trace(envs.make("tennis"), [None, None], [None, None], jax.random.PRNGKey(0), 1, 1)
