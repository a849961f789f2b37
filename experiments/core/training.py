"""The training loop of ``experiments.run``: jitted chunks of updates, logs, checkpoints, the
final policy and its evaluation, all in one run directory; resumable bit for bit."""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
from omegaconf import DictConfig, OmegaConf

from algos import rollout
from algos.trainer import Trainer, scan_updates
from analysis import stalls
from analysis.formats import (
    CONFIG_FILE,
    EVAL_FILE,
    HOST_FILE,
    read_config,
    read_metrics,
    run_identity,
)
from analysis.learning_curves import solved_at
from envs.base import MultiAgentEnv
from envs.registry import find
from experiments.core.build import build, chunk_updates
from experiments.core.checkpoint import Checkpointer, CheckpointError, save_policy, save_snapshot
from experiments.core.evaluation import describe, evaluate_policy, flatten
from experiments.core.logger import RunLogger
from experiments.core.players import frozen_opponents

OUTPUTS = (Path("outputs"), Path("multirun"))  # Hydra's run and sweep roots


def find_resume_dir(cfg: DictConfig, current: Path) -> Path:
    """``resume=true``: the newest run under outputs/ with the same algo, env and seed."""
    if cfg.resume is not True:
        path = Path(str(cfg.resume))
        if not (path / "checkpoints").is_dir():
            raise CheckpointError(f"resume={cfg.resume}: no checkpoints/ directory in {path}")
        return path
    want = run_identity(cfg)
    candidates = []
    for ckpt_dir in (d for root in OUTPUTS for d in root.glob("**/checkpoints")):
        run_dir = ckpt_dir.parent
        config = read_config(run_dir)
        if run_dir == current or config is None or not any(ckpt_dir.iterdir()):
            continue
        if run_identity(config) == want:
            candidates.append(run_dir)
    if not candidates:
        raise CheckpointError(
            f"resume=true found no run under outputs/ or multirun/ with {want} and checkpoints; "
            "pass "
            "resume=<run dir> or start without resume"
        )
    return max(candidates, key=lambda p: (p / "checkpoints").stat().st_mtime)


def summarise(metrics: dict[str, np.ndarray]) -> dict[str, float]:
    """One row from a chunk's per-update metrics: episode counts summed, episode statistics
    weighted by the episodes behind them, everything else averaged over updates.

    A trainer whose behaviours learn side by side logs ``<metric>_<behaviour>``: each
    behaviour's episode statistics are weighted by its own ``episodes_<behaviour>``.
    """
    row = {}
    for key, values in metrics.items():
        values = np.asarray(values, np.float64)
        base, count_key = key, "episodes"
        for mean in rollout.EPISODE_MEANS:
            if key.startswith(mean + "_") and "episodes" + key[len(mean) :] in metrics:
                base, count_key = mean, "episodes" + key[len(mean) :]
        counts = np.asarray(metrics.get(count_key, 0.0), np.float64)
        if any(key == c or key.startswith(c + "_") for c in rollout.EPISODE_COUNTS):
            row[key] = float(values.sum())
        elif base in rollout.EPISODE_MEANS and counts.sum() > 0:
            row[key] = float(np.sum(values * counts) / counts.sum())
        else:
            row[key] = float(values.mean())
    return row


