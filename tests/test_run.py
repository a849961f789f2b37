"""The training entry point: config composition, resume equality, bad input, evaluation."""

from __future__ import annotations

import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hydra.errors import MissingConfigException
from omegaconf import OmegaConf

import algos
import envs
from algos.trainer import scan_updates
from analysis.formats import HOST_FILE, read_jsonl, read_metrics
from experiments import evaluate
from experiments.core import training
from experiments.core.build import build, chunk_updates
from experiments.core.checkpoint import Checkpointer, CheckpointError, load_policy
from experiments.core.config import algo_names
from experiments.core.players import frozen_opponents, trained_player
from tests.tiny import config, tiny


@pytest.mark.parametrize("algo", algo_names())
@pytest.mark.parametrize("env", envs.games())  # the Unity adapter: tests/test_unity.py
def test_every_algo_env_pair_composes_and_traces(algo, env):
    cfg = config(f"env={env}", *tiny(algo))
    assert cfg.algo.name == algo and cfg.env.name == env
    assert cfg.total_env_steps == 256
    _, trainer = build(cfg)
    # The chunk training runs, traced for its shapes: the smoke study (tests/test_reproduce.py)
    # trains every pair through the CLI, where a non-finite loss ends the run with an error.
    state = jax.eval_shape(trainer.init, jax.random.PRNGKey(0))
    state, metrics = jax.eval_shape(scan_updates(trainer, chunk_updates(cfg, trainer)), state)
    assert metrics["loss"].shape == (chunk_updates(cfg, trainer),)
    if env == "tennis" and algo == "ippo":
        assert cfg.algo.normalize_obs  # conf/algo_env/ippo_tennis.yaml is applied


def test_default_config_trains_poca_on_soccer_with_ml_agents_self_play():
    cfg = config()
    assert (cfg.algo.name, cfg.env.name) == ("poca", "soccer_twos")
    assert cfg.env.selfplay.save_steps == 50000 and cfg.env.selfplay.team_change == 200000
    assert cfg.env.selfplay.elo_k == 1.0
    # conf/algo_env/poca_soccer_twos.yaml: ML-Agents' settings with a decayed, higher rate, and
    # beta and epsilon decayed with it as ML-Agents does; the pair file reaches neither POCA on
    # Tennis nor IPPO on SoccerTwos.
    algo = cfg.algo
    assert (algo.learning_rate, algo.anneal_lr, algo.anneal_ent_coef, algo.anneal_clip_eps) == (
        1e-3,
        True,
        True,
        True,
    )
    for other in (config("env=tennis"), config("algo=ippo")):
        assert (other.algo.learning_rate, other.algo.anneal_lr) == (3e-4, False)
        assert not (other.algo.anneal_ent_coef or other.algo.anneal_clip_eps)


def test_cpu_experiment_recipe_overrides_only_what_it_names():
    cfg = config("+experiment=poca_soccer_cpu")
    base = config()
    assert (cfg.algo.name, cfg.env.name) == ("poca", "soccer_twos")
    assert (cfg.algo.learning_rate, cfg.algo.ent_coef, cfg.algo.anneal_lr) == (1e-3, 0.002, False)
    assert not (cfg.algo.anneal_ent_coef or cfg.algo.anneal_clip_eps)  # constant, as measured
    assert cfg.env.options.ball_progress == 0.5 and cfg.total_env_steps == 5_000_000
    assert (cfg.algo.num_envs, cfg.algo.rollout_len, cfg.algo.mirror_symmetric) == (32, 320, True)
    assert list(cfg.env.selfplay.opponents) == ["chaser", "goalie"]
    assert cfg.algo.gae_lambda == base.algo.gae_lambda and cfg.algo.hidden == base.algo.hidden
    assert cfg.env.selfplay.save_steps == base.env.selfplay.save_steps
    env, _ = build(cfg, frozen_opponents(cfg))
    assert env.ball_progress == 0.5


