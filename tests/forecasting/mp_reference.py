"""Arbitrary-precision reference (mpmath) for the Erlang tests."""

from __future__ import annotations

import mpmath

mpmath.mp.dps = 40


def erlang_b(n: int, a: float) -> mpmath.mpf:
    """Erlang B by the forward recurrence, in 40-digit arithmetic."""
    am = mpmath.mpf(a)
    b = mpmath.mpf(1)
    for k in range(1, n + 1):
        b = am * b / (k + am * b)
    return b


def erlang_c(n: int, a: float) -> mpmath.mpf:
    am = mpmath.mpf(a)
    if n <= am:
        return mpmath.mpf(1)
    b = erlang_b(n, a)
    return n * b / (n - am * (1 - b))


def service_level(n: int, a: float, aht: float, target: float) -> mpmath.mpf:
    am = mpmath.mpf(a)
    if n <= am:
        return mpmath.mpf(0)
    return 1 - erlang_c(n, a) * mpmath.exp(-(n - am) * mpmath.mpf(target) / mpmath.mpf(aht))


def required_agents(
    a: float, aht: float, sl: float, target: float, max_occupancy: float = 1.0
) -> int:
    """Plain scan from the smallest stable count; recurrence carried along."""
    am = mpmath.mpf(a)
    if a == 0:
        return 0
    n = int(mpmath.floor(am)) + 1
    occ_units = round(max_occupancy * 1_000_000)
    while am * 1_000_000 > n * occ_units:
        n += 1
    b = erlang_b(n, a)
    tau = mpmath.mpf(target) / mpmath.mpf(aht)
    while True:
        c = n * b / (n - am * (1 - b))
        if 1 - c * mpmath.exp(-(n - am) * tau) >= sl:
            return n
        n += 1
        b = am * b / (n + am * b)
