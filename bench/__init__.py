"""Benchmarks, run as commands: ``make bench-index``, ``make bench-quality``, ``make bench-search``."""
