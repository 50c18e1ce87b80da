"""Operator tools: the live doctor and the interval export."""
