"""Players: anything that can take a side in a match.

A side is named on a command line by one of:
- a run directory written by ``experiments.run`` (its final policy);
- an ML-Agents ``.onnx`` policy file (``experiments.core.onnx_import``);
- a model folder as ``mlagents-push-to-hf`` or ``package_model`` write it (``<Behaviour>.onnx``,
  ``README.md``, ``configuration.yaml``), e.g. a Hub download;
- the name of one of the game's scripted players.

A ``Player`` is a team policy with its parameters and the facts a match table records; players
with the same ``arch`` share one compiled match program (``experiments.core.matches``).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jax
import yaml
from omegaconf import OmegaConf

import envs
from algos.trainer import Trainer
from analysis.formats import CONFIG_FILE, snapshot_name
from envs import scripted
from envs.base import EnvSpec, MultiAgentEnv
from envs.policy import Policy, Roles, own_view_policy
from experiments.core.build import build_offline
from experiments.core.checkpoint import SNAPSHOTS, load_policy, snapshots
from experiments.core.evaluation import scripted_opponent
from experiments.core.onnx_import import UnsupportedModel, load_model


def load_run(run_dir: str | Path) -> tuple[MultiAgentEnv, Trainer, Any]:
    """The env, trainer and final policy params saved by ``experiments.run``."""
    final = Path(run_dir) / "final"
    config_file = final / CONFIG_FILE
    if not config_file.exists():
        raise FileNotFoundError(
            f"{config_file} not found: {run_dir} is not a finished run (resume it with "
            f"`python -m experiments.run resume={run_dir}`)"
        )
    env, trainer = build_offline(json.loads(config_file.read_text()), run_dir)
    # Shapes only: computing a fresh state (eagerly, op by op) would cost seconds per load.
    template = trainer.policy_params(jax.eval_shape(trainer.init, jax.random.PRNGKey(0)))
    return env, trainer, load_policy(final, template)


@dataclass(frozen=True)
class Player:
    """A policy that can take a side: ``policy(params, team_obs, key) -> team_actions``."""

    name: str
    kind: str  # "trained" (a run), "snapshot" (a run's policy along the way), "onnx" (an
    # imported model) or "scripted"
    policy: Policy | Roles  # Roles: one policy per role of an asymmetric game
    params: Any
    arch: str  # players with the same arch share one compiled match program
    algo: str | None = None
    seed: int | None = None
    source: str | None = None


def trained_player(run_dir: str | Path, name: str | None = None) -> tuple[MultiAgentEnv, Player]:
    """A finished ``experiments.run`` directory as a player named ``<algo>/seed<seed>``."""
    env, trainer, params = load_run(run_dir)
    cfg = OmegaConf.create(json.loads((Path(run_dir) / "final" / CONFIG_FILE).read_text()))
    algo, seed = str(cfg.algo.name), int(cfg.seed)
    arch = json.dumps(
        {"algo": OmegaConf.to_container(cfg.algo), "env": OmegaConf.to_container(cfg.env)},
        sort_keys=True,
    )
    player = Player(
        name=name or f"{algo}/seed{seed}",
        kind="trained",
        policy=trainer.team_policy,
        params=params,
        arch=arch,
        algo=algo,
        seed=seed,
        source=str(run_dir),
    )
    return env, player


def snapshot_players(run_dir: str | Path, name: str) -> list[Player]:
    """A finished run's policy snapshots (``checkpoint.policy_every``) as players named
    ``<name>@<env steps>`` (``analysis.formats.snapshot_name``), sharing its arch."""
    _, final = trained_player(run_dir, name)
    players = []
    for chunk, meta in snapshots(run_dir).items():
        policy = Path(run_dir) / SNAPSHOTS / str(chunk)
        players.append(
            replace(
                final,
                name=snapshot_name(name, int(meta["env_steps"])),
                kind="snapshot",
                params=load_policy(policy, final.params),
                source=str(policy),
            )
        )
    return players


def scripted_player(env_name: str, name: str) -> Player:
    env = envs.make(env_name)
    policy = scripted_opponent(env, name)
    return Player(
        name=f"scripted/{name}",
        kind="scripted",
        policy=policy,
        params=[None, None] if isinstance(policy, Roles) else None,
        arch=f"scripted/{name}",
        algo=f"scripted-{name}",
    )


def is_model(path: str | Path) -> bool:
    """An ``.onnx`` file, or a folder holding one (a model folder): an imported player."""
    path = Path(path)
    return (path.suffix == ".onnx" and path.is_file()) or (
        path.is_dir() and not (path / "final").is_dir() and any(path.glob("*.onnx"))
    )


def model_file(path: str | Path, env_name: str | None = None) -> Path:
    """The policy file of an ``.onnx`` path or a model folder: ``<Behaviour>.onnx`` of the
    game when the folder has several."""
    path = Path(path)
    if path.is_file():
        return path
    files = sorted(path.glob("*.onnx"))
    behaviour = envs.game(env_name).behaviour if env_name else None
    named = [f for f in files if f.stem == behaviour]
    if named or len(files) == 1:
        return (named or files)[0]
    raise ValueError(
        f"{path} holds {[f.name for f in files] or 'no .onnx file'}; name the file, or hold one "
        f"{behaviour or 'policy'}.onnx"
    )


def model_game(path: str | Path) -> str:
    """The game an imported model plays: an asymmetric game whose behaviours a folder holds
    (``Striker.onnx`` and ``Goalie.onnx``), the one whose behaviour name is the file's name,
    else the one game whose observation and action sizes it fits."""
    if Path(path).is_dir():
        stems = {f.stem for f in Path(path).glob("*.onnx")}
        for name in envs.games():
            spec = envs.make(name).spec
            if spec.asymmetric and {b.name for b in spec.behaviour_specs} <= stems:
                return name
    file = model_file(path)
    games = envs.games()
    by_behaviour = [name for name in games if envs.game(name).behaviour == file.stem]
    candidates = by_behaviour + [name for name in games if name not in by_behaviour]
    problems = []
    for name in candidates:
        try:
            load_model(file, envs.make(name).spec)
        except UnsupportedModel as error:
            problems.append(f"{name}: {error}")
            continue
        return name
    raise UnsupportedModel(f"{file} fits none of the games:\n  " + "\n  ".join(problems))


def _model_facts(folder: Path) -> dict[str, Any]:
    """Algo and seed from a model folder's ``configuration.yaml``: ours carries the run's
    config (``marl_arena``), ML-Agents' the trainer type of its behaviour."""
    config_file = folder / "configuration.yaml"
    if not config_file.is_file():
        return {}
    try:
        config = yaml.safe_load(config_file.read_text()) or {}
    except yaml.YAMLError:
        return {}
    ours = config.get("marl_arena") or {}
    if ours.get("algo"):
        return {"algo": ours["algo"].get("name"), "seed": ours.get("seed")}
    behaviours = config.get("behaviors") or {}
    trainer = next(
        (b.get("trainer_type") for b in behaviours.values() if isinstance(b, dict)), None
    )
    return {"algo": f"mlagents-{trainer}"} if trainer else {}


