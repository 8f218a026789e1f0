"""Benchmarks (not part of ``make test``)."""
