"""Benchmarks: each prints one JSON line; results are kept in docs/benchmarks.md."""
