"""The Unity bridge, driven through the real mlagents-envs client against the stand-in build.

``tests/standin/*.x86_64`` are launched by ``UnityEnvironment`` exactly as a Unity build is;
the stand-in (``tests/unity_standin.py``) speaks the Unity side of the gRPC protocol with our
JAX games behind it, so a replica of it in this process knows every answer.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from mlagents_envs.base_env import ActionTuple
from mlagents_envs.environment import UnityEnvironment
from unity_standin import StandIn

import envs
from envs.unity import UnitySetupError

STANDIN = Path(__file__).parent / "standin"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def standin_python(monkeypatch):
    """The stand-in 'build' runs under this interpreter."""
    monkeypatch.setenv("MARL_ARENA_PYTHON", sys.executable)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_grpc_round_trip_reset_steps_and_episode_end():
    """The raw client: behaviours, specs, decisions, and a time-out's terminal steps."""
    env = UnityEnvironment(
        file_name=str(STANDIN / "SoccerTwos.x86_64"),
        base_port=free_port(),
        seed=1,
        additional_args=["--areas", "2", "--max-decisions", "4"],
    )
    try:
        env.reset()
        assert sorted(env.behavior_specs) == ["SoccerTwos?team=0", "SoccerTwos?team=1"]
        spec = env.behavior_specs["SoccerTwos?team=0"]
        assert [o.shape for o in spec.observation_specs] == [(264,), (72,)]
        assert spec.action_spec.discrete_branches == (3, 3, 3)
        first = {b: env.get_steps(b)[0] for b in env.behavior_specs}
        assert all(len(d) == 4 for d in first.values())  # 2 areas x 2 agents per team
        assert len(set(first["SoccerTwos?team=0"].group_id)) == 2
        for step in range(1, 5):
            for b, d in first.items():
                env.set_actions(b, ActionTuple(discrete=np.ones((len(d), 3), np.int32)))
            env.step()
            dec, term = env.get_steps("SoccerTwos?team=0")
            if step < 4:
                assert len(term) == 0 and len(dec) == 4
        # the time-out: every agent's terminal step and its next first decision, one message
        assert len(term) == 4 and term.interrupted.all()
        assert (
            sorted(term.agent_id)
            == sorted(dec.agent_id)
            == sorted(first["SoccerTwos?team=0"].agent_id)
        )
    finally:
        env.close()


def test_adapter_matches_the_game_behind_the_build():
    """Through ``envs.unity`` every observation, reward and done lands where the JAX game
    put it, including an agent that leaves its episode early and a time-out."""
    areas, leave_at, limit, seed = 3, 3, 6, 5
    args = ["--areas", str(areas), "--leave-at", str(leave_at), "--max-decisions", str(limit)]
    env = envs.make(
        "unity",
        file_name=str(STANDIN / "SoccerTwos.x86_64"),
        base_port=free_port(),
        seed=seed,
        additional_args=args,
    )
    replica = StandIn("soccer_twos", areas, leave_at, seed, limit)
    replica.key = jax.random.PRNGKey(seed)
    try:
        game = envs.make("soccer_twos").spec
        fields = ("name", "teams", "agent_names", "obs_shape", "action_space", "sensors")
        assert [getattr(env.spec, f) for f in fields] == [getattr(game, f) for f in fields]
        assert env.num_envs == areas
        replica.reset()  # the adapter's first reset, on connecting
        keys = jax.random.split(jax.random.PRNGKey(0), areas)
        obs, state = env.reset_batch(keys)
        replica.reset()
        np.testing.assert_array_equal(np.asarray(obs), replica.obs)
        rng = np.random.default_rng(0)
        for t in range(1, 2 * limit + 1):
            actions = rng.integers(0, 3, (areas, 4, 3)).astype(np.int32)
            obs, state, _, done, info = env.step_batch(keys, state, actions)
            gone_before = replica.gone.copy()
            replica.step(
                {
                    team: np.stack([actions[a, i] for a, i in replica.deciding[team]])
                    for team in range(2)
                }
            )
            obs, done = np.asarray(obs), np.asarray(done)
            in_game = ~replica.gone & ~gone_before
            np.testing.assert_array_equal(obs[in_game], replica.obs[in_game])
            decision = (t - 1) % limit + 1
            if decision < leave_at:
                assert not done.any()
            elif decision < limit:  # blue_1 left at decision `leave_at`; the rest play on
                np.testing.assert_array_equal(
                    done, np.tile([False, True, False, False], (areas, 1))
                )
            else:  # the time-out ends every area: truncated for those still in the game
                assert done.all()
                np.testing.assert_array_equal(
                    np.asarray(info.truncated), np.tile([True, False, True, True], (areas, 1))
                )
            np.testing.assert_array_equal(
                np.asarray(info.group_reward)[:, 0], np.asarray(info.group_reward)[:, 1]
            )
    finally:
        env.close()


