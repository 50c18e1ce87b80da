"""Composition root: the `acd` console script wires the packages together."""
