"""The game records: registry errors, the protocol on every game, its scripted players and
renderer, and the watch CLI."""

from __future__ import annotations

import subprocess
import sys

import jax
import numpy as np
import pytest

import envs
from envs import render, scripted


def test_unknown_env_lists_valid_names():
    with pytest.raises(ValueError, match="soccer_twos, strikers_vs_goalie, tennis"):
        envs.make("soccer")


def test_unknown_override_lists_valid_options():
    with pytest.raises(ValueError, match="max_physics_steps"):
        envs.make("tennis", gravity=3.0)
    assert envs.make("tennis", max_physics_steps=500).spec.max_steps == 100


def test_records_name_their_module_and_adapters_are_marked():
    assert set(envs.games()) >= {"soccer_twos", "tennis"}
    assert {"unity", "jaxmarl"} <= set(envs.names()) - set(envs.games())
    for name in envs.names():
        assert envs.game(name).name == name


@pytest.mark.parametrize("name", envs.games())  # the Unity adapter: tests/test_unity.py
def test_protocol_conformance(name):
    record = envs.game(name)
    env = envs.make(name)
    spec = env.spec
    assert isinstance(env, record.env) and spec.name == name
    obs, state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    assert obs.shape == (spec.num_agents, *spec.obs_shape)
    actions = spec.action_space.sample(jax.random.PRNGKey(1), (spec.num_agents,))
    assert bool(spec.action_space.contains(actions))
    obs, state, reward, done, info = jax.jit(env.step)(jax.random.PRNGKey(2), state, actions)
    for arr in (reward, done, info.group_reward, info.terminated, info.truncated):
        assert arr.shape == (spec.num_agents,)
    assert info.terminal_obs.shape == obs.shape
    assert len(spec.teams) == spec.num_agents == len(spec.agent_names)
    frame = render.render(name, state)
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 3, "something is drawn"
    # Every scripted player of the record plays valid actions for every team (its role's
    # player in an asymmetric game), and each behaviour declares its own slice and spaces.
    assert record.scripted, f"{name} has no scripted players to evaluate against"
    for team in range(spec.num_teams):
        idx = np.asarray(spec.team_agents(team))
        behaviour = spec.behaviour_specs[spec.behaviour_of(team)]
        assert behaviour.obs_shape[0] <= spec.obs_shape[0]
        role = behaviour.name if spec.asymmetric else None
        for player in scripted.names(name):
            actions = scripted.team(name, player, role)(None, obs[idx], jax.random.PRNGKey(3))
            assert bool(behaviour.action_space.contains(actions)), (player, role)


def test_watch_writes_a_gif(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "experiments.watch",
        "env=tennis",
        "team0=tracker",
        "steps=20",
        f"hydra.run.dir={tmp_path}",
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    from PIL import Image

    gif = Image.open(tmp_path / "match.gif")
    assert gif.n_frames == 20