def model_name(path: str | Path) -> str:
    """A player's name from where its model lies: the folder's name for a model folder (a Hub
    download is named by its repo id by the caller), and for a file named after its behaviour
    (what ML-Agents writes: ``poca-run-3/SoccerTwos.onnx`` -> ``poca-run-3``), else the
    file's name."""
    path = Path(path).resolve()
    if path.is_dir():
        return path.name
    behaviours = {envs.game(name).behaviour for name in envs.games()}
    return path.parent.name if path.stem in behaviours else path.stem


def role_models(path: Path, spec: EnvSpec) -> list[Any]:
    """An asymmetric game's model folder as one imported model per behaviour, from its
    ``<Behaviour>.onnx`` files (what ML-Agents writes for Striker and Goalie)."""
    files = {f.stem: f for f in path.glob("*.onnx")} if path.is_dir() else {}
    names = [b.name for b in spec.behaviour_specs]
    missing = [n for n in names if n not in files]
    if missing:
        raise ValueError(
            f"{spec.name} has one policy per behaviour: {path} needs "
            f"{', '.join(f'{n}.onnx' for n in names)} (missing {', '.join(missing)})"
        )
    return [load_model(files[n], spec.for_behaviour(b)) for b, n in enumerate(names)]


def onnx_player(
    path: str | Path, env_name: str, name: str | None = None, greedy: bool = False
) -> Player:
    """An ML-Agents ``.onnx`` file or model folder as a player of ``env_name`` (a folder of
    one ``<Behaviour>.onnx`` per role in an asymmetric game)."""
    path = Path(path)
    spec = envs.make(env_name).spec
    facts = _model_facts(path if path.is_dir() else path.parent)
    mode = "greedy" if greedy else "sampled"
    if spec.asymmetric:
        models = role_models(path, spec)
        teams = [spec.behaviour_of(t) for t in range(spec.num_teams)]
        widths = [b.obs_shape[0] for b in spec.behaviour_specs]
        policy: Policy | Roles = Roles(
            tuple(own_view_policy(models[b].policy(greedy), widths[b]) for b in teams),
            tuple(teams),
        )
        params: Any = tuple(m.params() for m in models)
        arch = "onnx/" + "+".join(m.arch for m in models) + f"/{mode}"
        version = models[0].version
    else:
        model = load_model(model_file(path, env_name), spec)
        policy, params, version = model.policy(greedy), model.params(), model.version
        arch = f"onnx/{model.arch}/{mode}"
    return Player(
        name=name or model_name(path),
        kind="onnx",
        policy=policy,
        params=params,
        arch=arch,
        algo=facts.get("algo") or f"onnx-api{version}",
        seed=facts.get("seed"),
        source=str(path),
    )


