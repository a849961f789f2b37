"""The whole study in one command: train, play the tournament, regenerate figures and tables.

python -m experiments.reproduce preset=smoke        # CI: tiny budgets, every figure
python -m experiments.reproduce preset=paper        # the paper's study (~80 min, 2 cores)
python -m experiments.reproduce preset=paper stages=[report]   # figures from results on disk

Each stage picks up where a killed process left off: a run with ``eval.json`` is finished
and skipped, a run with checkpoints is resumed (``experiments.run resume=<dir>``), and the
tournament skips matches already in its SQLite table. Training runs go through the same
``python -m experiments.run`` command a user types, one subprocess per run, ``jobs`` at once.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from analysis.report import make_report
from envs import scripted
from experiments.core.config import CONF_DIR
from experiments.core.matches import run_tournament
from experiments.core.players import scripted_player, trained_player
from experiments.core.xla import single_threaded


def run_dir(out_dir: Path, env: str, algo: str, seed: int) -> Path:
    return out_dir / "runs" / env / algo / f"seed{seed}"


def planned_runs(preset: DictConfig, out_dir: Path) -> list[tuple[Path, list[str]]]:
    """``(run_dir, overrides)`` per run, seed-major so a partial study covers every algo."""
    plan = []
    for seed in preset.seeds:
        for env in preset.envs:
            for algo in preset.algos:
                overrides = [
                    f"algo={algo}",
                    f"env={env}",
                    f"seed={seed}",
                    *preset.run_overrides,
                    *preset.env_overrides.get(env, []),
                    *preset.algo_overrides.get(algo, []),
                ]
                plan.append((run_dir(out_dir, env, algo, int(seed)), overrides))
    return plan


def train_one(
    directory: Path, overrides: list[str], single_thread: bool, jax_cache: str | None
) -> str | None:
    """Train (or resume) one run in a subprocess; returns an error line or None."""
    if (directory / "eval.json").exists():
        return None
    directory.mkdir(parents=True, exist_ok=True)
    resume = (directory / "checkpoints").is_dir() and any((directory / "checkpoints").iterdir())
    cmd = [
        sys.executable,
        "-m",
        "experiments.run",
        *overrides,
        f"hydra.run.dir={directory}",
        *([f"resume={directory}"] if resume else []),
    ]
    env = dict(os.environ)
    if jax_cache:  # seeds of one algo x env compile to the same programs: compile them once
        env.setdefault("JAX_COMPILATION_CACHE_DIR", jax_cache)
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")  # small ones too
    if single_thread:
        single_threaded(env)
    t = time.perf_counter()
    with open(directory / "train.log", "a") as log:
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    print(f"{directory}: {time.perf_counter() - t:.0f} s, exit {done.returncode}", flush=True)
    if done.returncode != 0:
        return f"{directory} failed (exit {done.returncode}); see {directory / 'train.log'}"
    return None


def train_all(preset: DictConfig, out_dir: Path, jobs: int, jax_cache: str | None) -> None:
    plan = planned_runs(preset, out_dir)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        errors = [e for e in pool.map(lambda p: train_one(*p, jobs > 1, jax_cache), plan) if e]
    if errors:
        raise SystemExit("training failed:\n" + "\n".join(errors) + "\nrerun to resume them")


def tournament_all(preset: DictConfig, out_dir: Path) -> None:
    t_cfg = preset.tournament
    for env_name in preset.envs:
        runs = [run_dir(out_dir, env_name, a, int(s)) for a in preset.algos for s in preset.seeds]
        loaded = [trained_player(r) for r in runs if (r / "eval.json").exists()]
        if not loaded:
            raise SystemExit(f"no finished {env_name} runs under {out_dir / 'runs'}; train first")
        env = loaded[0][0]
        players = [p for _, p in loaded]
        players += [scripted_player(env_name, n) for n in scripted.names(env_name)]
        t = time.perf_counter()
        table = run_tournament(
            env,
            players,
            out_dir / "matches.sqlite",
            schedule=t_cfg.schedule,
            rounds=int(t_cfg.rounds),
            games=int(t_cfg.games),
            decisions=int(t_cfg.decisions),
        )
        print(f"{env_name} tournament: {time.perf_counter() - t:.0f} s")
        print(table.to_string(index=False, float_format=lambda x: f"{x:.1f}"), flush=True)


@hydra.main(version_base=None, config_path=CONF_DIR, config_name="reproduce")
def main(cfg: DictConfig) -> dict[str, Any]:
    logging.getLogger("absl").setLevel(logging.WARNING)  # orbax's per-load INFO lines
    out_dir = Path(cfg.out_dir)
    preset = cfg.preset
    unknown = set(cfg.stages) - {"train", "tournament", "report"}
    if unknown:
        raise SystemExit(f"unknown stages {sorted(unknown)}; choose from train, tournament, report")
    if "train" in cfg.stages:
        train_all(preset, out_dir, int(cfg.jobs), cfg.jax_cache_dir)
    if "tournament" in cfg.stages:
        tournament_all(preset, out_dir)
    if "report" in cfg.stages:
        made = make_report(
            out_dir,
            Path(preset.figures_dir),
            Path(preset.tables_dir),
            int(preset.report.reps),
            seeds=[int(s) for s in preset.seeds],
        )
        print("\n".join(str(p) for p in made))
    return OmegaConf.to_container(cfg, resolve=True)


if __name__ == "__main__":
    main()
