"""ONNX graphs in ML-Agents' format from a learner's actor arrays, and their parity check.

The learner describes its actor (``Learner.actor_arrays``: layers, head, normaliser, mirror)
and what it computes before sampling (``Learner.actor_outputs``); this module only builds the
graph (ML-Agents 2.x, model API version 3, ONNX opset 9) and compares onnxruntime with JAX.
See ``experiments.export`` for the format.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from algos.learner import ActorArrays, Exportable, Learner
from algos.trainer import Trainer
from envs.base import EnvSpec, MultiDiscrete
from envs.registry import find
from experiments.core.players import load_run

MODEL_API_VERSION = 3  # ML-Agents' ModelApiVersion.MLAgents2_0 (SimpleActor.MODEL_EXPORT_VERSION)
OPSET = 9  # ML-Agents' SerializationSettings.onnx_opset


def behaviour_name(spec: EnvSpec, behaviour: int = 0) -> str:
    """ML-Agents' behaviour name (the ``.onnx`` file's name): the game record's for a
    symmetric game, else the behaviour's own (``Striker``, ``Goalie``)."""
    if spec.asymmetric:
        return spec.behaviour_specs[behaviour].name
    record = find(spec.name)
    return record.behaviour if record is not None and record.behaviour else spec.name


class _Graph:
    """A tiny ONNX graph builder: unique names, constants as initializers."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.count = 0

    def const(self, value: np.ndarray, name: str | None = None) -> str:
        name = name or f"const_{len(self.initializers)}"
        self.initializers.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], name: str | None = None, **attrs) -> str:
        self.count += 1
        out = name or f"{op_type.lower()}_{self.count}"
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


ACTIVATION_OPS = {"relu": "Relu", "tanh": "Tanh"}


def _activate(g: _Graph, x: str, activation: str) -> str:
    if activation in ACTIVATION_OPS:
        return g.op(ACTIVATION_OPS[activation], [x])
    if activation == "swish":
        return g.op("Mul", [x, g.op("Sigmoid", [x])])
    raise ValueError(
        f"activation {activation!r} has no opset-{OPSET} ONNX form; train with relu, tanh or swish"
    )


def sensor_split(spec: EnvSpec) -> tuple[tuple[str, int], ...]:
    """Unity's observation tensors for this game, in input order: ``(name, size)``."""
    return spec.sensors or (("obs", int(np.prod(spec.obs_shape))),)


