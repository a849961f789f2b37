"""Every study in one command: train its runs, play them, regenerate its report.

    python -m experiments.reproduce preset=paper       # algos x games x seeds, tournament
    python -m experiments.reproduce preset=smoke       # the same pipeline in minutes (CI runs it)
    python -m experiments.reproduce preset=lowe        # Lowe et al.'s MADDPG vs DDPG on MPE
    python -m experiments.reproduce preset=mpe_spread  # IPPO on simple_spread beside JaxMARL's loop
    python -m experiments.reproduce preset=paper stages=[report]   # figures from results on disk
    python -m experiments.reproduce preset=paper stages=[status]   # runs done, in flight, time left

A preset (``conf/preset/``) names what trains, ``lines`` (label: overrides) x ``envs`` (label:
overrides) x ``seeds`` (fewer where ``line_seeds`` says), each an ordinary ``python -m
experiments.run`` in ``<out_dir>/runs/<env>/<line>/seed<k>/``, and the ``stages`` that follow
(``STAGES``). Its ``reference_models`` folder adds players that are not ours (ML-Agents' own
models) to the curves and the tournament (``experiments.core.references``).

Each stage picks up where a killed process left off: a run with ``eval.json`` is finished
and skipped, a run with checkpoints is resumed (``experiments.run seeds=[...] resume=<dir>``), the
curves and the tournament skip matches already in their SQLite tables, and the other stages
write one file per env or run. Training runs go through the same command a user types,
``seeds_per_process`` seeds of a line per subprocess (``experiments.run seeds=[...]``),
``jobs`` subprocesses at once; a group that writes nothing for ``stall_minutes`` is killed and
resumed once.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import hydra
import jax
from omegaconf import DictConfig, OmegaConf

import envs
from analysis import baselines, lowe
from analysis.formats import (
    CONFIG_FILE,
    CURVES_DB,
    EVAL_FILE,
    read_matches,
    read_metrics,
    snapshot_of,
)
from analysis.report import make_report
from envs import scripted
from experiments.bench.vs_jaxmarl import jaxmarl_curve
from experiments.core import crossplay, references
from experiments.core.checkpoint import SNAPSHOTS, snapshots
from experiments.core.config import CONF_DIR
from experiments.core.matches import run_tournament, run_versus
from experiments.core.onnx_export import behaviour_policies, check_parity, export
from experiments.core.players import (
    Player,
    load_run,
    scripted_player,
    snapshot_players,
    trained_player,
)
from experiments.core.xla import single_threaded

PARITY_FILE = "parity.json"  # <run>/export/: onnxruntime against JAX, per exported file


def line_dir(out_dir: Path, env: str, line: str) -> Path:
    """Where one line's runs on one env live, a ``seed<k>/`` each."""
    return out_dir / "runs" / env / line


def run_dir(out_dir: Path, env: str, line: str, seed: int) -> Path:
    return line_dir(out_dir, env, line) / f"seed{seed}"


def line_seeds(preset: DictConfig, env: str, line: str) -> list[int]:
    """The seeds ``line`` runs on ``env``: ``preset.seeds``, or fewer where the preset's
    ``line_seeds`` (``{env: {line: seeds}}``) names them (a costly line on a costly game)."""
    fewer = preset.get("line_seeds") or {}
    seeds = fewer.get(env, {}).get(line, preset.seeds)
    return [int(s) for s in seeds]


def planned_runs(preset: DictConfig, out_dir: Path) -> list[tuple[Path, list[str]]]:
    """``(run_dir, overrides)`` per run, seed-major so a partial study covers every line."""
    plan = []
    for seed in preset.seeds:
        for env, env_overrides in preset.envs.items():
            for line, line_overrides in preset.lines.items():
                if int(seed) not in line_seeds(preset, env, line):
                    continue
                overrides = [
                    *preset.run_overrides,
                    *env_overrides,
                    *line_overrides,
                    f"seed={seed}",
                ]
                plan.append((run_dir(out_dir, env, line, int(seed)), overrides))
    return plan


