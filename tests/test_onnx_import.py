"""ML-Agents ONNX import: graphs in ML-Agents' formats (API 2 and 3, discrete and continuous)
and our own exports run in JAX as onnxruntime runs them, on real game observations; graphs the
importer cannot run are refused with the reason."""

from __future__ import annotations

import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import mlagents_graphs as mg
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from experiments.core.onnx_export import build_model
from experiments.core.onnx_import import UnsupportedModel, load_model
from tests.learners import learner_and_params

SOCCER_SENSORS, SOCCER_BRANCHES = (264, 72), (3, 3, 3)


def game_observations(env, count: int, seed: int = 0) -> np.ndarray:
    """``count`` per-agent observations from random play (``[count, D]``)."""
    num_envs = 16
    steps = -(-count // (num_envs * env.spec.num_agents))
    obs, state = jax.jit(env.reset_batch)(jax.random.split(jax.random.PRNGKey(seed), num_envs))

    def body(carry, key):
        obs, state = carry
        k_act, k_step = jax.random.split(key)
        actions = env.spec.action_space.sample(k_act, (num_envs, env.spec.num_agents))
        obs, state, *_ = env.step_batch(jax.random.split(k_step, num_envs), state, actions)
        return (obs, state), obs

    _, seen = jax.lax.scan(
        body, (obs, state), jax.random.split(jax.random.PRNGKey(seed + 1), steps)
    )
    return np.asarray(seen).reshape(-1, *env.spec.obs_shape)[:count].astype(np.float32)


def save(tmp_path, model: onnx.ModelProto, name: str = "policy.onnx"):
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return path


def onnxruntime_run(path, model, obs: np.ndarray, extra: list[str] = ()) -> dict[str, np.ndarray]:
    """onnxruntime's outputs (and the ``extra`` intermediate tensors) for flat observations."""
    proto = onnx.load(str(path))
    proto.graph.output.extend(
        onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None) for name in extra
    )
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds, start = {}, 0
    for name, width in model.obs_inputs:
        feeds[name] = obs[:, start : start + width]
        start += width
    if model.has_mask_input:
        feeds["action_masks"] = np.ones((len(obs), sum(model.action_space.branches)), np.float32)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds), strict=True))


def inputs_of(path, op_type: str) -> list[str]:
    return [n.input[0] for n in onnx.load(str(path)).graph.node if n.op_type == op_type]


@pytest.fixture(scope="module")
def soccer_obs(soccer_env):
    return game_observations(soccer_env, 1024)


@pytest.fixture(scope="module")
def tennis_obs(tennis_env):
    return game_observations(tennis_env, 1024)


@pytest.mark.parametrize("normalise", [True, False])
def test_api2_log_probabilities_match_onnxruntime(tmp_path, soccer_env, soccer_obs, normalise):
    path = save(tmp_path, mg.api2_discrete(SOCCER_SENSORS, SOCCER_BRANCHES, normalise=normalise))
    model = load_model(path, soccer_env.spec)
    assert (model.version, model.normalised, model.log_prob_output) == (2, normalise, True)
    expected = onnxruntime_run(path, model, soccer_obs)["discrete_actions"]
    got = model.evaluate(model.params(), jnp.asarray(soccer_obs), jax.random.PRNGKey(0))
    assert np.max(np.abs(np.asarray(got["discrete_actions"]) - expected)) <= 1e-5
    greedy = np.asarray(
        jax.jit(model.policy(greedy=True))(model.params(), soccer_obs, jax.random.PRNGKey(1))
    )
    by_branch = expected.reshape(len(soccer_obs), 3, 3).argmax(-1)
    assert np.array_equal(greedy, by_branch)