def build_model(weights: ActorArrays, spec: EnvSpec, seed: float | None = None):
    """The ML-Agents-format ``onnx.ModelProto`` for one actor."""
    from onnx import TensorProto, helper

    g = _Graph()
    space = spec.action_space
    sensors = sensor_split(spec)
    inputs = [
        helper.make_tensor_value_info(f"obs_{i}", TensorProto.FLOAT, ["batch", size])
        for i, (_, size) in enumerate(sensors)
    ]
    x = (
        g.op("Concat", [f"obs_{i}" for i in range(len(sensors))], axis=1)
        if len(sensors) > 1
        else "obs_0"
    )
    if weights.obs_mean is not None:
        x = g.op(
            "Div",
            [
                g.op("Sub", [x, g.const(weights.obs_mean.astype(np.float32))]),
                g.const(weights.obs_std.astype(np.float32)),
            ],
        )
        x = g.op("Clip", [x], min=-weights.obs_clip, max=weights.obs_clip)
    layers = [(g.const(k), g.const(b)) for k, b in [*weights.layers, weights.head]]

    def network(x: str) -> str:
        for i, (kernel, bias) in enumerate(layers):
            x = g.op("Add", [g.op("MatMul", [x, kernel]), bias])
            x = x if i + 1 == len(layers) else _activate(g, x, weights.activation)
        return x

    if weights.mirror is None:
        head = g.op("Identity", [network(x)], name="head")
    else:  # networks.Actor with a mirror: mean of the logits and the reflected pass's
        obs_index = g.const(np.asarray(weights.mirror.obs_index, np.int64))
        reflected = network(g.op("Gather", [x, obs_index], axis=1))
        table = weights.mirror.action_table(weights.logit_width)
        columns = (table + weights.logit_width * np.arange(len(table))[:, None]).reshape(-1)
        reflected = g.op("Gather", [reflected, g.const(columns.astype(np.int64))], axis=1)
        both = g.op("Add", [network(x), reflected])
        head = g.op("Mul", [both, g.const(np.float32(0.5))], name="head")
    version = g.const(np.array([MODEL_API_VERSION], np.float32))
    memory = g.const(np.array([0], np.float32))
    g.op("Identity", [version], name="version_number")
    g.op("Identity", [memory], name="memory_size")
    outputs = [
        helper.make_tensor_value_info("version_number", TensorProto.FLOAT, [1]),
        helper.make_tensor_value_info("memory_size", TensorProto.FLOAT, [1]),
    ]
    sample_attrs = {} if seed is None else {"seed": float(seed)}
    if isinstance(space, MultiDiscrete):
        branches = space.branches
        inputs.append(
            helper.make_tensor_value_info(
                "action_masks", TensorProto.FLOAT, ["batch", sum(branches)]
            )
        )
        sampled, greedy, offset = [], [], 0
        for b, n in enumerate(branches):
            start = b * weights.logit_width
            logits = g.op("Slice", [head], axes=[1], starts=[start], ends=[start + n])
            mask = g.op("Slice", ["action_masks"], axes=[1], starts=[offset], ends=[offset + n])
            offset += n
            # a masked option gets a logit 1e8 below the others: probability 0
            penalty = g.op(
                "Mul", [g.op("Sub", [mask, g.const(np.float32(1.0))]), g.const(np.float32(1e8))]
            )
            masked = g.op("Add", [logits, penalty], name=f"logits_{b}")
            sampled.append(
                g.op(
                    "Multinomial", [masked], sample_size=1, dtype=TensorProto.INT64, **sample_attrs
                )
            )
            greedy.append(g.op("ArgMax", [masked], axis=1, keepdims=1))
        g.op("Concat", sampled, name="discrete_actions", axis=1)
        g.op("Concat", greedy, name="deterministic_discrete_actions", axis=1)
        g.op(
            "Identity",
            [g.const(np.array([branches], np.float32))],
            name="discrete_action_output_shape",
        )
        n_out = len(branches)
        outputs += [
            helper.make_tensor_value_info("discrete_actions", TensorProto.INT64, ["batch", n_out]),
            helper.make_tensor_value_info(
                "discrete_action_output_shape", TensorProto.FLOAT, [1, n_out]
            ),
            helper.make_tensor_value_info(
                "deterministic_discrete_actions", TensorProto.INT64, ["batch", n_out]
            ),
        ]
    else:
        size = int(np.prod(space.shape))
        clamp = weights.action_clamp

        def to_env(x: str, name: str) -> str:
            """ML-Agents' ``clamp(x, -c, c) / c`` (``ActionModel`` on export), or a clip."""
            if clamp is None:
                return g.op("Clip", [x], name=name, min=-1.0, max=1.0)
            clamped = g.op("Clip", [x], min=-float(clamp), max=float(clamp))
            return g.op("Div", [clamped, g.const(np.float32(clamp))], name=name)

        if weights.output == "tanh":
            mean = g.op("Tanh", [head])
            to_env(mean, "continuous_actions")
        else:
            mean = head
            noise = g.op("RandomNormalLike", [mean], dtype=TensorProto.FLOAT, **sample_attrs)
            std = g.const(np.exp(weights.log_std).astype(np.float32))
            to_env(g.op("Add", [mean, g.op("Mul", [noise, std])]), "continuous_actions")
        to_env(mean, "deterministic_continuous_actions")
        g.op(
            "Identity",
            [g.const(np.array([size], np.float32))],
            name="continuous_action_output_shape",
        )
        outputs += [
            helper.make_tensor_value_info("continuous_actions", TensorProto.FLOAT, ["batch", size]),
            helper.make_tensor_value_info("continuous_action_output_shape", TensorProto.FLOAT, [1]),
            helper.make_tensor_value_info(
                "deterministic_continuous_actions", TensorProto.FLOAT, ["batch", size]
            ),
        ]
    graph = helper.make_graph(g.nodes, "marl_arena_actor", inputs, outputs, g.initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="marl-arena"
    )
    model.ir_version = 7  # readable by the onnx runtimes Unity ships (Barracuda / Sentis)
    return model


def split_obs(spec: EnvSpec, obs: np.ndarray) -> dict[str, np.ndarray]:
    """Flat ``[batch, D]`` observations as the model's ``obs_i`` inputs."""
    feeds, start = {}, 0
    for i, (_, size) in enumerate(sensor_split(spec)):
        feeds[f"obs_{i}"] = np.asarray(obs[:, start : start + size], np.float32)
        start += size
    if isinstance(spec.action_space, MultiDiscrete):
        feeds["action_masks"] = np.ones((obs.shape[0], sum(spec.action_space.branches)), np.float32)
    return feeds


