"""Benchmarks run by `make bench`; they report ratios measured within one run."""