def env_runs(preset: DictConfig, out_dir: Path, env: str, required: bool = True) -> list[Path]:
    """The finished runs of ``env`` (every line and seed); none: a clear error, or (not
    ``required``: the stages that work run by run, also while others still train) none."""
    runs = [
        run_dir(out_dir, env, line, s)
        for line in preset.lines
        for s in line_seeds(preset, env, line)
    ]
    finished = [r for r in runs if (r / "eval.json").exists()]
    if not finished and required:
        raise SystemExit(f"no finished {env} runs under {out_dir / 'runs'}; train first")
    return finished


def planned_groups(preset: DictConfig, out_dir: Path) -> list[tuple[Path, list[int], list[str]]]:
    """``(line_dir, seeds, overrides)`` per training process: ``seeds_per_process`` seeds of
    one line on one env (``experiments.run seeds=[...]``: one compile for all of them), the
    groups seed-major so a partial study covers every line."""
    seeds = [int(s) for s in preset.seeds]
    size = int(preset.get("seeds_per_process", 1))
    plan = []
    for first in range(0, len(seeds), size):
        for env, env_overrides in preset.envs.items():
            for line, line_overrides in preset.lines.items():
                group = [
                    s for s in seeds[first : first + size] if s in line_seeds(preset, env, line)
                ]
                if group:
                    overrides = [*preset.run_overrides, *env_overrides, *line_overrides]
                    plan.append((line_dir(out_dir, env, line), group, overrides))
    return plan


def train_group(
    directory: Path,
    seeds: list[int],
    overrides: list[str],
    single_thread: bool,
    jax_cache: str | None,
    stall_s: float | None = None,
) -> str | None:
    """Train (or resume) a line's runs ``<directory>/seed<k>`` of ``seeds`` in one subprocess;
    returns an error line or None.

    Finished runs (``eval.json``) are skipped and runs with checkpoints resumed
    (``experiments.run seeds=[...] resume=<directory>``). A group whose runs see no write for
    ``stall_s`` seconds is killed and resumed from their last checkpoints, once: a process can
    hang for good inside jaxlib (see ``algos.networks.init_each`` for the one found).
    """
    dirs = [directory / f"seed{k}" for k in seeds]
    pending = [k for k, d in zip(seeds, dirs, strict=True) if not (d / "eval.json").exists()]
    if not pending:
        return None
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if jax_cache:  # seeds of one algo x env compile to the same programs: compile them once
        env.setdefault("JAX_COMPILATION_CACHE_DIR", jax_cache)
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")  # small ones too
    if single_thread:
        single_threaded(env)
    name = f"seed{pending[0]}" + (f"-{pending[-1]}" if len(pending) > 1 else "")
    log_path = directory / f"train_{name}.log"
    t = time.perf_counter()
    for _ in range(2):  # a stalled group is resumed once
        cmd = [
            sys.executable,
            "-m",
            "experiments.run",
            *overrides,
            f"seeds=[{','.join(map(str, pending))}]",
            f"resume={directory}",  # finished seeds skipped, started ones resumed
            f"hydra.run.dir={directory}",
            "hydra.output_subdir=null",  # groups of one line share its directory
        ]
        with open(log_path, "a") as log:
            code = run_watched(cmd, log, env, dirs, stall_s)
            if code is None:
                log.write(f"\nreproduce: nothing written for {stall_s:.0f} s; killed\n")
        print(f"{directory} {name}: {time.perf_counter() - t:.0f} s, exit {code}", flush=True)
        if code is not None:
            break
    if code is None:
        return f"{directory} {name} stalled twice ({stall_s:.0f} s without a write); see {log_path}"
    if code != 0:
        return f"{directory} {name} failed (exit {code}); see {log_path}"
    return None


