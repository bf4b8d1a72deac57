"""Benchmarks: measurements to run by hand, not tests."""
