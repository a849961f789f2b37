"""Stalls: spans of self-play with no decided game, read from metrics rows and warned of live."""

from __future__ import annotations

import json
import logging

from analysis import stalls
from analysis.formats import EVAL_FILE, read_metrics
from experiments.core import training
from tests.tiny import config, tiny

CHUNK = 100_000


def rows(decided: list[int]) -> list[dict]:
    return [{"env_steps": CHUNK * (i + 1), "decided_games": d} for i, d in enumerate(decided)]


def test_spans_cover_the_chunks_with_no_decided_game():
    history = rows([5, 0, 0, 0, 2, 0, 7, 0, 0, 0, 0])
    assert stalls.quiet_spans(history) == [
        (100_000, 400_000),
        (500_000, 600_000),
        (700_000, 1_100_000),
    ]
    assert stalls.stalls(history, 300_000) == [(100_000, 400_000), (700_000, 1_100_000)]
    assert stalls.ongoing(history) == 400_000
    assert stalls.ongoing(history[:5]) == 0
    summary = stalls.summary(history, 300_000)
    assert summary["stalled_env_steps"] == 700_000 and summary["longest_env_steps"] == 400_000
    assert summary["decided_games"] == 14 and summary["env_steps"] == 1_100_000
    assert "STALLED for 0.70M" in stalls.describe(summary)
    assert "no stall" in stalls.describe(stalls.summary(rows([1, 1]), 300_000))


def test_a_run_that_never_decides_a_game_stalls_from_the_start():
    assert stalls.stalls(rows([0, 0, 0]), 300_000) == [(0, 300_000)]
    assert stalls.stalls(rows([0, 0]), 300_000) == []


def test_rows_before_the_count_was_logged_derive_it_from_the_rates():
    old = {"env_steps": CHUNK, "episodes": 40.0, "win_rate": 0.25, "loss_rate": 0.5}
    assert stalls.decided_games(old) == 30
    # an asymmetric game: every behaviour's games, by its own counts
    per_role = {
        "env_steps": CHUNK,
        **{"episodes_Striker": 10.0, "win_rate_Striker": 0.5, "loss_rate_Striker": 0.0},
        **{"episodes_Goalie": 4.0, "win_rate_Goalie": 0.0, "loss_rate_Goalie": 0.0},
    }
    assert stalls.decided_games(per_role) == 5
    assert stalls.decided_games({"decided_games_Striker": 3.0, "decided_games_Goalie": 2.0}) == 5


def test_a_run_that_decides_no_game_warns_once_and_reports_the_stall(tmp_path, caplog):
    # SoccerTwos cut to 10 decisions a game: no goal can be scored from the kick-off, so every
    # game times out, as in a stalled run (no evaluation games: the stall is what eval.json
    # must report)
    cut = ("+env.options.max_physics_steps=50", "env.stall_env_steps=64", "eval.opponents=[]")
    cfg = config(*tiny("ippo"), *cut)
    with caplog.at_level(logging.WARNING):
        summary = training.train(cfg, tmp_path)
    warnings = [r.getMessage() for r in caplog.records if "decided no game" in r.getMessage()]
    assert len(warnings) == 1 and "0.00M env steps" in warnings[0]
    assert all(r["decided_games"] == 0 and r["episodes"] > 0 for r in read_metrics(tmp_path))
    stall = json.loads((tmp_path / EVAL_FILE).read_text())["stall"]
    assert stall == summary["stall"]
    assert stall["spans"] == [[0, 256]] and stall["stalled_env_steps"] == 256


def test_a_run_that_decides_games_does_not_warn(tmp_path, caplog):
    cfg = config("env=tennis", *tiny("ippo"), "env.stall_env_steps=64")
    with caplog.at_level(logging.WARNING):
        summary = training.train(cfg, tmp_path)
    assert not [r for r in caplog.records if "decided no game" in r.getMessage()]
    assert all(r["decided_games"] > 0 for r in read_metrics(tmp_path))
    assert summary["stall"]["spans"] == []


def test_the_stall_table_reads_run_directories(tmp_path, capsys):
    for seed, decided in ((0, [3, 0, 0, 0, 1]), (1, [2, 2, 2, 2, 2])):
        run = tmp_path / f"poca_s{seed}"
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"algo": {"name": "poca"}, "seed": seed}))
        lines = "".join(json.dumps(r) + "\n" for r in rows(decided))
        (run / "metrics.jsonl").write_text(lines)
        (run / "host.jsonl").write_text(json.dumps({"cpus": 2, "xla_flags": ""}) + "\n")
    stalls.main([str(tmp_path / "poca_s0"), str(tmp_path / "poca_s1"), "--until", "400000"])
    out = capsys.readouterr().out
    assert "| poca_s0 | poca | 0 | 0.40M | 0.10-0.40M | 0.30M | 2 cpus, XLA_FLAGS default |" in out
    assert "| poca | 2 | 1 | 0.30M | 37.5% |" in out