def test_api3_discrete_matches_onnxruntime_and_samples_its_distribution(
    tmp_path, soccer_env, soccer_obs
):
    path = save(tmp_path, mg.api3_discrete(SOCCER_SENSORS, SOCCER_BRANCHES, normalise=True))
    model = load_model(path, soccer_env.spec)
    assert (model.version, model.obs_inputs) == (3, (("obs_0", 264), ("obs_1", 72)))
    log_p_names = inputs_of(path, "Multinomial")
    expected = onnxruntime_run(path, model, soccer_obs, log_p_names)
    got = model.evaluate(model.params(), jnp.asarray(soccer_obs), jax.random.PRNGKey(0))
    for name in log_p_names:  # the log-probabilities the graph samples from
        assert np.max(np.abs(np.asarray(got[name]) - expected[name])) <= 1e-5
    greedy = jax.jit(model.policy(greedy=True))(model.params(), soccer_obs, jax.random.PRNGKey(1))
    assert np.array_equal(np.asarray(greedy), expected["deterministic_discrete_actions"])

    # One observation, many draws: JAX's samples and onnxruntime's follow the same probabilities.
    draws = 6000
    repeated = np.repeat(soccer_obs[:1], draws, axis=0)
    ours = np.asarray(jax.jit(model.policy())(model.params(), repeated, jax.random.PRNGKey(2)))
    theirs = onnxruntime_run(path, model, repeated)["discrete_actions"]
    for branch, name in enumerate(log_p_names):
        p = np.exp(expected[name][0])
        for sample in (ours[:, branch], theirs[:, branch]):
            freq = np.bincount(sample, minlength=3) / draws
            assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / draws) + 1e-3), (freq, p)


def test_api3_continuous_matches_onnxruntime_and_samples_its_gaussian(
    tmp_path, tennis_env, tennis_obs
):
    path = save(tmp_path, mg.api3_continuous((24,), 2))
    model = load_model(path, tennis_env.spec)
    expected = onnxruntime_run(path, model, tennis_obs)
    greedy = jax.jit(model.policy(greedy=True))(model.params(), tennis_obs, jax.random.PRNGKey(0))
    assert np.max(np.abs(np.asarray(greedy) - expected["deterministic_continuous_actions"])) <= 1e-5

    draws = 6000  # an observation whose mean action is inside the bounds (no clipping)
    inside = int(np.argmin(np.abs(expected["deterministic_continuous_actions"]).max(-1)))
    repeated = np.repeat(tennis_obs[inside : inside + 1], draws, axis=0)
    ours = np.asarray(jax.jit(model.policy())(model.params(), repeated, jax.random.PRNGKey(3)))
    theirs = onnxruntime_run(path, model, repeated)["continuous_actions"]
    assert np.all(np.abs(ours) <= 1.0) and np.all(np.abs(theirs) <= 1.0)
    assert np.allclose(ours.mean(0), theirs.mean(0), atol=0.02)
    assert np.allclose(ours.std(0), theirs.std(0), rtol=0.06)
    assert np.all(ours.std(0) > 0.05)  # the noise is really drawn


@pytest.mark.parametrize(
    ("algo", "game", "cfg"),
    [
        ("poca", "soccer_twos", {}),
        ("ippo", "soccer_twos", {"mirror_symmetric": True}),
        ("ippo", "tennis", {}),
        ("maddpg", "tennis", {}),
    ],
)
def test_our_exports_import_and_play_the_learners_actions(
    tmp_path, algo, game, cfg, soccer_obs, tennis_obs
):
    learner, params = learner_and_params(algo, game, **cfg)
    spec = learner.env.spec
    path = save(tmp_path, build_model(learner.actor_arrays(params, 0, 0), spec))
    model = load_model(path, spec)
    obs = soccer_obs if game == "soccer_twos" else tennis_obs
    greedy = np.asarray(
        jax.jit(model.policy(greedy=True))(model.params(), obs, jax.random.PRNGKey(0))
    )
    expected = np.asarray(learner.actor_outputs(params, obs, 0, 0))
    if game == "soccer_twos":  # the argmax of each branch's logits
        assert np.array_equal(greedy, expected.argmax(-1)[:, : len(SOCCER_BRANCHES)])
        # sampled: the imported policy draws each branch from the learner's probabilities
        draws = 6000
        repeated = np.repeat(obs[:1], draws, axis=0)
        sampled = np.asarray(
            jax.jit(model.policy())(model.params(), repeated, jax.random.PRNGKey(1))
        )
        for branch in range(3):
            p = np.asarray(jax.nn.softmax(expected[0, branch, :3]))
            freq = np.bincount(sampled[:, branch], minlength=3) / draws
            assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / draws) + 1e-3)
    else:
        assert np.max(np.abs(greedy - expected)) <= 1e-5


