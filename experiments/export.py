"""Export a trained actor to ONNX in ML-Agents' format, so Unity's inference engine runs it.

python -m experiments.export RUN_DIR                      # RUN_DIR/export/SoccerTwos.onnx
python -m experiments.export RUN_DIR --out my.onnx --check 256
python -m experiments.export SVG_RUN_DIR                  # export/Striker.onnx, Goalie.onnx

The file is what ``mlagents-learn`` writes for a trained behaviour (ML-Agents 2.x, model API
version 3, ONNX opset 9), so a SoccerTwos policy drops into the course's build and its
AI-vs-AI league:

- inputs ``obs_0 .. obs_{k-1}``, one per sensor in the order Unity sorts them (SoccerTwos:
  the 264 forward and the 72 reverse ray floats), plus ``action_masks`` ``[batch, sum of
  branches]`` for discrete actions (1 = allowed);
- outputs ``version_number`` (3) and ``memory_size`` (0), float ``[1]``; for discrete actions
  ``discrete_actions`` (a sample, int64 ``[batch, branches]``), ``discrete_action_output_shape``
  (float ``[1, branches]``) and ``deterministic_discrete_actions`` (argmax); for continuous
  actions ``continuous_actions``, ``continuous_action_output_shape`` and
  ``deterministic_continuous_actions``, float ``[batch, size]`` in [-1, 1].

The observation normaliser, when the run used one, is part of the graph. Continuous samples
are the policy's Gaussian clipped to [-1, 1], as our envs apply them (ML-Agents' own
exporter divides a [-3, 3] clip by 3 instead, which would change the policy). MADDPG's
deterministic tanh actor gives the same tensor on both outputs, from one sub-policy of its
ensemble (``--sub-policy``); a team of separate actors exports one member (``--agent``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from experiments.core.onnx_export import behaviour_policies, check_parity, export
from experiments.core.players import load_run


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a finished run directory of experiments.run")
    parser.add_argument("--out", default=None, help="the .onnx file (default RUN_DIR/export/)")
    parser.add_argument("--agent", type=int, default=0, help="team member, for unshared actors")
    parser.add_argument("--sub-policy", type=int, default=0, help="MADDPG ensemble member")
    parser.add_argument(
        "--behaviour", default=None, help="export only this behaviour (asymmetric games)"
    )
    parser.add_argument(
        "--check",
        type=int,
        default=256,
        help="compare with JAX on this many random observations (0: skip)",
    )
    args = parser.parse_args(argv)
    paths = export(args.run_dir, args.out, args.agent, args.sub_policy, args.behaviour)
    _, trainer, params = load_run(args.run_dir)  # the policy the files were made from
    policies = behaviour_policies(trainer, params, args.behaviour)
    for path, (_, sub, sub_params) in zip(paths, policies, strict=True):
        print(f"wrote {path}")
        if args.check:
            report = check_parity(
                path, sub, sub_params, args.check, agent=args.agent, sub_policy=args.sub_policy
            )
            print(json.dumps(report))


if __name__ == "__main__":
    main()
