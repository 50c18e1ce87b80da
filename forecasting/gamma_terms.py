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


# Temme's uniform expansion of the incomplete gamma function (DLMF 8.12.3-8.12.10):
# Q(s, x) = erfc(eta sqrt(s/2)) / 2 + exp(-s eta^2 / 2) / sqrt(2 pi s) sum_k c_k(eta) s^-k,
# lambda = x / s, eta^2 / 2 = lambda - 1 - log(lambda), eta of the sign of lambda - 1.
# Near eta = 0 the closed forms of c_0 and c_1 cancel; their Taylor coefficients
# there (Temme 1979; the table of DiDonato and Morris, also in Cephes' igam.h):
_C0_NEAR = (-1.0 / 3.0, 1.0 / 12.0, -2.0 / 135.0, 1.0 / 864.0)
_C1_NEAR = (-1.0 / 540.0, -1.0 / 288.0, 1.0 / 378.0)
_C2_NEAR = (25.0 / 6048.0, -139.0 / 51840.0, 1.0 / 1296.0)
#: below this |eta| the Taylor forms of c_0 and c_1 are used: above it the closed
#: forms lose at most 3e-16 / |eta|^5 to cancellation, below it the first four and
#: three Taylor terms are within 1e-10 (both relative to the bracket, over s)
_ETA_NEAR = 0.02
_SQRT_HALF_PI = float(np.sqrt(0.5 * np.pi))
#: Gamma*(s) = Gamma(s) e^s s^(1/2 - s) / sqrt(2 pi) for s = 1, 2, ... (index s - 1)
GAMMA_STAR_TABLE_SIZE = 4096


def _gamma_star_table() -> FloatArray:
    s = np.arange(1, GAMMA_STAR_TABLE_SIZE + 1, dtype=np.float64)
    out = np.exp(stirling_error(np.maximum(s, _STIRLING_FROM)))
    small = s < _STIRLING_FROM
    xs = s[small]
    out[small] = np.exp(special.gammaln(xs) + xs - (xs - 0.5) * np.log(xs) - _HALF_LOG_2PI)
    return np.asarray(out, dtype=np.float64)


# erfcx(-x) on [0, _ERFCX_TOP] as Taylor polynomials about the points i / _ERFCX_STEPS,
# from y' = 2 x y + 2 / sqrt(pi) (so y^(k+1) = 2 k y^(k-1) + 2 x y^(k)). With
# |dx| <= 1 / 2048 the first omitted term is below (2 x dx)^4 / 24 <= 5e-11 relative;
# four table lookups and three multiply-adds cost less than scipy's erfcx.
_ERFCX_STEPS = 1024
_ERFCX_TOP = 6.0
_ERFCX_ORDER = 3


def _erfcx_neg_table() -> FloatArray:
    x = np.arange(int(_ERFCX_TOP * _ERFCX_STEPS) + 1, dtype=np.float64) / _ERFCX_STEPS
    deriv = [special.erfcx(-x)]
    deriv.append(2.0 * x * deriv[0] + 2.0 / np.sqrt(np.pi))
    for k in range(1, _ERFCX_ORDER):
        deriv.append(2.0 * k * deriv[k - 1] + 2.0 * x * deriv[k])
    coef = [d / float(np.prod(np.arange(1, k + 1))) for k, d in enumerate(deriv)]
    return np.ascontiguousarray(np.stack(coef), dtype=np.float64)


_GSTAR = _gamma_star_table()
_ERFCX_NEG = _erfcx_neg_table()


def erfcx_neg(
    x: FloatArray, out: FloatArray | None = None, scratch: FloatArray | None = None
) -> FloatArray:
    """``erfcx(-x) = exp(x^2) erfc(-x)`` for ``x >= 0``, to about 1e-10 relative.

    ``out`` (shape of ``x``) receives the result; ``scratch`` is two more rows
    of that shape to work in.
    """
    x = np.asarray(x, dtype=np.float64)
    if scratch is None:
        scratch = np.empty((2, *x.shape))
    j, dx = scratch[0], scratch[1]
    np.multiply(x, float(_ERFCX_STEPS), out=j)
    np.rint(j, out=j)
    np.multiply(j, -1.0 / _ERFCX_STEPS, out=dx)
    dx += x
    far = bool(x.size) and float(x.max()) > _ERFCX_TOP
    if far:
        np.minimum(j, _ERFCX_NEG.shape[1] - 1, out=j)
    idx = j.astype(np.intp)
    y = np.take(_ERFCX_NEG[_ERFCX_ORDER], idx, out=out)
    for k in range(_ERFCX_ORDER - 1, -1, -1):
        y *= dx
        y += np.take(_ERFCX_NEG[k], idx, out=j)
    if far:
        beyond = x > _ERFCX_TOP
        with np.errstate(over="ignore"):
            y[beyond] = special.erfcx(-x[beyond])
    return y


def gamma_star_index(n: FloatArray) -> NDArray[np.intp]:
    """Row of the ``Gamma*`` table for ``n`` agents (clipped; see ``inverse_erlang_b_uniform``)."""
    return np.minimum(n, GAMMA_STAR_TABLE_SIZE - 1).astype(np.intp)