def refusal(tmp_path, spec, model: onnx.ModelProto) -> str:
    path = save(tmp_path, model)
    with pytest.raises(UnsupportedModel) as error:
        load_model(path, spec)
    return str(error.value)


def test_unsupported_graphs_are_refused_with_the_reason(tmp_path, soccer_env, tennis_env):
    soccer, tennis = soccer_env.spec, tennis_env.spec
    api3 = mg.api3_discrete(SOCCER_SENSORS, SOCCER_BRANCHES)
    message = refusal(tmp_path, soccer, mg.with_memory(api3))
    assert "recurrent" in message and "recurrent_in" in message
    message = refusal(tmp_path, soccer, mg.with_op(api3, "Conv"))
    assert "['Conv']" in message and "Gemm" in message  # names the op and what is supported
    message = refusal(tmp_path, soccer, mg.api3_discrete((264, 70), SOCCER_BRANCHES))
    assert "obs_1[70]" in message and "RayPerceptionSensorReverse[72]" in message
    message = refusal(tmp_path, soccer, mg.api3_discrete(SOCCER_SENSORS, (3, 3)))
    assert "(3, 3)" in message and "(3, 3, 3)" in message
    message = refusal(tmp_path, soccer, mg.api2_discrete((300, 36), SOCCER_BRANCHES))
    assert "sliced as [(0, 300), (300, 336)]" in message
    message = refusal(tmp_path, tennis, mg.api3_continuous((24,), 3))
    assert "size 3" in message
    message = refusal(tmp_path, tennis, mg.api3_continuous((24,), 2, version=1.0))
    assert "model API version 1" in message
    message = refusal(tmp_path, soccer, mg.api3_continuous(SOCCER_SENSORS, 2))
    assert "continuous actions" in message and "MultiDiscrete" in message
    (tmp_path / "torn.onnx").write_bytes(save(tmp_path, api3).read_bytes()[:500])
    with pytest.raises(UnsupportedModel, match="not a readable ONNX file"):
        load_model(tmp_path / "torn.onnx", soccer)


def test_an_imported_model_is_a_player_in_every_command(tmp_path, capsys):
    from analysis.formats import read_players
    from experiments import evaluate, goal_report, tournament

    folder = tmp_path / "alice-SoccerTwos"  # as mlagents-push-to-hf writes it
    folder.mkdir()
    save(folder, mg.api2_discrete(SOCCER_SENSORS, SOCCER_BRANCHES), "SoccerTwos.onnx")
    (folder / "README.md").write_text("---\nlibrary_name: ml-agents\n---\n")
    (folder / "configuration.yaml").write_text(
        "behaviors:\n  SoccerTwos:\n    trainer_type: poca\n"
    )
    small = ["--games", "2", "--decisions", "40"]

    evaluate.main([str(folder), "--opponents", "random", *small])
    assert re.search(r"^vs_random: W/D/L \d+/\d+/\d+, won", capsys.readouterr().out, re.M)
    goal_report.main([str(folder / "SoccerTwos.onnx"), "--opponent", "random", *small])
    assert capsys.readouterr().out.strip()

    tennis_file = save(tmp_path, mg.api3_continuous((24,), 2), "mlagents_tennis.onnx")
    db = tmp_path / "matches.sqlite"
    tournament.main(["--db", str(db), "--runs", str(tennis_file), "--scripted", "random", *small])
    players = read_players(db).set_index("name")
    assert players.loc["mlagents_tennis", "kind"] == "onnx"
    assert players.loc["mlagents_tennis", "algo"] == "onnx-api3"

    cmd = [sys.executable, "-m", "experiments.watch", "env=tennis", f"team0={tennis_file}"]
    cmd += ["team1=tracker", "steps=12", f"hydra.run.dir={tmp_path / 'watch'}"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    from PIL import Image

    assert Image.open(tmp_path / "watch" / "match.gif").n_frames == 12
