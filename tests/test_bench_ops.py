"""The op-by-op profile: every op's time goes to the module and pass that emitted it."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from experiments.bench.ops import OpSource, source_group, time_by_source


class Net(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.Dense(1, name="head")(nn.tanh(nn.Dense(256, name="torso")(x)))


def test_source_group_reads_modules_passes_and_functions():
    name = (
        "jit(learn)/while/body/closed_call/transpose(jvp(Critic.value))/Critic._body"
        "/attention/dot_general"
    )
    assert (
        source_group(OpSource(name, "f (a.py)")) == "Critic.value/Critic._body/attention [backward]"
    )
    assert source_group(OpSource(name, ""), depth=1) == "Critic.value [backward]"
    assert (
        source_group(OpSource("jit(update)/jvp(Actor)/MLP_0/Dense_0/add", ""))
        == "Actor/MLP_0/Dense_0"
    )
    branch = OpSource("jit(update)/cond/branch_1_fun/vmap(Critic)/MLP_0/Dense_0/dot_general", "")
    assert source_group(branch) == "Critic/MLP_0/Dense_0"
    # No module in the path: the innermost Python function that emitted the op.
    step = OpSource("jit(update)/while/body/vmap()/mul", "play_decision (env.py)")
    assert source_group(step) == "play_decision (env.py)"


def test_a_traced_program_times_each_layer_forward_and_backward():
    net = Net()
    x = jax.random.normal(jax.random.PRNGKey(0), (4096, 256))
    params = net.init(jax.random.PRNGKey(1), x)

    def loss(p, x):
        return jnp.mean(net.apply(p, x) ** 2)

    compiled = jax.jit(jax.grad(loss)).lower(params, x).compile()
    times = time_by_source(compiled, lambda: compiled(params, x), runs=2)
    for group in ("Net/torso", "Net/torso [backward]", "Net/head [backward]"):
        assert times[group] > 0, (group, times)
    # The 256 x 256 layer's forward and backward outweigh the 256 x 1 head's.
    assert times["Net/torso"] + times["Net/torso [backward]"] > 2 * times["Net/head [backward]"]
