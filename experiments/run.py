"""Train one algorithm on one game with self-play: the Hydra entry point.

python -m experiments.run                                  # MA-POCA on the JAX SoccerTwos
python -m experiments.run algo=ippo env=tennis seed=3
python -m experiments.run -m seed=0,1,2                    # a sweep (multirun/)
python -m experiments.run seeds=[0,1,2]                    # 3 runs, one process: seed0/ ...
python -m experiments.run resume=true                      # continue the newest matching run

The host loop runs jitted *chunks* (``chunk_env_steps`` worth of trainer updates in one
``lax.scan``), logs one metrics row per chunk, checkpoints every ``checkpoint.every_chunks``
chunks, and at the end saves the final policy and evaluates it (``eval.json``). Everything
lands in Hydra's run directory; with ``seeds=[...]``, in its ``seed<k>/`` subdirectories, the
seeds trained one after another on one compiled program.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from experiments.core.config import CONF_DIR
from experiments.core.training import train, train_seeds


@hydra.main(version_base=None, config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    if cfg.seeds is None:
        train(cfg, run_dir)
    else:
        train_seeds(cfg, run_dir)


if __name__ == "__main__":
    main()