def test_unknown_names_list_the_valid_choices():
    with pytest.raises(MissingConfigException, match="ippo"):
        config("algo=nope")
    with pytest.raises(MissingConfigException, match="soccer_twos"):
        config("env=nope")
    with pytest.raises(ValueError, match="valid"):
        build(config("+algo.not_a_key=1"))
    with pytest.raises(ValueError, match=r"'nope' is not a run directory.*chaser, goalie"):
        frozen_opponents(config("env.selfplay.opponents=[nope]"))
    with pytest.raises(ValueError, match="frozen_opponents"):  # names without their policies
        build(config("env.selfplay.opponents=[chaser]"))
    with pytest.raises(ValueError, match="valid algos: ippo"):
        algos.make("nope", envs.make("tennis"), {}, None, 1)


def test_a_population_of_frozen_players_is_played_without_moving_elo(tmp_path):
    """Training against a scripted player and a finished run (the population): every swap
    draws one of them, ELO stays; the run loads later without its opponents on disk."""
    opponent = tmp_path / "opponent"
    training.train(config("env=tennis", *tiny("ippo"), "eval.opponents=[]"), opponent)
    cfg = config(
        "env=tennis",
        *tiny("ippo"),
        f"env.selfplay.opponents=[tracker,{opponent}]",
        "env.selfplay.opponents_ratio=1.0",
        "env.selfplay.pfsp=hard",
        "env.selfplay.swap_steps=0",
    )
    _, trainer = build(cfg, frozen_opponents(cfg))
    state = trainer.init(jax.random.PRNGKey(0))
    state, metrics = jax.jit(scan_updates(trainer, 8))(state)
    assert set(np.asarray(metrics["ghost_opponent"]).tolist()) <= {0, 1}
    assert float(metrics["episodes"].sum()) > 0
    assert float(metrics["elo"][-1]) == float(metrics["elo"][0])
    (sp,) = state.selfplay
    assert float(sp.opponent_games.sum()) > 0  # PFSP's record of the learner's games

    run = tmp_path / "population"
    training.train(OmegaConf.merge(cfg, {"eval": {"opponents": []}}), run)
    shutil.rmtree(opponent)
    _, player = trained_player(run)
    assert player.kind == "trained"


def test_runs_saved_before_populations_still_load():
    cfg = config("env=tennis", *tiny("ippo"))
    old = OmegaConf.to_container(cfg)
    selfplay = old["env"]["selfplay"]
    selfplay["scripted"], selfplay["scripted_ratio"] = selfplay.pop("opponents"), 0.0
    del selfplay["opponents_ratio"], selfplay["pfsp"]
    _, trainer = build(OmegaConf.create(old))
    assert trainer.selfplay_cfgs[0].opponents == () and trainer.selfplay_cfgs[0].pfsp == "uniform"


def strip_timing(rows):
    return [{k: v for k, v in r.items() if k not in ("wall_s", "sps")} for r in rows]


@pytest.mark.parametrize("algo", ["ippo", "maddpg"])  # on- and off-policy (replay in the state)
def test_resume_gives_the_same_numbers_as_an_uninterrupted_run(tmp_path, algo):
    full, part = tmp_path / "full", tmp_path / "part"
    small = (*tiny(algo), "env=tennis")
    summary = training.train(config(*small), full)
    # The same run as a kill during chunk 4 leaves it: checkpoint 2 (of 2 and 4), and metrics
    # rows past it that the resumed run must drop, not repeat.
    shutil.copytree(full, part, ignore=shutil.ignore_patterns("final", "eval.json"))
    shutil.rmtree(part / "checkpoints" / "4")
    assert len(read_metrics(part)) == 4
    training.train(config(*small, f"resume={part}"), part)

    assert strip_timing(read_metrics(full)) == strip_timing(read_metrics(part))
    assert len(read_metrics(full)) == 4
    _, trainer = build(config(*small))
    template = jax.eval_shape(trainer.init, jax.random.PRNGKey(0))
    ident = {"algo": algo, "env": "tennis", "seed": 0}
    a, _ = Checkpointer(full / "checkpoints").restore(template, ident)
    b, _ = Checkpointer(part / "checkpoints").restore(template, ident)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert json.loads((full / "eval.json").read_text()).keys() == summary.keys()
    assert summary["game_score"]["episodes"] > 0 and summary["solved_score"] == 0.5

    # The saved policy reloads and plays through the evaluation CLI (the path is algo-agnostic).
    if algo == "ippo":
        evaluate.main([str(full), "--games", "2", "--decisions", "20", "--against", str(part)])