def run_watched(
    cmd: list[str],
    log: IO[str],
    env: dict[str, str],
    directories: list[Path],
    stall_s: float | None,
) -> int | None:
    """``cmd``'s exit code, or None when it wrote nothing under ``directories`` for
    ``stall_s`` seconds (then it is killed; None: wait forever)."""
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    started = time.time()
    while True:
        try:
            return proc.wait(timeout=min(stall_s or 60.0, 10.0))
        except subprocess.TimeoutExpired:
            written = max([started, *(last_write(d) for d in directories)])
            if stall_s and time.time() - written > stall_s:
                proc.kill()
                proc.wait()
                return None


def last_write(directory: Path) -> float:
    """When anything under ``directory`` was last written (0 for nothing)."""
    return max((p.stat().st_mtime for p in directory.rglob("*") if p.is_file()), default=0.0)


def train_all(cfg: DictConfig, out_dir: Path) -> None:
    plan, jobs = planned_groups(cfg.preset, out_dir), int(cfg.jobs)
    stall_s = None if cfg.stall_minutes is None else 60.0 * float(cfg.stall_minutes)

    def train(group: tuple[Path, list[int], list[str]]) -> str | None:
        return train_group(*group, jobs > 1, cfg.jax_cache_dir, stall_s)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        errors = [e for e in pool.map(train, plan) if e]
    if errors:
        raise SystemExit("training failed:\n" + "\n".join(errors) + "\nrerun to resume them")


def reference_players(cfg: DictConfig, out_dir: Path, env_name: str) -> list[Player]:
    """The preset's reference players of ``env_name`` (``experiments.core.references``)."""
    folder = cfg.preset.get("reference_models")
    return references.players(folder, references.resolve(folder, out_dir), env_name)


def run_env(run: Path) -> str:
    """The game a run trained on."""
    return str(json.loads((run / CONFIG_FILE).read_text())["env"]["name"])


def run_name(run: Path) -> str:
    """A run's player name in the study's tables: ``<line>/seed<k>``."""
    return f"{run.parent.name}/{run.name}"


def lost_curves(runs: list[Path], db: Path, env_name: str) -> list[Path]:
    """Of ``runs``, those with no policy snapshots on disk and no curve in ``db``: snapshots
    are not committed, so a run whose machine went before its curve was played has none."""
    bare = [r for r in runs if not snapshots(r)]
    played = set()
    if bare and db.exists():
        matches = read_matches(db, env_name)
        names = map(snapshot_of, (*matches["player0"], *matches["player1"]))
        played = {snapshot[0] for snapshot in names if snapshot}
    return [r for r in bare if run_name(r) not in played]


def curves_all(cfg: DictConfig, out_dir: Path) -> None:
    """Per env, every finished run's policy snapshots against the game's scripted and
    reference players, both sides (``<out_dir>/curves.sqlite``; matches already there are
    not played again)."""
    preset, c_cfg = cfg.preset, cfg.preset.curves
    for env_label in preset.envs:
        runs = env_runs(preset, out_dir, env_label, required=False)
        if not runs:
            continue
        env = envs.make(run_env(runs[0]))
        for run in lost_curves(runs, out_dir / CURVES_DB, env.spec.name):
            print(
                f"{run}: no policy snapshots ({SNAPSHOTS}/) and no curve in {CURVES_DB}, so its "
                f"curve is left out. To add it, train the run again in a scratch directory "
                f"(the same seed and config give the same numbers on the same machine) and "
                f"copy its {SNAPSHOTS}/ here.",
                flush=True,
            )
        policies = [p for r in runs for p in snapshot_players(r, run_name(r))]
        fixed = [scripted_player(env.spec.name, n) for n in scripted.names(env.spec.name)]
        fixed += reference_players(cfg, out_dir, env.spec.name)
        t = time.perf_counter()
        run_versus(
            env, policies, fixed, out_dir / CURVES_DB, int(c_cfg.games), int(c_cfg.decisions)
        )
        print(
            f"{env_label} curves: {len(policies)} snapshots x {len(fixed)} fixed players, "
            f"{time.perf_counter() - t:.0f} s",
            flush=True,
        )