def check_finite(metrics: dict[str, float], env_steps: int, run_dir: Path) -> None:
    bad = [k for k in ("loss", "policy_loss", "value_loss") if not math.isfinite(metrics.get(k, 0))]
    if bad:
        raise FloatingPointError(
            f"{', '.join(bad)} became NaN/inf by env step {env_steps}. The newest good checkpoint "
            f"is in {run_dir / 'checkpoints'}; lower algo.learning_rate or set "
            "algo.max_grad_norm, then resume=" + str(run_dir)
        )


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def record_host(run_dir: Path, env_steps: int) -> None:
    """Append where this invocation runs: XLA's CPU threading changes the order of float sums,
    so a seed's numbers repeat only on the same cores with the same flags."""
    row = {
        "from_env_steps": env_steps,
        "cpus": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "processor": cpu_model(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
    }
    with (run_dir / HOST_FILE).open("a") as out:
        out.write(json.dumps(row) + "\n")


def stall_warning(quiet_env_steps: int, env_steps: int) -> str:
    """What a user reads when self-play stops deciding games (README § Stalls)."""
    return (
        f"self-play has decided no game for {quiet_env_steps / 1e6:.2f}M env steps (since "
        f"{(env_steps - quiet_env_steps) / 1e6:.2f}M): every game runs to the time limit, so "
        "the rewards are all zero and the updates have nothing to learn from (a stall, README "
        "§ Stalls). For POCA and IPPO, algo.advantage_std_floor > 0 (0.01 by default) lets the "
        "entropy bonus bring back exploration; if this run has it at 0 (ML-Agents' rule), "
        "resume=<this run> with algo.advantage_std_floor=0.01. If a stall lasts with the "
        "floor on, please report the run with its metrics.jsonl."
    )


@dataclass(frozen=True)
class Program:
    """What every seed of one config shares: the env, the trainer and the compiled chunk."""

    env: MultiAgentEnv
    trainer: Trainer
    steps_per_chunk: int
    num_chunks: int
    chunk: Callable[[Any], tuple[Any, Any]]
    compile_s: float


def compile_program(cfg: DictConfig) -> Program:
    """Build ``cfg``'s env and trainer and compile its chunk of updates for the state's
    shapes (no seed in them: every seed runs this one program)."""
    env, trainer = build(cfg, frozen_opponents(cfg))
    updates = chunk_updates(cfg, trainer)
    steps_per_chunk = trainer.env_steps_per_update * updates
    num_chunks = max(1, math.ceil(int(cfg.total_env_steps) / steps_per_chunk))
    shapes = jax.eval_shape(trainer.init, jax.random.PRNGKey(0))
    t = time.perf_counter()
    chunk = jax.jit(scan_updates(trainer, updates)).lower(shapes).compile()
    return Program(env, trainer, steps_per_chunk, num_chunks, chunk, time.perf_counter() - t)


def train(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Run (or resume) training in ``run_dir``; returns the evaluation summary."""
    program = compile_program(cfg)
    try:
        return train_run(cfg, run_dir, program)
    finally:
        program.env.close()


def train_seeds(cfg: DictConfig, group_dir: Path) -> dict[int, dict[str, Any]]:
    """``seeds=[a, b, ...]``: one run per seed in ``<group_dir>/seed<k>``, one after another on
    one compiled program, so each is the run ``seed=k`` makes on its own (same numbers) without
    a process, a trace and a compile per seed. ``resume=<group_dir>`` skips the finished
    seeds, resumes those with checkpoints and starts the rest. Returns the summaries."""
    if cfg.resume is True:
        raise CheckpointError(
            "seeds=[...] resumes from the group's directory: pass resume=<dir with seed*/ in it>"
        )
    if cfg.resume:
        group_dir = Path(str(cfg.resume))
    program = compile_program(cfg)
    summaries = {}
    try:
        for seed in (int(s) for s in cfg.seeds):
            run_dir = group_dir / f"seed{seed}"
            if (run_dir / EVAL_FILE).exists():
                print(f"{run_dir}: finished before, skipped")
                continue
            checkpoints = run_dir / "checkpoints"
            started = checkpoints.is_dir() and any(checkpoints.iterdir())
            run_cfg = cfg.copy()
            run_cfg.seed, run_cfg.seeds = seed, None
            run_cfg.resume = str(run_dir) if started else False
            run_dir.mkdir(parents=True, exist_ok=True)
            summaries[seed] = train_run(run_cfg, run_dir, program)
    finally:
        program.env.close()
    return summaries


def train_run(cfg: DictConfig, run_dir: Path, program: Program) -> dict[str, Any]:
    """One seed's run (or its resumption) in ``run_dir`` on ``program``."""
    logging.getLogger("absl").setLevel(logging.WARNING)  # orbax's per-save INFO lines
    env, trainer, chunk_fn = program.env, program.trainer, program.chunk
    steps_per_chunk, num_chunks = program.steps_per_chunk, program.num_chunks
    # `stop_env_steps` ends this invocation early with the run's schedule unchanged (the
    # learning rate still decays over total_env_steps); resume=<run dir> continues it.
    stop = cfg.get("stop_env_steps")
    last_chunk = num_chunks if stop is None else min(num_chunks, -(-int(stop) // steps_per_chunk))
    config = OmegaConf.to_container(cfg, resolve=True)
    meta_config = {**config, **run_identity(cfg)}

    key = jax.random.PRNGKey(int(cfg.seed))
    # A resumed run needs only the state's shapes: its values come from the checkpoint.
    state = jax.eval_shape(trainer.init, key) if cfg.resume else trainer.init(key)

    start_chunk, wall_offset = 0, 0.0
    if cfg.resume:
        run_dir = find_resume_dir(cfg, run_dir)
    checkpointer = Checkpointer(run_dir / "checkpoints", keep=int(cfg.checkpoint.keep))
    if cfg.resume:
        state, meta = checkpointer.restore(state, meta_config)
        start_chunk, wall_offset = int(meta["chunk"]), float(meta["wall_s"])
        print(f"resumed {run_dir} at chunk {start_chunk} ({meta['env_steps']} env steps)")
    # The config beside the checkpoints rebuilds their trainer, also before `final/` exists
    # (experiments.checkpoint_curve reads it); written once a resume has been accepted.
    (run_dir / CONFIG_FILE).write_text(json.dumps(config, indent=1))
    record_host(run_dir, start_chunk * steps_per_chunk)

    logger = RunLogger(
        run_dir,
        num_chunks * steps_per_chunk,
        config,
        wandb_mode=cfg.logging.wandb_mode if cfg.logging.wandb else None,
        wandb_project=cfg.logging.wandb_project,
        progress=cfg.logging.progress,
        resume_from_steps=start_chunk * steps_per_chunk if cfg.resume else None,
    )
    # Agent-steps of the learning team; in an asymmetric game each behaviour logs its own.
    team_size = None if env.spec.asymmetric else len(env.spec.team_agents(0))
    stall_env_steps = cfg.env.get("stall_env_steps")  # null: the game may never decide one
    snapshot_every = cfg.checkpoint.get("policy_every")
    rows, warned = read_metrics(run_dir), False  # the kept history of a resumed run
    t0 = time.perf_counter() - wall_offset
    try:
        for chunk in range(start_chunk, last_chunk):
            t_chunk = time.perf_counter()
            state, metrics = chunk_fn(state)
            metrics = summarise(jax.device_get(metrics))
            chunk_s = time.perf_counter() - t_chunk
            env_steps = (chunk + 1) * steps_per_chunk
            check_finite(metrics, env_steps, run_dir)
            row = {
                "env_steps": env_steps,
                "agent_steps": env_steps * env.spec.num_agents,
                **({} if team_size is None else {"learner_agent_steps": env_steps * team_size}),
                "wall_s": time.perf_counter() - t0,
                "sps": steps_per_chunk / chunk_s,
                **metrics,
            }
            logger.log(row)
            rows.append(row)
            quiet = stalls.ongoing(rows)
            if stall_env_steps and not warned and quiet >= int(stall_env_steps):
                logger.warn(stall_warning(quiet, env_steps))
                warned = True
            last = chunk + 1 == last_chunk
            if (chunk + 1) % int(cfg.checkpoint.every_chunks) == 0 or last:
                meta = {
                    "chunk": chunk + 1,
                    "env_steps": env_steps,
                    "wall_s": time.perf_counter() - t0,
                    "config": meta_config,
                }
                checkpointer.save(chunk + 1, state, meta)
            if snapshot_every and ((chunk + 1) % snapshot_every == 0 or chunk + 1 == num_chunks):
                save_snapshot(
                    run_dir,
                    chunk + 1,
                    trainer.policy_params(state),
                    config,
                    env_steps,
                    time.perf_counter() - t0,
                )
        checkpointer.close()
        if last_chunk < num_chunks:
            print(
                f"{run_dir}\nstopped at {last_chunk * steps_per_chunk} env steps (stop_env_steps); "
                f"resume={run_dir} continues"
            )
            return {}
        save_policy(run_dir / "final", trainer.policy_params(state), config)
        summary = evaluate_policy(
            env,
            trainer.team_policy,
            trainer.policy_params(state),
            opponents=list(cfg.eval.opponents),
            games=env.num_envs or int(cfg.eval.games),
            decisions=int(cfg.eval.decisions),
            key=jax.random.PRNGKey(int(cfg.seed) + 1),
        )
        record = find(env.spec.name)
        if record is not None and record.solved_score is not None:
            summary["solved_score"] = record.solved_score
            summary["solved_at"] = solved_at(read_metrics(run_dir), record.solved_score)
        if stall_env_steps:
            summary["stall"] = stalls.summary(rows, int(stall_env_steps))
        summary["compile_s"] = program.compile_s
        summary["train_wall_s"] = time.perf_counter() - t0
        (run_dir / EVAL_FILE).write_text(json.dumps(summary, indent=1))
        logger.summary(flatten(summary))
    finally:
        logger.close()
    print(f"{run_dir}\n{describe(summary)}")
    if "stall" in summary:
        print(stalls.describe(summary["stall"]))
    return summary