def final_policy(run_dir):
    _, trainer = build(OmegaConf.create(json.loads((run_dir / "config.json").read_text())))
    template = trainer.policy_params(jax.eval_shape(trainer.init, jax.random.PRNGKey(0)))
    return jax.tree.leaves(load_policy(run_dir / "final", template))


def test_seeds_in_one_process_are_the_runs_each_seed_makes_alone(tmp_path):
    small = (*tiny(), "env=tennis")  # the programs of the resume test above
    group, alone = tmp_path / "group", tmp_path / "alone"
    assert sorted(training.train_seeds(config(*small, "seeds=[0,1]"), group)) == [0, 1]
    training.train(config(*small, "seed=1"), alone)
    seed0, seed1 = group / "seed0", group / "seed1"
    assert strip_timing(read_metrics(seed1)) == strip_timing(read_metrics(alone))
    assert strip_timing(read_metrics(seed0)) != strip_timing(read_metrics(seed1))
    assert (seed1 / "config.json").read_text() == (alone / "config.json").read_text()
    for a, b in zip(final_policy(seed1), final_policy(alone), strict=True):
        np.testing.assert_array_equal(a, b)

    # Killed during seed 1's chunk 4: resuming the group keeps seed 0 as it is and resumes
    # seed 1 from its checkpoint 2 to the same numbers.
    finished = (seed0 / "eval.json").stat().st_mtime
    for done in ("final", "checkpoints/4"):
        shutil.rmtree(seed1 / done)
    (seed1 / "eval.json").unlink()
    summaries = training.train_seeds(config(*small, "seeds=[0,1]", f"resume={group}"), alone)
    assert list(summaries) == [1] and (seed0 / "eval.json").stat().st_mtime == finished
    assert strip_timing(read_metrics(seed1)) == strip_timing(read_metrics(alone))
    with pytest.raises(CheckpointError, match="resume=<dir"):
        training.train_seeds(config(*small, "seeds=[0,1]", "resume=true"), group)