def export_all(cfg: DictConfig, out_dir: Path) -> None:
    """Per finished run, its final policy as ML-Agents ONNX (``<run>/export/<Behaviour>.onnx``)
    and onnxruntime's agreement with the JAX policy (``export/parity.json``)."""
    for env_label in cfg.preset.envs:
        for run in env_runs(cfg.preset, out_dir, env_label, required=False):
            target = run / "export" / PARITY_FILE
            if target.exists():
                continue
            paths = export(run)
            _, trainer, params = load_run(run)
            policies = behaviour_policies(trainer, params)
            parity = {
                path.name: check_parity(path, learner, p, samples=256)
                for path, (_, learner, p) in zip(paths, policies, strict=True)
            }
            target.write_text(json.dumps(parity, indent=1) + "\n")
            print(f"{run}: exported {', '.join(p.name for p in paths)}", flush=True)


def tournament_all(cfg: DictConfig, out_dir: Path) -> None:
    """A tournament per env: every trained policy, the game's scripted players and the
    preset's reference players."""
    preset = cfg.preset
    t_cfg = preset.tournament
    for env_label in preset.envs:
        runs = env_runs(preset, out_dir, env_label, required=False)
        if not runs:
            print(f"{env_label}: no finished runs yet, no tournament", flush=True)
            continue
        loaded = [trained_player(r, run_name(r)) for r in runs]
        env = loaded[0][0]
        players = [p for _, p in loaded]
        players += [scripted_player(env.spec.name, n) for n in scripted.names(env.spec.name)]
        players += reference_players(cfg, out_dir, env.spec.name)
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
        print(f"{env_label} tournament: {time.perf_counter() - t:.0f} s")
        print(table.to_string(index=False, float_format=lambda x: f"{x:.1f}"), flush=True)


def crossplay_all(cfg: DictConfig, out_dir: Path) -> None:
    """Per env, every run's adversary team against every run's agents
    (``experiments.core.crossplay``), into ``<out_dir>/crossplay/<env>.json``."""
    preset = cfg.preset
    for env_label in preset.envs:
        target = out_dir / "crossplay" / f"{env_label}.json"
        if target.exists():
            continue
        runs = env_runs(preset, out_dir, env_label)
        result = crossplay.crossplay(runs, int(preset.crossplay.episodes))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(result, indent=1))
        print(f"{env_label} cross-play: {target}", flush=True)


def jaxmarl_all(cfg: DictConfig, out_dir: Path) -> None:
    """Per run, JaxMARL's own loop with the run's settings and seed
    (``experiments.bench.vs_jaxmarl.jaxmarl_curve``), into ``<run dir>/jaxmarl.json``."""
    for directory, _ in planned_runs(cfg.preset, out_dir):
        target = directory / baselines.JAXMARL_FILE
        if not target.exists():
            if not (directory / "eval.json").exists():
                raise SystemExit(f"{directory} is not a finished run; run the train stage first")
            config = json.loads((directory / "config.json").read_text())
            target.write_text(json.dumps(jaxmarl_curve(config)))
            print(f"{directory}: JaxMARL's loop, {target}", flush=True)


def report_all(cfg: DictConfig, out_dir: Path) -> None:
    """The preset's report (``report.kind``): the tournament's figures and tables, Lowe et
    al.'s comparison, or the side-by-side table; prints what it wrote."""
    print("\n".join(str(p) for p in report_files(cfg.preset, out_dir)))


