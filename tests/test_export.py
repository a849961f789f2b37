"""ONNX export in ML-Agents' format: names, shapes and constants Unity reads, and parity with
the JAX policy in onnxruntime."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import onnx
import onnxruntime as ort
import pytest

import envs
from experiments.core.onnx_export import (
    MODEL_API_VERSION,
    OPSET,
    build_model,
    check_parity,
    split_obs,
)
from tests.learners import learner_and_params


def session_for(tmp_path, learner, params, **kw):
    model = build_model(learner.actor_arrays(params, **kw), learner.env.spec)
    onnx.checker.check_model(model)
    path = tmp_path / "policy.onnx"
    path.write_bytes(model.SerializeToString())
    return path, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def io_table(session):
    """``{name: shape}`` of a session's inputs and outputs."""
    ins = {i.name: i.shape for i in session.get_inputs()}
    outs = {o.name: o.shape for o in session.get_outputs()}
    return ins, outs


def test_soccer_policy_has_ml_agents_names_and_matches_jax(tmp_path):
    learner, params = learner_and_params("poca", "soccer_twos")
    path, session = session_for(tmp_path, learner, params)
    ins, outs = io_table(session)
    assert ins == {"obs_0": ["batch", 264], "obs_1": ["batch", 72], "action_masks": ["batch", 9]}
    assert list(outs) == [
        "version_number",
        "memory_size",
        "discrete_actions",
        "discrete_action_output_shape",
        "deterministic_discrete_actions",
    ]
    obs = np.random.default_rng(0).uniform(0, 1, (8, 336)).astype(np.float32)
    result = dict(zip(outs, session.run(None, split_obs(learner.env.spec, obs)), strict=True))
    assert result["version_number"].tolist() == [MODEL_API_VERSION]
    assert result["memory_size"].tolist() == [0]
    assert result["discrete_action_output_shape"].tolist() == [[3, 3, 3]]
    assert result["discrete_actions"].dtype == np.int64 and result["discrete_actions"].shape == (
        8,
        3,
    )
    assert onnx.load(str(path)).opset_import[0].version == OPSET

    parity = check_parity(path, learner, params, samples=512)
    assert parity["max_abs_diff"] <= 1e-5 and parity["greedy_mismatches"] == 0
    assert parity["sampled_actions_valid"]


def test_discrete_samples_follow_the_policy_and_respect_masks(tmp_path):
    learner, params = learner_and_params("ippo", "soccer_twos")
    _, session = session_for(tmp_path, learner, params)
    obs = np.random.default_rng(1).uniform(0, 1, (1, 336)).astype(np.float32)
    many = np.repeat(obs, 6000, axis=0)
    feeds = split_obs(learner.env.spec, many)
    sampled = session.run(["discrete_actions"], feeds)[0]
    logits = learner.actor_outputs(params, obs)[0]  # [3 branches, 3]
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    for b in range(3):
        freq = np.bincount(sampled[:, b], minlength=3) / len(sampled)
        np.testing.assert_allclose(freq, probs[b], atol=0.03)
    # branch 0: only "back" allowed; branch 2: "none" forbidden
    masks = np.ones((len(many), 9), np.float32)
    masks[:, [0, 1]] = 0.0
    masks[:, 6] = 0.0
    feeds["action_masks"] = masks
    sampled, greedy = session.run(["discrete_actions", "deterministic_discrete_actions"], feeds)
    assert np.all(sampled[:, 0] == 2) and np.all(greedy[:, 0] == 2)
    assert not np.any(sampled[:, 2] == 0) and not np.any(greedy[:, 2] == 0)


def test_tennis_gaussian_policy_with_normaliser_matches_jax(tmp_path):
    learner, params = learner_and_params("ippo", "tennis", normalize_obs=True)
    norm = params["obs_norm"]
    params["obs_norm"] = norm.replace(mean=norm.mean + 0.5, var=norm.var * 4.0)
    path, session = session_for(tmp_path, learner, params)
    ins, outs = io_table(session)
    assert ins == {"obs_0": ["batch", 24]}
    assert list(outs) == [
        "version_number",
        "memory_size",
        "continuous_actions",
        "continuous_action_output_shape",
        "deterministic_continuous_actions",
    ]
    parity = check_parity(path, learner, params, samples=512)
    assert parity["max_abs_diff"] <= 1e-5 and parity["sampled_actions_valid"]
    # the sample is mean + std * noise, clipped: its spread is the policy's std
    obs = np.zeros((20000, 24), np.float32)
    sample, mean = session.run(
        ["continuous_actions", "deterministic_continuous_actions"], {"obs_0": obs}
    )
    std = np.exp(np.asarray(params["actor"]["params"]["GaussianHead_0"]["log_std"]))
    inside = np.all(np.abs(sample) < 1.0, axis=-1)
    assert inside.mean() > 0.05
    assert session.run(["continuous_action_output_shape"], {"obs_0": obs[:1]})[0].tolist() == [2]
    # without the clip the spread would be exactly std; clipping only shrinks it
    assert np.all(np.std(sample, 0) <= std + 0.02) and np.all(np.std(sample, 0) > 0.3 * std)
    assert np.allclose(mean, mean[0], atol=1e-6)


@pytest.mark.parametrize("game", ["tennis", "soccer_twos"])
def test_maddpg_exports_the_chosen_sub_policy(tmp_path, game):
    learner, params = learner_and_params("maddpg", game)
    path0, _ = session_for(tmp_path, learner, params, sub_policy=0)
    assert check_parity(path0, learner, params, 256, sub_policy=0)["max_abs_diff"] <= 1e-5
    path1 = tmp_path / "sub1.onnx"
    path1.write_bytes(
        build_model(
            learner.actor_arrays(params, sub_policy=1), learner.env.spec
        ).SerializeToString()
    )
    assert check_parity(path1, learner, params, 256, sub_policy=1)["max_abs_diff"] <= 1e-5
    assert check_parity(path1, learner, params, 256, sub_policy=0)["max_abs_diff"] > 1e-3
    with pytest.raises(ValueError, match="sub-policies"):
        learner.actor_arrays(params, sub_policy=learner.cfg.ensemble_size)


def test_gelu_actor_is_refused_with_the_supported_list():
    learner, params = learner_and_params("ippo", "tennis", activation="gelu")
    with pytest.raises(ValueError, match="relu, tanh or swish"):
        build_model(learner.actor_arrays(params), learner.env.spec)


def test_obs_split_follows_the_sensors():
    spec = envs.make("soccer_twos").spec
    obs = jnp.arange(2 * 336, dtype=jnp.float32).reshape(2, 336)
    feeds = split_obs(spec, np.asarray(obs))
    np.testing.assert_array_equal(np.concatenate([feeds["obs_0"], feeds["obs_1"]], -1), obs)


def test_mirror_symmetric_actor_exports_its_reflected_pass(tmp_path):
    learner, params = learner_and_params("poca", "soccer_twos", mirror_symmetric=True)
    path, _ = session_for(tmp_path, learner, params)
    parity = check_parity(path, learner, params, samples=256)
    assert parity["max_abs_diff"] <= 1e-5 and parity["greedy_mismatches"] == 0
