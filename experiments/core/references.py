"""A study's reference players: trained policies from elsewhere (ML-Agents' own models) that
meet every run in the curves and the tournament, as fixed yardsticks.

The study is given a folder, not the models: they are not ours to ship. Each ``.onnx`` file
at its top and each model folder in it (a ``StrikersVsGoalie/`` holding ``Striker.onnx`` and
``Goalie.onnx``) is a player of the game it fits, named ``mlagents/<file or folder>``. The
first stage that reads the folder records every model's sha256 in
``<out_dir>/references.json``; later stages, on this machine or another, refuse a folder
whose files differ, so the yardsticks of one study never change under it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from experiments.core.onnx_import import UnsupportedModel
from experiments.core.players import Player, is_model, model_game, onnx_player

REFERENCES_FILE = "references.json"
GROUP = "mlagents"  # the players' algo: one group in every table


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def scan(folder: str | Path) -> list[dict[str, Any]]:
    """Every model in ``folder`` that fits one of our games: name, game, files and sha256.
    A model that fits none is left out with its reason printed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"reference_models={folder} is not a folder; give the folder holding ML-Agents' "
            ".onnx files (e.g. SoccerTwos.onnx, StrikersVsGoalie/Striker.onnx and Goalie.onnx)"
        )
    found = []
    candidates = sorted(folder.glob("*.onnx")) + sorted(
        d for d in folder.iterdir() if d.is_dir() and is_model(d)
    )
    for path in candidates:
        try:
            game = model_game(path)
        except (UnsupportedModel, ValueError) as error:
            print(f"reference {path}: left out, {error}", flush=True)
            continue
        files = [path] if path.is_file() else sorted(path.glob("*.onnx"))
        found.append(
            {
                "name": f"{GROUP}/{path.stem if path.is_file() else path.name}",
                "env": game,
                "path": path.relative_to(folder).as_posix(),
                "sha256": {f.relative_to(folder).as_posix(): sha256(f) for f in files},
            }
        )
    if not found:
        raise ValueError(f"reference_models={folder} holds no model that fits our games")
    return found


def resolve(folder: str | Path | None, out_dir: Path) -> list[dict[str, Any]]:
    """The study's reference models: recorded on first use, checked against the record
    afterwards. ``folder`` None: the record's models if the study has none, else an error
    that says which folder to pass."""
    record_file = out_dir / REFERENCES_FILE
    recorded = json.loads(record_file.read_text())["models"] if record_file.exists() else None
    if folder is None:
        if recorded:
            wanted = ", ".join(
                f"{m['path']} (sha256 {next(iter(m['sha256'].values()))[:12]}…)" for m in recorded
            )
            raise SystemExit(
                f"this study plays reference models ({record_file}: {wanted}); pass the folder "
                "holding them as preset.reference_models=<folder>"
            )
        return []
    models = scan(folder)
    if recorded is None:
        out_dir.mkdir(parents=True, exist_ok=True)
        record_file.write_text(json.dumps({"models": models}, indent=1) + "\n")
        return models
    mine = {m["name"]: m["sha256"] for m in models}
    for model in recorded:
        if mine.get(model["name"]) != model["sha256"]:
            raise SystemExit(
                f"reference model {model['name']} in {folder} is not the one this study used "
                f"({record_file}: {model['sha256']}; found {mine.get(model['name'])}); pass the "
                "folder with the recorded files, or start a new study (another out_dir)"
            )
    return recorded


def players(folder: str | Path, models: list[dict[str, Any]], env_name: str) -> list[Player]:
    """The reference players of ``env_name``, loaded from ``folder``."""
    return [
        replace(onnx_player(Path(folder) / m["path"], env_name, m["name"]), algo=GROUP)
        for m in models
        if m["env"] == env_name
    ]
