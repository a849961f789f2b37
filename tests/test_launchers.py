"""Scale-out launchers (conf/hydra/launcher/): a real two-run sweep through the joblib one, and
the SLURM and Ray presets compose (against their plugins' schemas where those are installed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from experiments.core.xla import SINGLE_THREAD, single_threaded

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
LAUNCHERS = CONF / "hydra" / "launcher"
TINY = [  # tests/test_run.py's tiny IPPO run, one chunk
    "algo.num_envs=4",
    "algo.rollout_len=8",
    "algo.hidden=[16]",
    "algo.num_minibatches=2",
    "chunk_env_steps=64",
    "total_env_steps=64",
    "eval.games=2",
    "eval.decisions=20",
    "eval.opponents=[random]",
    "logging.wandb=false",
    "logging.progress=false",
]


class RecordProcess:
    """A Hydra callback for the sweep below (imported by the launcher and its workers through
    PYTHONPATH): the launcher records its process id in the sweep directory, and each job, from
    the process that runs it, that process's id and the XLA_FLAGS it started with, in its own
    run directory."""

    def on_multirun_start(self, config, **kwargs) -> None:
        sweep = Path(config.hydra.sweep.dir)
        sweep.mkdir(parents=True, exist_ok=True)
        (sweep / "launcher.json").write_text(json.dumps({"pid": os.getpid()}))

    def on_job_start(self, config, **kwargs) -> None:
        record = {"pid": os.getpid(), "xla_flags": os.environ.get("XLA_FLAGS")}
        out = Path(config.hydra.runtime.output_dir)
        (out / "process.json").write_text(json.dumps(record))


def hydra_config(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        return compose("config", overrides=list(overrides), return_hydra_config=True).hydra


def test_local_launcher_runs_a_two_seed_sweep_in_two_worker_processes(tmp_path):
    sweep = tmp_path / "sweep"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    # What the README and local.yaml say to do for parallel CPU runs: single-threaded XLA,
    # exported to the launcher, which its workers inherit.
    single_threaded(env)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.run",
            "-m",
            "hydra/launcher=local",
            "algo=ippo",
            "env=tennis",
            "seed=0,1",
            *TINY,
            f"hydra.sweep.dir={sweep}",
            f"+hydra.callbacks.record_process._target_={Path(__file__).stem}.RecordProcess",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert "Joblib.Parallel(n_jobs=2,backend=loky" in log and "is launching 2 jobs" in log

    pids = set()
    for job, seed in ((0, 0), (1, 1)):  # the basic sweeper numbers jobs in override order
        run_dir = sweep / str(job)
        cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
        assert (cfg.seed, cfg.algo.name, cfg.env.name) == (seed, "ippo", "tennis")
        assert f"seed={seed}" in OmegaConf.load(run_dir / ".hydra" / "overrides.yaml")
        rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        assert [r["env_steps"] for r in rows] == [64]
        summary = json.loads((run_dir / "eval.json").read_text())
        assert sum(summary["vs_random"][k] for k in ("wins", "draws", "losses")) > 0, summary
        assert (run_dir / "final").is_dir()
        process = json.loads((run_dir / "process.json").read_text())
        assert SINGLE_THREAD in process["xla_flags"]  # the workers inherit the shell's XLA_FLAGS
        pids.add(process["pid"])
    launcher = json.loads((sweep / "launcher.json").read_text())["pid"]
    assert len(pids) == 2 and launcher not in pids, (pids, launcher)  # two worker processes


def test_local_launcher_composes_as_joblib_with_two_processes():
    launcher = hydra_config("hydra/launcher=local").launcher
    assert launcher._target_ == "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    assert (launcher.n_jobs, launcher.backend, launcher.prefer) == (2, "loky", "processes")


def test_local_launcher_documents_reproduces_single_thread_flags():
    assert SINGLE_THREAD in (LAUNCHERS / "local.yaml").read_text()
    assert SINGLE_THREAD in (ROOT / "README.md").read_text()


def test_slurm_preset_extends_submitit_slurm():
    raw = OmegaConf.load(LAUNCHERS / "slurm.yaml")
    assert list(raw.defaults) == ["submitit_slurm", "_self_"]
    for key in ("partition", "timeout_min", "cpus_per_task", "gpus_per_node", "mem_gb"):
        assert key in raw, key
    assert raw.array_parallelism >= 1

    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    launcher = hydra_config("hydra/launcher=slurm").launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.timeout_min, launcher.cpus_per_task) == (raw.timeout_min, raw.cpus_per_task)
    assert launcher.max_num_timeout == 0  # base keys come from the plugin's schema


def test_ray_preset_is_the_ray_launchers_config():
    # It shadows the plugin's own `ray` config: self-contained, it composes without the plugin.
    raw = OmegaConf.load(LAUNCHERS / "ray.yaml")
    assert "defaults" not in raw
    assert raw._target_ == "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
    assert "address" in raw.ray.init and raw.ray.init.address is None
    assert raw.ray.remote.num_cpus == 1
    assert raw.ray.init.runtime_env.env_vars.XLA_FLAGS == SINGLE_THREAD
    assert hydra_config("hydra/launcher=ray").launcher == raw


def test_ray_preset_fits_the_ray_launchers_schema():
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    from hydra_plugins.hydra_ray_launcher._config import RayLauncherConf

    launcher = hydra_config("hydra/launcher=ray").launcher
    merged = OmegaConf.merge(OmegaConf.structured(RayLauncherConf), launcher)  # raises on a bad key
    assert merged._target_ == RayLauncherConf._target_
    assert merged.ray.remote.num_cpus == 1
