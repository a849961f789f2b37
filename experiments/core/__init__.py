"""The library under the command-line tools: everything they and the tests share.

- ``config``: the Hydra config directory and composing a config from overrides;
- ``build``: env + learner from a config (also a saved run's, offline);
- ``training``: the chunked training loop of ``experiments.run``;
- ``checkpoint`` / ``logger``: orbax checkpoints, the saved policy, ``metrics.jsonl`` + wandb;
- ``evaluation``: a policy against scripted players and other policies, W/D/L with intervals;
- ``players``: anything that can take a side (a run directory, an ML-Agents model, a scripted
  player), and the frozen opponents a run trains against;
- ``onnx_export`` / ``onnx_import``: ML-Agents-format graphs from our actors, and ML-Agents'
  graphs run in JAX;
- ``matches`` / ``match_table``: tournaments and the SQLite table they write;
- ``pool`` / ``matchmaking`` / ``hub_pool``: the AI-vs-AI league (pool, legs, replays), which
  pairs it plays next, and Hub entrants.

Formats that ``analysis`` reads are defined in ``analysis.formats`` and imported here.
"""
