"""The fast approximations behind the Erlang C search, against exact forms."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from scipy import special

from forecasting import sl_kernel
from forecasting.gamma_terms import log_inverse_erlang_b
from tests.forecasting import mp_reference as ref

# n = 1 .. 60 one by one, then up to 100,000 agents
_AGENTS = [
    *range(1, 61),
    70,
    100,
    150,
    300,
    700,
    1000,
    2000,
    4094,
    4095,
    4096,
    5000,
    20_000,
    100_000,
]


@pytest.mark.parametrize("n", _AGENTS)
def test_uniform_expansion_is_within_a_fifth_of_its_bound(n: int) -> None:
    # Every traffic the search can meet at n agents: a < n, from 1e-6 n (n far
    # above the load, e.g. an occupancy cap) to just below n.
    rng = np.random.default_rng(n)
    a = np.concatenate(
        [
            n * np.exp(rng.uniform(np.log(1e-6), 0.0, 4000)),
            n - rng.uniform(0.0, 3.0, 1000) * np.sqrt(n),
            n - rng.uniform(0.0, 1.0, 500),
        ]
    )
    a = a[(a > 0) & (a < n)]
    nn = np.full_like(a, float(n))
    exact = log_inverse_erlang_b(nn, a)
    approx = _inverse_b(nn, a)
    finite = np.isfinite(approx)
    # Only astronomically large 1/B may overflow (an intermediate reaches 1e308 first).
    assert np.all(exact[~finite] > 600)
    err = np.abs(np.log(approx[finite]) - exact[finite])
    assert err.max() <= 0.2 * sl_kernel.error_bound(float(n))


@pytest.mark.parametrize(
    ("n", "a"), [(1, 0.3), (2, 1.9), (3, 1.02), (14, 10.0), (60, 45.5), (2100, 2000.0)]
)
def test_uniform_expansion_against_arbitrary_precision(n: int, a: float) -> None:
    exact = 1 / ref.erlang_b(n, a)
    bound = sl_kernel.error_bound(float(n))
    staged = _inverse_b(np.array([float(n)]), np.array([a]))[0]
    scalar = sl_kernel.inverse_b(float(n), a, sl_kernel.GSTAR, sl_kernel.ERFCX_NEG)
    assert abs(mpmath.mpf(staged) / exact - 1) < bound
    assert abs(mpmath.mpf(scalar) / exact - 1) < bound


def test_erfcx_table_matches_scipy() -> None:
    x = np.concatenate([np.linspace(0.0, 6.0, 20_001), [6.0 - 1e-9, 6.0]])
    table = [sl_kernel._erfcx_table(float(v), sl_kernel.ERFCX_NEG) for v in x]
    assert np.max(np.abs(np.array(table) / special.erfcx(-x) - 1)) < 1e-10


def test_the_staged_and_the_scalar_forms_agree_beyond_the_tables() -> None:
    # erfcx argument above 6 (n far above the load) and n beyond the Gamma* table
    n = np.array([50.0, 400.0, 4095.0, 4096.0, 5000.0, 100_000.0])
    a = np.array([2.0, 40.0, 4000.0, 4000.0, 4900.0, 99_000.0])
    staged = _inverse_b(n, a)
    for ni, ai, got in zip(n, a, staged, strict=True):
        assert got == sl_kernel.inverse_b(
            float(ni), float(ai), sl_kernel.GSTAR, sl_kernel.ERFCX_NEG
        )


def _inverse_b(n: np.ndarray, a: np.ndarray) -> np.ndarray:
    out = np.empty(n.size)
    sl_kernel.inverse_b_many(
        np.ascontiguousarray(n), np.ascontiguousarray(a), sl_kernel.GSTAR, sl_kernel.ERFCX_NEG, out
    )
    return out
