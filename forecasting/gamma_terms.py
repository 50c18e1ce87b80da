"""Numerically careful building blocks shared by Erlang B, C and A.

Everything is in log space so nothing overflows at 10,000 Erlangs, and the
large cancelling terms of ``log(n!) - n log(a) + a`` are removed analytically
(Loader's saddle-point form: a deviance term plus Stirling's error), which
keeps the absolute error near machine epsilon times ``|n - a|`` instead of
machine epsilon times ``n log n``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import special

FloatArray = NDArray[np.float64]

_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)
# Below this the direct lgamma form is accurate enough (terms are small).
_STIRLING_FROM = 10.0
# A regularised incomplete gamma below this is treated as underflowed.
_TINY = 1e-280


def stirling_error(x: FloatArray) -> FloatArray:
    """``lgamma(x + 1) - (x + 0.5) log x + x - log(sqrt(2 pi))`` for ``x >= 10``.

    The asymptotic series truncated after five terms is accurate to about
    2e-14 absolute at ``x = 10`` and better beyond.
    """
    inv2 = 1.0 / (x * x)
    return (
        1.0 / 12.0
        - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 * (1.0 / 1680.0 - inv2 / 1188.0)))
    ) / x


def deviance(x: FloatArray, y: FloatArray) -> FloatArray:
    """``x log(x / y) + y - x`` (>= 0) without cancellation, for ``x >= 0, y > 0``."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u = (x - y) / y
        near = np.abs(u) < 1.0
        # Near x == y the log1p form avoids cancellation; far from it the
        # plain form has none and cannot overflow through u.
        core = y * ((1.0 + u) * np.log1p(np.where(near, u, 0.0)) - u)
        far = x * (np.log(x) - np.log(y)) + y - x
    # x == 0: the limit is y.
    return np.where(x == 0.0, y, np.where(near, core, far))


def log_poisson_norm(x: FloatArray, y: FloatArray) -> FloatArray:
    """``lgamma(x + 1) - x log(y) + y``, i.e. minus the log Poisson pmf at ``x``.

    Requires ``x >= 0`` and ``y > 0``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x, y = np.broadcast_arrays(x, y)
    big = x >= _STIRLING_FROM
    out = np.empty(x.shape)
    if np.any(big):
        xs, ys = x[big], y[big]
        out[big] = deviance(xs, ys) + _HALF_LOG_2PI + 0.5 * np.log(xs) + stirling_error(xs)
    small = ~big
    if np.any(small):
        xd, yd = x[small], y[small]
        out[small] = special.gammaln(xd + 1.0) - xd * np.log(yd) + yd
    return out


def log_inverse_erlang_b(n: FloatArray, a: FloatArray) -> FloatArray:
    """``log(1 / B(n, a))`` for integer ``n >= 0`` and ``a > 0``.

    ``1/B = P(Poisson(a) <= n) / P(Poisson(a) = n)``. Where the Poisson tail
    underflows (``a`` far above ``n``), the finite sum
    ``sum_j prod_{i<j} (n - i) / a`` is used instead; its ratio ``n / a`` is
    then well below one, so it converges quickly.
    """
    n = np.asarray(n, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)
    cdf: FloatArray = special.gammaincc(n + 1.0, a)
    with np.errstate(divide="ignore"):
        out: FloatArray = np.log(cdf) + log_poisson_norm(n, a)
    low = cdf < _TINY
    if np.any(low):
        out[low] = _log_inverse_b_series(n[low], a[low])
    return out


def _log_inverse_b_series(n: FloatArray, a: FloatArray) -> FloatArray:
    total = np.ones_like(n)
    term = np.ones_like(n)
    i = 0
    active = np.ones(n.shape, dtype=bool)
    while np.any(active):
        term = np.where(active, term * np.maximum(n - i, 0.0) / a, 0.0)
        total += term
        i += 1
        active &= (term > total * 1e-17) & (i <= n)
    return np.log(total)


def log_gamma_series(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``A(x, y) = 1 + sum_{j>=1} y^j / prod_{k=1..j} (x + k)`` as ``(log A, A - 1)``.

    ``A(x, y) = x e^y y^-x gamma_lower(x, y)``, the function at the heart of
    the Palm/Erlang-A formulas. For ``y`` well below ``x`` (or when the
    regularised lower incomplete gamma underflows) the series is summed
    directly, which also gives ``A - 1`` without cancellation; otherwise
    ``log P(x, y) + log_poisson_norm(x, y)`` is used. Requires ``x > 0``,
    ``y >= 0``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    log_a = np.zeros(np.broadcast(x, y).shape)
    x, y = np.broadcast_arrays(x, y)
    positive = y > 0.0
    with np.errstate(divide="ignore"):
        p = np.where(positive, special.gammainc(x, np.where(positive, y, 1.0)), 0.0)
    use_series = positive & ((y < 0.5 * x) | (p < _TINY))
    use_gamma = positive & ~use_series
    if np.any(use_gamma):
        xg, yg = x[use_gamma], y[use_gamma]
        # log P(x, y) + lgamma(x + 1) - x log y + y, with lgamma(x+1) = lgamma(x) + log x.
        log_a[use_gamma] = np.log(p[use_gamma]) + log_poisson_norm(xg, yg)
    with np.errstate(over="ignore"):
        am1 = np.expm1(log_a)
    if np.any(use_series):
        tail = _series_tail(x[use_series], y[use_series])
        am1[use_series] = tail
        log_a[use_series] = np.log1p(tail)
    return log_a, am1


def _series_tail(x: FloatArray, y: FloatArray) -> FloatArray:
    total = np.zeros_like(x)
    term = np.ones_like(x)
    k = 1
    active = np.ones(x.shape, dtype=bool)
    while np.any(active):
        term = np.where(active, term * y / (x + k), 0.0)
        total += term
        k += 1
        # Terms fall geometrically once x + k > y; stop when negligible.
        active &= ~((term <= total * 1e-17) & (x + k > y))
    return total
