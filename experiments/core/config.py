"""Where the Hydra configs live, and composing one without a command line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from omegaconf import DictConfig, OmegaConf

import algos

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def compose(overrides: Sequence[str] = (), config_name: str = "config") -> DictConfig:
    """``conf/<config_name>.yaml`` with Hydra overrides, as ``python -m experiments.run``
    would compose it (benchmarks, tests, notebooks)."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return hydra_compose(config_name, overrides=list(overrides))


def experiment_algo(name: str) -> dict[str, Any]:
    """The algorithm settings ``+experiment=<name>`` trains with (``conf/experiment/``), the
    algorithm's YAML included, without ``name``: for studies that run them outside the CLI."""
    algo = OmegaConf.to_container(compose([f"+experiment={name}"]).algo, resolve=True)
    algo.pop("name")
    return algo


def algo_names() -> list[str]:
    """The algorithms (``algos.names()``), each checked to have ``conf/algo/<name>.yaml``."""
    names = algos.names()
    missing = [n for n in names if not (Path(CONF_DIR) / "algo" / f"{n}.yaml").exists()]
    if missing:
        raise FileNotFoundError(
            f"algos {missing} have no config: add conf/algo/<name>.yaml (see README, Extending)"
        )
    return names