def test_setup_errors_say_what_to_do():
    with pytest.raises(UnitySetupError, match="no Unity build there"):
        envs.make("unity", file_name="/nonexistent/SoccerTwos.x86_64")
    port = free_port()
    with socket.socket() as busy:
        busy.bind(("localhost", port))
        busy.listen()
        with pytest.raises(UnitySetupError, match=r"in use.*worker_id"):
            envs.make("unity", file_name=str(STANDIN / "SoccerTwos.x86_64"), base_port=port)
    with pytest.raises(UnitySetupError, match="no Unity build answered"):
        envs.make("unity", file_name=None, base_port=free_port(), timeout_wait=1)
    with pytest.raises(UnitySetupError, match=r"does not match env\.expect=soccer_twos"):
        envs.make("unity", file_name=str(STANDIN / "Tennis.x86_64"), base_port=free_port())
    tennis = envs.make(
        "unity", file_name=str(STANDIN / "Tennis.x86_64"), base_port=free_port(), expect="tennis"
    )
    try:
        assert tennis.spec.name == "tennis" and tennis.num_envs == 2
        with pytest.raises(UnitySetupError, match="exactly 2 envs"):
            tennis.reset_batch(jax.random.split(jax.random.PRNGKey(0), 5))
    finally:
        tennis.close()


def test_poca_trains_on_the_build_and_packages_for_the_hub(tmp_path):
    """``experiments.run algo=poca env=unity`` trains through the real client; the run then
    exports to ONNX and packs into a Hub folder offline."""
    run_dir = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "experiments.run",
        "algo=poca",
        "env=unity",
        f"env.file_name={STANDIN / 'SoccerTwos.x86_64'}",
        f"env.options.base_port={free_port()}",
        "env.options.additional_args=[--areas,2,--leave-at,5,--max-decisions,12]",
        "algo.rollout_len=32",
        "algo.num_minibatches=2",
        "algo.num_epochs=1",
        "total_env_steps=192",
        "chunk_env_steps=64",
        "eval.opponents=[random]",
        "eval.decisions=24",
        "logging.wandb=false",
        "logging.progress=false",
        f"hydra.run.dir={run_dir}",
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["env_steps"] for r in rows] == [64, 128, 192]  # 2 areas x 32 decisions per update
    assert all(np.isfinite(r["loss"]) for r in rows)
    assert sum(r["episodes"] for r in rows) > 0  # 12-decision episodes ended and were counted
    evaluation = json.loads((run_dir / "eval.json").read_text())
    assert evaluation["games_per_side"] == 2 and "vs_random" in evaluation

    from experiments.core.model_folder import package

    folder = package(run_dir, tmp_path / "hub", repo_id="someone/poca-SoccerTwos", check_samples=64)
    assert (folder / "SoccerTwos.onnx").stat().st_size > 0
    card = (folder / "README.md").read_text()
    assert "ML-Agents-SoccerTwos" in card and "library_name: ml-agents" in card
    parity = json.loads((folder / "run_logs" / "onnx_parity.json").read_text())
    assert parity["max_abs_diff"] <= 1e-5 and parity["greedy_mismatches"] == 0