def test_a_run_stopped_early_keeps_its_schedule_and_resumes_to_the_same_numbers(tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    small = (*tiny(), "env=tennis", "algo.anneal_lr=true")  # the schedule spans the budget
    training.train(config(*small), full)
    assert training.train(config(*small, "stop_env_steps=100"), part) == {}  # chunks 1-2 of 4
    assert len(read_metrics(part)) == 2 and not (part / "final").exists()
    assert (part / "checkpoints" / "2").is_dir()
    training.train(config(*small, f"resume={part}"), part)
    assert strip_timing(read_metrics(full)) == strip_timing(read_metrics(part))
    assert [h["from_env_steps"] for h in read_jsonl(part / HOST_FILE)] == [0, 128]


def test_resume_rejects_mismatched_and_corrupt_checkpoints(tmp_path):
    small = (*tiny(), "env=tennis")
    training.train(config(*small, "total_env_steps=128"), tmp_path)
    with pytest.raises(CheckpointError, match="seed"):
        training.train(config(*small, "seed=1", f"resume={tmp_path}"), tmp_path)
    with pytest.raises(CheckpointError, match="does not fit"):
        training.train(config(*small, "algo.hidden=[8]", f"resume={tmp_path}"), tmp_path)
    for f in (tmp_path / "checkpoints").glob("*/state/*"):
        if f.is_file():
            f.write_bytes(b"garbage")
    with pytest.raises(CheckpointError):
        training.train(config(*small, f"resume={tmp_path}"), tmp_path)
    with pytest.raises(CheckpointError, match="no checkpoints"):
        training.train(config(*small, f"resume={tmp_path / 'missing'}"), tmp_path)


def test_nan_loss_stops_with_advice(tmp_path):
    with pytest.raises(FloatingPointError, match="learning_rate"):
        training.check_finite({"loss": float("nan")}, 100, tmp_path)
    training.check_finite({"loss": 0.1, "value_loss": 1.0}, 100, tmp_path)


def test_metrics_and_wandb_offline(tmp_path):
    cfg = config("env=tennis", *tiny(), "total_env_steps=64", "logging.wandb=true")
    training.train(cfg, tmp_path)
    rows = read_metrics(tmp_path)
    assert [r["env_steps"] for r in rows] == [64]
    for key in ("agent_steps", "wall_s", "sps", "elo", "episode_return", "loss", "entropy"):
        assert key in rows[0]
    assert any((tmp_path / "wandb").glob("offline-run-*"))
    assert (tmp_path / "final" / "config.json").exists()


def test_algo_yaml_is_the_one_source_of_defaults():
    """conf/algo/<name>.yaml gives every field of the algorithm's config dataclass, and the
    dataclass gives none: a default lives in one place. A config missing a key says which."""
    import dataclasses

    from algos.selfplay import SelfPlayConfig

    for name in algo_names():
        fields = dataclasses.fields(algos.learner_class(name).config_class)
        assert all(f.default is dataclasses.MISSING for f in fields), name
        assert set(algos.defaults(name)) == {f.name for f in fields}, name
    env = envs.make("tennis")
    (learner,) = algos.make("ippo", env, {"hidden": [8]}, SelfPlayConfig.mlagents(), 10**4).learners
    assert learner.cfg.hidden == (8,)  # the given value over the YAML's
    assert learner.cfg.num_envs == algos.defaults("ippo")["num_envs"]
    cls = algos.learner_class("ippo")
    with pytest.raises(ValueError, match=r"no value for .*num_envs"):
        cls(env, {"hidden": [8]}, learner.seating, 10**4)


def test_selfplay_yaml_is_the_one_source_of_its_defaults():
    """ML-Agents' ghost-trainer defaults are written once (conf/selfplay/mlagents.yaml): each
    game's YAML composes over them and sets only what its ML-Agents config sets, and the
    dataclass declares fields without values."""
    import dataclasses

    from algos.selfplay import MLAGENTS, SelfPlayConfig

    fields = dataclasses.fields(SelfPlayConfig)
    assert all(f.default is dataclasses.MISSING for f in fields)
    mlagents = OmegaConf.load(MLAGENTS)
    assert set(mlagents) == {f.name for f in fields}
    for game, own in (("tennis", {"save_steps": 50000}), ("soccer_twos", {"team_change": 200000})):
        composed = config(f"env={game}").env.selfplay
        assert set(composed) == set(mlagents)
        assert {k: composed[k] for k in own} == own
        assert composed.window == mlagents.window and composed.swap_steps == mlagents.swap_steps
    assert SelfPlayConfig.mlagents(window=3).window == 3
    with pytest.raises(ValueError, match="needs a list of frozen players"):
        SelfPlayConfig.mlagents(opponents_ratio=0.5)


def test_a_state_with_empty_arrays_is_checkpointed_and_restored(tmp_path):
    """Orbax refuses zero-size arrays; a cooperative game gives MADDPG's replay empty ghost
    records, so the checkpointer stores them as placeholders and restores their shapes."""
    state = {"w": jnp.arange(3.0), "ghost": jnp.zeros((4, 0, 2)), "n": jnp.int32(7)}
    ckpt = Checkpointer(tmp_path / "checkpoints")
    ckpt.save(1, state, {"config": {}})
    template = jax.eval_shape(lambda: state)
    restored, _ = ckpt.restore(template, {})
    ckpt.close()
    assert restored["ghost"].shape == (4, 0, 2)
    np.testing.assert_array_equal(restored["w"], state["w"])
    assert int(restored["n"]) == 7


def test_a_checkpoint_of_the_old_state_layout_is_refused_with_what_to_do(tmp_path, monkeypatch):
    """Checkpoints written before the trainer took over the live envs, self-play and rng hold
    another pytree; a resume says so instead of failing inside orbax."""
    from experiments.core import checkpoint

    state = {"w": jnp.arange(3.0)}
    monkeypatch.setattr(checkpoint, "LAYOUT", 1)
    ckpt = Checkpointer(tmp_path / "checkpoints")
    ckpt.save(1, state, {"config": {}})
    monkeypatch.setattr(checkpoint, "LAYOUT", 2)
    with pytest.raises(checkpoint.CheckpointError, match=r"state layout 1.*reads layout 2.*commit"):
        ckpt.restore(jax.eval_shape(lambda: state), {})
    ckpt.close()