def report_files(preset: DictConfig, out_dir: Path) -> list[Path]:
    figures_dir, tables_dir = Path(preset.figures_dir), Path(preset.tables_dir)
    kind = preset.report.kind
    if kind == "tournament":
        seeds = [int(s) for s in preset.seeds]
        return make_report(out_dir, figures_dir, tables_dir, int(preset.report.reps), seeds)
    if kind == "lowe":
        return [lowe.write_report(out_dir / "crossplay", tables_dir)]
    if kind == "spread":
        runs = [d for d, _ in planned_runs(preset, out_dir)]
        return [baselines.write_report(runs, tables_dir)]
    raise SystemExit(f"unknown report kind {kind!r}; choose from tournament, lowe, spread")


def status_all(cfg: DictConfig, out_dir: Path) -> None:
    """Where the study stands, per env and line: finished runs, runs in flight (their share
    of the budget), and the training left, from the finished runs' mean wall time (or an
    in-flight run's pace) over ``jobs`` processes."""
    preset, left_s, unknown = cfg.preset, 0.0, 0
    print(f"{out_dir}: finished / planned runs, in flight (share of the budget), wall per run")
    for env_label in preset.envs:
        for line in preset.lines:
            runs = [
                run_dir(out_dir, env_label, line, s) for s in line_seeds(preset, env_label, line)
            ]
            walls = [
                json.loads((r / EVAL_FILE).read_text())["train_wall_s"]
                for r in runs
                if (r / EVAL_FILE).exists()
            ]
            flight = []  # (share of the budget done, wall so far) of each run in flight
            for r in runs:
                rows = [] if (r / EVAL_FILE).exists() else read_metrics(r)
                if rows:
                    budget = json.loads((r / CONFIG_FILE).read_text())["total_env_steps"]
                    flight.append((rows[-1]["env_steps"] / budget, rows[-1]["wall_s"]))
            per_run = (
                sum(walls) / len(walls) if walls else max((w / f for f, w in flight), default=None)
            )
            waiting = len(runs) - len(walls) - len(flight)
            if per_run is None:
                unknown += waiting
            else:
                left_s += per_run * (waiting + sum(1.0 - f for f, _ in flight))
            shares = ", ".join(f"{f:.0%}" for f, _ in flight) or "-"
            wall = f"{per_run / 60:.1f} min" if per_run else "-"
            print(f"  {env_label}/{line}: {len(walls)}/{len(runs)}, in flight {shares}, {wall}")
    more = f", plus {unknown} runs of lines not started" if unknown else ""
    print(f"training left: about {left_s / 3600 / int(cfg.jobs):.1f} h with jobs={cfg.jobs}{more}")


STAGES: dict[str, Callable[[DictConfig, Path], None]] = {
    "train": train_all,  # every run, finished ones skipped, killed ones resumed
    "curves": curves_all,  # every run's policy snapshots vs scripted and reference players
    "export": export_all,  # final policies as ML-Agents ONNX, checked in onnxruntime
    "tournament": tournament_all,  # two-team games: trained, scripted, reference; all pairs
    "crossplay": crossplay_all,  # team-return games (MPE): adversaries x agents of every run
    "jaxmarl": jaxmarl_all,  # JaxMARL's own loop beside each run (the benchmark's copy)
    "report": report_all,
    "status": status_all,  # finished and pending runs, and the training left
}


@hydra.main(version_base=None, config_path=CONF_DIR, config_name="reproduce")
def main(cfg: DictConfig) -> dict[str, Any]:
    logging.getLogger("absl").setLevel(logging.WARNING)  # orbax's per-load INFO lines
    out_dir = Path(cfg.out_dir)
    if cfg.jax_cache_dir:  # the stages run here share compiled match programs across runs too
        jax.config.update("jax_compilation_cache_dir", str(cfg.jax_cache_dir))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    unknown = [s for s in cfg.stages if s not in STAGES]
    if unknown:
        raise SystemExit(f"unknown stages {unknown}; choose from {', '.join(STAGES)}")
    for stage in cfg.stages:
        STAGES[stage](cfg, out_dir)
    return OmegaConf.to_container(cfg, resolve=True)


if __name__ == "__main__":
    main()
