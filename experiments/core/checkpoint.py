"""Orbax checkpoints of the whole training state, the saved final policy, and policy
snapshots along the way.

A checkpoint holds the full training state (params, optimiser, live envs, self-play pool,
rng) plus a JSON ``meta`` (env steps, wall time, the config that produced it), so a resumed
run continues bit for bit. Orbax writes to a temporary directory and renames it when done,
so a process killed mid-save leaves the previous checkpoint intact. Restoring needs a
template state from ``trainer.init``; a checkpoint from another algo/env/network fails with a
message that says which.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from analysis.formats import CONFIG_FILE, RUN_IDENTITY


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used; the message says why and what to do."""


# The state's layout: 2 since the trainer owns the live envs, self-play and rng
# (``algos.trainer.TrainState``); checkpoints without it were written in layout 1.
LAYOUT = 2


def _abstract(state: Any) -> Any:
    return jax.tree.map(ocp.utils.to_shape_dtype_struct, _storable(state))


def _storable(tree: Any) -> Any:
    """Orbax refuses zero-size arrays (MADDPG's replay holds empty ghost records in a game
    with no opponent): each is stored as one zero, and ``_restored`` puts it back."""
    return jax.tree.map(lambda x: jnp.zeros((1,), x.dtype) if _empty(x) else x, tree)


def _restored(tree: Any, template: Any) -> Any:
    """The restored arrays, uncommitted like a fresh state's: orbax commits them to a device,
    and a jit lowers committed arguments with their sharding, so a restored policy would
    compile (and cache) programs apart from the ones a freshly trained policy uses."""
    return jax.tree.map(
        lambda x, t: jnp.zeros(t.shape, t.dtype) if _empty(t) else jnp.asarray(np.asarray(x)),
        tree,
        template,
    )


def _empty(x: Any) -> bool:
    return math.prod(x.shape) == 0


class Checkpointer:
    def __init__(self, directory: str | Path, keep: int | None = 3) -> None:
        """``keep``: how many checkpoints saving leaves (``None``: all)."""
        self.directory = Path(directory).absolute()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True),
        )

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def steps(self) -> list[int]:
        """Every saved step, oldest first (``checkpoint.keep`` bounds how many survive)."""
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: Any, meta: dict[str, Any]) -> None:
        meta = {**meta, "layout": LAYOUT}
        self._manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(_storable(state)), meta=ocp.args.JsonSave(meta)
            ),
        )
        self._manager.wait_until_finished()

    def restore(
        self, template: Any, config: dict[str, Any], step: int | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Checkpoint ``step`` (default: the newest), checked against ``config``'s identity
        keys and the template's structure."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"no checkpoint in {self.directory}; start without resume")
        try:
            meta = self._manager.restore(
                step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())
            )["meta"]
        except Exception as err:
            raise CheckpointError(
                f"checkpoint {step} in {self.directory} is unreadable ({err}); delete that step "
                "directory to fall back to an older one, or start without resume"
            ) from err
        layout = meta.get("layout", 1)
        if layout != LAYOUT:
            raise CheckpointError(
                f"checkpoint {step} in {self.directory} has state layout {layout}, this version "
                f"of marl-arena reads layout {LAYOUT} (layout 2 began when algos.trainer took "
                "over the live envs, self-play and rng). Resume it with the commit that wrote "
                "it (its config.json and git log), or start afresh"
            )
        saved = meta.get("config", {})
        for key in RUN_IDENTITY:  # the keys that must match for a resume
            if key in saved and saved[key] != config.get(key):
                raise CheckpointError(
                    f"checkpoint in {self.directory} was made with {key}={saved[key]!r}, this run "
                    f"has {key}={config.get(key)!r}; resume with the same {key} or start afresh"
                )
        try:
            restored = self._manager.restore(
                step, args=ocp.args.Composite(state=ocp.args.StandardRestore(_abstract(template)))
            )
        except Exception as err:
            raise CheckpointError(
                f"checkpoint {step} in {self.directory} does not fit this run's state "
                f"({type(err).__name__}: {err}); was it written by another algo, env or network "
                "size? Resume with the config it was written with, or start afresh"
            ) from err
        return _restored(restored["state"], template), meta

    def close(self) -> None:
        self._manager.close()


def save_policy(directory: str | Path, params: Any, config: dict[str, Any]) -> None:
    """The deployable policy (``trainer.policy_params``) and the config that rebuilds it."""
    directory = Path(directory).absolute()
    directory.mkdir(parents=True, exist_ok=True)
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(directory / "params", _storable(params), force=True)
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=1))


def load_policy(directory: str | Path, template: Any) -> Any:
    directory = Path(directory).absolute()
    if not (directory / "params").exists():
        raise CheckpointError(f"no saved policy in {directory} (expected {directory}/params)")
    try:
        with ocp.StandardCheckpointer() as ckpt:
            return _restored(ckpt.restore(directory / "params", _abstract(template)), template)
    except Exception as err:
        raise CheckpointError(
            f"policy in {directory} does not fit the network its config.json describes "
            f"({type(err).__name__}: {err})"
        ) from err


SNAPSHOTS = "policies"  # <run dir>/policies/<chunk>/: params, config.json, meta.json
SNAPSHOT_META = "meta.json"


def save_snapshot(
    run_dir: str | Path,
    chunk: int,
    params: Any,
    config: dict[str, Any],
    env_steps: int,
    wall_s: float,
) -> None:
    """The policy after ``chunk`` (``checkpoint.policy_every``), with when it was saved. The
    meta is written last: a snapshot without it was cut off and is written again."""
    directory = Path(run_dir) / SNAPSHOTS / str(chunk)
    save_policy(directory, params, config)
    meta = {"chunk": chunk, "env_steps": env_steps, "wall_s": wall_s}
    (directory / SNAPSHOT_META).write_text(json.dumps(meta))


def snapshots(run_dir: str | Path) -> dict[int, dict[str, Any]]:
    """``{chunk: meta}`` of a run's complete policy snapshots."""
    found = {}
    for meta_file in (Path(run_dir) / SNAPSHOTS).glob(f"*/{SNAPSHOT_META}"):
        meta = json.loads(meta_file.read_text())
        found[int(meta["chunk"])] = meta
    return dict(sorted(found.items()))
