"""The Hugging Face model folder of a run (the library of ``experiments.package_model``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from experiments.core.onnx_export import behaviour_policies, check_parity, export
from experiments.core.players import load_run


def ml_agents_behaviour(config: dict[str, Any], trainer: str) -> dict[str, Any]:
    """The run's settings under ML-Agents' names, where they have one (for readers of the
    course's ``config/poca/SoccerTwos.yaml``); the full config stays beside it. ``trainer`` is
    the learner's ``mlagents_trainer``."""
    algo, env = config["algo"], config["env"]
    hyper = {
        "learning_rate": algo.get("learning_rate", algo.get("actor_lr")),
        "beta": algo.get("ent_coef"),
        "epsilon": algo.get("clip_eps"),
        "lambd": algo.get("gae_lambda"),
        "num_epoch": algo.get("num_epochs"),
    }
    sp = env.get("selfplay", {})
    return {
        "trainer_type": trainer,
        "hyperparameters": {k: v for k, v in hyper.items() if v is not None},
        "network_settings": {
            "normalize": algo.get("normalize_obs"),
            "hidden_units": algo["hidden"][0] if algo.get("hidden") else None,
            "num_layers": len(algo.get("hidden", [])),
        },
        "reward_signals": {"extrinsic": {"gamma": algo.get("gamma"), "strength": 1.0}},
        "max_steps": config.get("total_env_steps"),
        "self_play": {
            "save_steps": sp.get("save_steps"),
            "team_change": sp.get("team_change"),
            "swap_steps": sp.get("swap_steps"),
            "window": sp.get("window"),
            "play_against_latest_model_ratio": sp.get("play_against_latest_model_ratio"),
            "initial_elo": sp.get("initial_elo"),
        },
    }


def model_card(
    behaviour: str,
    algo: str,
    repo_id: str | None,
    evaluation: dict[str, Any],
    parity: dict[str, Any],
) -> str:
    """README.md with the Hub metadata the league and the ML-Agents widget look for."""
    rows = [
        f"| {name.removeprefix('vs_')} | {r['wins']}/{r['draws']}/{r['losses']} | "
        f"{100 * r['win_rate_decided']:.1f}% [{100 * r['win_rate_decided_ci95'][0]:.1f}, "
        f"{100 * r['win_rate_decided_ci95'][1]:.1f}] |"
        for name, r in evaluation.items()
        if isinstance(r, dict) and "wins" in r
    ]
    front = {
        "library_name": "ml-agents",
        "tags": [
            behaviour,
            "deep-reinforcement-learning",
            "reinforcement-learning",
            f"ML-Agents-{behaviour}",
            "marl-arena",
            "jax",
        ],
    }
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False).strip(),
        "---",
        "",
        f"# **{algo}** agent playing **{behaviour}**",
        "",
        f"Trained with marl-arena ({algo}, on a pure-JAX {behaviour} with "
        "ML-Agents' observation and action spaces), exported to ML-Agents' ONNX format "
        "(model API 3, opset 9).",
        "",
        "## Use it in Unity",
        "",
        f"Drop `{behaviour}.onnx` into the agents' *Behavior Parameters > Model* field, or "
        "watch it in the browser:",
        f'`mlagents-load-from-hf --repo-id="{repo_id or "<repo-id>"}" --local-dir=./downloads`.',
        "",
        "## Evaluation (both sides, decided games)",
        "",
        *(
            ["| opponent | W/D/L | win rate [95% CI] |", "|---|---|---|", *rows]
            if rows
            else [
                "No scripted opponents in this run's eval.json; `python -m experiments.evaluate "
                "RUN_DIR` plays them."
            ]
        ),
        "",
        f"ONNX vs JAX on {parity['samples']} random observations: max |difference| "
        f"{parity['max_abs_diff']:.2e}, {parity['greedy_mismatches']} greedy mismatches.",
        "",
    ]
    return "\n".join(lines)


def package(
    run_dir: str | Path, out: str | Path, repo_id: str | None = None, check_samples: int = 256
) -> Path:
    """Write the model folder for a finished run; returns it."""
    run_dir, out = Path(run_dir), Path(out)
    config = json.loads((run_dir / "final" / "config.json").read_text())
    evaluation_file = run_dir / "eval.json"
    if not evaluation_file.exists():
        raise FileNotFoundError(f"{evaluation_file} not found: package a finished run")
    evaluation = json.loads(evaluation_file.read_text())
    _, trainer, params = load_run(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    # One <Behaviour>.onnx per behaviour (two for Strikers vs Goalie), as mlagents-learn writes.
    policies = behaviour_policies(trainer, params)
    paths = export(run_dir, out)
    checks = [
        check_parity(path, sub, sub_params, check_samples)
        for path, (_, sub, sub_params) in zip(paths, policies, strict=True)
    ]
    parity = {
        "samples": check_samples,
        "max_abs_diff": max(c["max_abs_diff"] for c in checks),
        "greedy_mismatches": sum(c["greedy_mismatches"] for c in checks),
        "sampled_actions_valid": all(c["sampled_actions_valid"] for c in checks),
    }
    behaviours = [name for name, _, _ in policies]
    trainer_type = trainer.learners[0].mlagents_trainer or config["algo"]["name"]
    settings = {
        "behaviors": {name: ml_agents_behaviour(config, trainer_type) for name in behaviours},
        "marl_arena": config,
    }
    (out / "configuration.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    (out / "README.md").write_text(
        model_card(" and ".join(behaviours), config["algo"]["name"], repo_id, evaluation, parity)
    )
    logs = out / "run_logs"
    logs.mkdir(exist_ok=True)
    shutil.copy(evaluation_file, logs / "eval.json")
    if (run_dir / "metrics.jsonl").exists():
        shutil.copy(run_dir / "metrics.jsonl", logs / "metrics.jsonl")
    (logs / "onnx_parity.json").write_text(json.dumps(parity, indent=1))
    return out


def push(folder: Path, repo_id: str) -> str:
    """Upload ``folder`` to the Hub model repo ``repo_id`` (created if missing)."""
    try:
        from huggingface_hub import HfApi
    except ImportError as err:
        raise SystemExit("--push needs huggingface_hub: pip install -e '.[unity]'") from err
    api = HfApi()
    try:
        api.whoami()
    except Exception as err:
        raise SystemExit(
            f"not logged in to the Hugging Face Hub ({type(err).__name__}): run "
            "`huggingface-cli login` with a write token, then push again; the folder "
            f"{folder} is complete and can also be uploaded by hand"
        ) from err
    api.create_repo(repo_id, exist_ok=True)
    api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="marl-arena model")
    return f"https://huggingface.co/{repo_id}"
