"""Benchmark harness for rewritediff: workloads W1-W10 against hand-written numpy, PyTensor and JAX (``python -m benchmarks.run``)."""
