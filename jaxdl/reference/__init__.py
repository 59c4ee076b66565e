"""NumPy re-implementations of the reference code, written from its formulas.

They are the oracles of the tests and the baselines of the benchmarks; nothing in them
uses JAX.
"""