#: rows of scratch space ``inverse_erlang_b_uniform`` works in
UNIFORM_SCRATCH_ROWS = 8


def inverse_erlang_b_uniform(
    n: FloatArray,
    a: FloatArray,
    index: NDArray[np.intp] | None = None,
    out: FloatArray | None = None,
    scratch: FloatArray | None = None,
) -> FloatArray:
    """``1 / B(n, a)`` from Temme's uniform expansion, for whole ``n >= 1`` and ``0 < a < n + 1``.

    ``1/B = e^a a^-n n! Q(n + 1, a)``; with ``s = n + 1`` this is
    ``lambda Gamma*(s) [sqrt(pi s / 2) erfcx(eta sqrt(s / 2)) + c_0 + c_1 / s + c_2 / s^2]``:
    one logarithm, two square roots and table lookups per element instead of
    an incomplete gamma function. Not exact: the relative error is below
    :func:`uniform_erlang_b_error` (checked against the exact form on a dense
    grid in the tests), so callers decide only where the margin allows and use
    the exact form elsewhere. ``inf`` (or NaN, when ``a / (n + 1)`` underflows)
    where ``1/B`` is near or beyond double precision (above about ``1e260``).

    ``n`` and ``a`` are 1-D. ``index`` is ``gamma_star_index(n)`` when the
    caller has it; ``out`` receives the result; ``scratch`` is
    ``(UNIFORM_SCRATCH_ROWS, n.size)`` floats to work in (the caller's block,
    so that repeated calls do not allocate).
    """
    if scratch is None:
        scratch = np.empty((UNIFORM_SCRATCH_ROWS, n.size))
    if out is None:
        out = np.empty(n.size)
    w = scratch
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = np.add(n, 1.0, out=w[0])
        lam = np.divide(a, s, out=w[1])
        # log(lam), not log1p(v): lam can be far below 1 (v then rounds towards
        # -1); near lam = 1 the Taylor forms below need no accuracy from eta.
        root_h = np.log(lam, out=w[2])
        iv = np.subtract(lam, 1.0, out=w[3])  # v, then 1 / v
        np.subtract(iv, root_h, out=root_h)  # eta^2 / 2
        np.sqrt(root_h, out=root_h)
        eta = np.multiply(root_h, -np.sqrt(2.0), out=w[4])
        np.divide(1.0, iv, out=iv)
        ie = np.divide(1.0, eta, out=w[5])
        c0 = np.subtract(iv, ie, out=w[6])
        # c1 = 1/eta^3 - 1/v^3 - 1/v^2 - 1/(12 v)
        c1 = np.multiply(ie, ie, out=w[7])
        c1 *= ie
        np.add(iv, 1.0, out=ie)
        ie *= iv
        ie += 1.0 / 12.0
        ie *= iv
        c1 -= ie
        if eta.size and float(eta.max()) > -_ETA_NEAR:
            near = eta > -_ETA_NEAR
            e = eta[near]
            c0[near] = _horner(_C0_NEAR, e)
            c1[near] = _horner(_C1_NEAR, e)
        # c = c0 + (c1 + c2 / s) / s with c2 from its Taylor form
        c = np.multiply(eta, _C2_NEAR[2], out=w[5])
        c += _C2_NEAR[1]
        c *= eta
        c += _C2_NEAR[0]
        root_s = np.sqrt(s, out=w[4])
        inv = np.divide(1.0, s, out=w[0])
        c *= inv
        c += c1
        c *= inv
        c += c0
        root_h *= root_s  # -eta sqrt(s / 2)
        y = erfcx_neg(root_h, out=out, scratch=w[6:8])
        root_s *= _SQRT_HALF_PI
        y *= root_s
        y += c
    if index is None:
        index = gamma_star_index(n)
    y *= np.take(_GSTAR, index, out=w[0])
    if n.size and float(n.max()) >= GAMMA_STAR_TABLE_SIZE:
        big = n >= GAMMA_STAR_TABLE_SIZE
        y[big] *= np.exp(stirling_error(n[big] + 1.0)) / _GSTAR[-1]
    with np.errstate(invalid="ignore"):  # 0 * inf where a / s underflows
        y *= lam
    return y


def uniform_erlang_b_error(n: FloatArray) -> FloatArray:
    """Bound on the relative error of :func:`inverse_erlang_b_uniform` at ``n`` agents.

    The truncated series is good to about ``1e-4 / s^3`` (``s = n + 1``); the
    short Taylor forms near ``eta = 0``, the erfcx table and rounding add at
    most about ``2e-10 + 2e-17 s``. The bound is about ten times both.
    """
    s = n + 1.0
    return np.asarray(1e-3 / (s * s * s) + (2e-9 + 2e-16 * s), dtype=np.float64)


def _horner(coeffs: tuple[float, ...], x: FloatArray) -> FloatArray:
    out = np.full_like(x, coeffs[-1])
    for c in coeffs[-2::-1]:
        out = out * x + c
    return out
