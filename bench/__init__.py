"""Benchmarks; run them as modules, e.g. `python -m bench.fastagi_load` (see docs/benchmarks.md)."""
