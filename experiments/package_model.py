"""Write the model folder ``mlagents-push-to-hf`` would push, and optionally push it.

python -m experiments.package_model RUN_DIR --out hub/poca-SoccerTwos          # offline
python -m experiments.package_model RUN_DIR --out DIR --repo-id you/poca-SoccerTwos --push

The folder holds what the Hugging Face AI-vs-AI league reads from a SoccerTwos model repo:
``SoccerTwos.onnx`` (ML-Agents format, from ``experiments.export``, checked against JAX),
``configuration.yaml`` (the run's config, with an ML-Agents-style ``behaviors`` section),
``README.md`` (a model card tagged ``ML-Agents-SoccerTwos`` with the evaluation results) and
``run_logs/`` (training metrics and ``eval.json``). Without ``--push`` nothing leaves the
machine; ``--push`` uploads with ``huggingface_hub`` after ``huggingface-cli login``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from experiments.core.model_folder import package, push


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a finished run directory of experiments.run")
    parser.add_argument("--out", required=True, help="the model folder to write")
    parser.add_argument("--repo-id", default=None, help="Hub repo, e.g. you/poca-SoccerTwos")
    parser.add_argument("--push", action="store_true", help="upload to --repo-id")
    parser.add_argument("--check", type=int, default=256, help="ONNX-vs-JAX observations")
    args = parser.parse_args(argv)
    if args.push and not args.repo_id:
        parser.error("--push needs --repo-id")
    folder = package(args.run_dir, args.out, args.repo_id, args.check)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    print(f"wrote {folder}: {', '.join(files)}")
    if args.push:
        print(f"pushed to {push(folder, args.repo_id)}")
    else:
        print("dry run: nothing uploaded (add --repo-id and --push to upload)")


if __name__ == "__main__":
    main()