def load_player(
    spec: str | Path, env_name: str | None = None, name: str | None = None
) -> tuple[MultiAgentEnv, Player]:
    """The env and player a command line names (see the module docstring). The game comes
    from the run, from ``env_name``, or, for a model, from the model itself."""
    if (Path(spec) / "final").is_dir():
        env, player = trained_player(spec, name)
        if env_name is not None and env.spec.name != env_name:
            raise ValueError(f"{spec} was trained on {env.spec.name}, not {env_name}")
        return env, player
    if is_model(spec):
        env_name = env_name or model_game(spec)
        return envs.make(env_name), onnx_player(spec, env_name, name)
    if env_name is None:
        raise ValueError(
            f"{spec} is neither a run directory nor an .onnx file or model folder; a scripted "
            "player needs the game named"
        )
    if str(spec) not in scripted.names(env_name):
        raise ValueError(
            f"{spec!r} is not a run directory, .onnx file or model folder, nor a scripted "
            f"{env_name} player ({', '.join(scripted.names(env_name))})"
        )
    return envs.make(env_name), scripted_player(env_name, str(spec))


def frozen_opponents(cfg: Any) -> list[Policy]:
    """The team policies of ``cfg.env.selfplay.opponents`` (scripted players' names, run
    directories, ``.onnx`` files or model folders), each with its params inside: the frozen
    players a run trains against (``algos.selfplay``)."""
    policies = []
    for spec in cfg.env.selfplay.get("opponents", []):
        player = side(cfg.env.name, spec)
        if isinstance(player.policy, Roles):
            raise ValueError(f"{spec}: frozen opponents play symmetric games only")
        policies.append(functools.partial(_frozen, player.policy, player.params))
    return policies


def _frozen(policy: Policy, params: Any, _: Any, obs: Any, key: Any) -> Any:
    return policy(params, obs, key)


def side(env_name: str, spec: str | Path) -> Player:
    """A side of a match in ``env_name``: a run directory (its game must be ``env_name``), an
    ``.onnx`` file or model folder, or a scripted player's name."""
    return load_player(spec, env_name)[1]
