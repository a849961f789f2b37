"""``python -m experiments.bench``: the benchmark suite (``experiments.bench.suite``)."""

from experiments.bench.suite import main

main()