def check_parity(
    model_path: Path,
    learner: Learner,
    params: Any,
    samples: int,
    seed: int = 0,
    agent: int = 0,
    sub_policy: int = 0,
) -> dict[str, Any]:
    """Run the file in onnxruntime on random observations and compare with the JAX policy:
    the largest absolute difference of the logits (discrete) or mean action (continuous),
    the disagreements of the deterministic outputs, and whether samples are valid actions."""
    import onnx
    import onnxruntime as ort

    spec, space = learner.spec, learner.spec.action_space
    discrete = isinstance(space, MultiDiscrete)
    model = onnx.load(str(model_path))
    if discrete:  # expose the masked logits of each branch for the comparison
        model.graph.output.extend(
            onnx.helper.make_tensor_value_info(f"logits_{b}", onnx.TensorProto.FLOAT, None)
            for b in range(len(space.branches))
        )
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    obs = np.random.default_rng(seed).uniform(0.0, 1.0, (samples, *spec.obs_shape))
    obs = obs.astype(np.float32)
    names = [o.name for o in session.get_outputs()]
    result = dict(zip(names, session.run(None, split_obs(spec, obs)), strict=True))
    expected = learner.actor_outputs(params, obs, agent, sub_policy)
    if discrete:
        logits = [result[f"logits_{b}"] for b in range(len(space.branches))]
        diff = max(  # as log-probabilities: logits are defined up to a constant per branch
            float(np.max(np.abs(_log_softmax(lg) - _log_softmax(expected[:, b, : lg.shape[1]]))))
            for b, lg in enumerate(logits)
        )
        greedy = np.stack([np.argmax(lg, -1) for lg in logits], -1)
        got, sample = result["deterministic_discrete_actions"], result["discrete_actions"]
        valid = bool(np.all((sample >= 0) & (sample < np.asarray(space.branches))))
    else:
        greedy = expected
        got, sample = result["deterministic_continuous_actions"], result["continuous_actions"]
        diff = float(np.max(np.abs(got - expected)))
        valid = bool(np.all(np.abs(sample) <= 1.0))
    mismatches = int(np.sum(np.any(got != greedy, -1))) if discrete else 0
    return {
        "samples": samples,
        "max_abs_diff": diff,
        "greedy_mismatches": mismatches,
        "sampled_actions_valid": valid,
    }


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def behaviour_policies(
    trainer: Trainer, params: Any, behaviour: str | None = None
) -> list[tuple[str, Learner, Any]]:
    """``(behaviour name, its learner, its params)`` for each behaviour of a run's policy (or
    only ``behaviour``): one for a symmetric game, one per role for an asymmetric one. A
    learner without an ONNX export (``Exportable``) is refused with its name."""
    spec = trainer.env.spec
    if not spec.asymmetric:
        policies = [(behaviour_name(spec), trainer.learners[0], params)]
    else:
        policies = [
            (behaviour_name(spec, b), sub, params[b]) for b, sub in enumerate(trainer.learners)
        ]
    for _, sub, _ in policies:
        if not isinstance(sub, Exportable):
            raise TypeError(
                f"{type(sub).__name__} has no ONNX export: it defines no actor_arrays and "
                "actor_outputs (algos.learner.Exportable)"
            )
    if behaviour is None:
        return policies
    valid = [name for name, _, _ in policies]
    if behaviour not in valid:
        raise ValueError(f"unknown behaviour {behaviour!r}; valid: {', '.join(valid)}")
    return [p for p in policies if p[0] == behaviour]


def export(
    run_dir: str | Path,
    out: str | Path | None = None,
    agent: int = 0,
    sub_policy: int = 0,
    behaviour: str | None = None,
) -> list[Path]:
    """Write the ONNX file of each behaviour of a finished run's final policy
    (``<Behaviour>.onnx``; only ``behaviour``'s when named); returns their paths. ``out`` is
    the file when one is written, else the folder."""
    import onnx

    _, trainer, params = load_run(run_dir)
    policies = behaviour_policies(trainer, params, behaviour)
    paths = []
    for name, sub, sub_params in policies:
        model = build_model(sub.actor_arrays(sub_params, agent, sub_policy), sub.spec)
        onnx.checker.check_model(model)
        if out is not None and len(policies) == 1 and Path(out).suffix == ".onnx":
            path = Path(out)
        else:
            path = Path(out or Path(run_dir) / "export") / f"{name}.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".onnx.tmp")
        tmp.write_bytes(model.SerializeToString())
        tmp.replace(path)
        paths.append(path)
    return paths
