"""The benchmarks: ``python -m experiments.bench`` (the suite), ``.env``, ``.train``,
``.jaxmarl``, and ``flops`` (FLOPs from the jaxpr, the machine's matmul rate)."""
