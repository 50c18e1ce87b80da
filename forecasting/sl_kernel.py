"""The service-level search's fast path, compiled with numba.

A count ``n`` meets a service-level target when ``C(n) exp(-(n - a) tau) <=
g`` (``g = 1 - SL``, ``tau = target / AHT``), i.e. when ``q = n E / (g D) <= 1``
with ``E = exp(-(n - a) tau)`` and ``D = (n - a) / B + a``. For every element
:func:`search` makes the square-root-staffing guess (Halfin-Whitt, with ``log(1
+ beta Phi / phi)`` replaced by its quadratic), evaluates ``1 / B`` there with
Temme's uniform expansion of the incomplete gamma function, and walks one agent
at a time with the exact recurrences of Erlang B (down while the count below
still meets, up until a count meets).

A count is decided only when ``q`` is further from 1 than the error bound of
the expansion (:func:`error_bound`, checked against arbitrary precision in the
tests) and of the steps; otherwise the element is marked UNSURE and the caller
decides it with the exact search, so the answer is exact.

The loop is split into simple stages (arithmetic, then ``log``, arithmetic,
then ``exp``) that the compiler vectorises, which is what makes it several
times faster than the same maths as a sequence of numpy calls. Compiled once per
machine (``cache=True``: ``__pycache__`` beside this file, or the user's cache
when that is read-only), loaded in about half a second after that. Only
``forecasting.erlang`` imports this module, on first use.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray
from scipy import special

from forecasting.gamma_terms import FloatArray, stirling_error

#: what :func:`search` writes per element into ``outcome``
DECIDED, WALKED, UNSURE = 0, 1, 2

# Temme's uniform expansion of the incomplete gamma function (DLMF 8.12.3-8.12.10):
# Q(s, x) = erfc(eta sqrt(s/2)) / 2 + exp(-s eta^2 / 2) / sqrt(2 pi s) sum_k c_k(eta) s^-k,
# lambda = x / s, eta^2 / 2 = lambda - 1 - log(lambda), eta of the sign of lambda - 1.
# With s = n + 1 this gives 1/B = e^a a^-n n! Q(n + 1, a)
#   = lambda Gamma*(s) [sqrt(pi s / 2) erfcx(eta sqrt(s / 2)) + c_0 + c_1 / s + c_2 / s^2].
# Near eta = 0 the closed forms of c_0 and c_1 cancel; their Taylor coefficients
# there (Temme 1979; the table of DiDonato and Morris, also in Cephes' igam.h):
C0_NEAR = (-1.0 / 3.0, 1.0 / 12.0, -2.0 / 135.0, 1.0 / 864.0)
C1_NEAR = (-1.0 / 540.0, -1.0 / 288.0, 1.0 / 378.0)
C2_NEAR = (25.0 / 6048.0, -139.0 / 51840.0, 1.0 / 1296.0)
#: below this |eta| the Taylor forms of c_0 and c_1 are used: above it the closed
#: forms lose at most 3e-16 / |eta|^5 to cancellation, below it the first four and
#: three Taylor terms are within 1e-10 (both relative to the bracket, over s)
ETA_NEAR = 0.02
SQRT_HALF_PI = math.sqrt(0.5 * math.pi)
SQRT2 = math.sqrt(2.0)
#: Gamma*(s) = Gamma(s) e^s s^(1/2 - s) / sqrt(2 pi) for s = 1, 2, ... (index s - 1)
GAMMA_STAR_TABLE_SIZE = 4096
# erfcx(-x) on [0, ERFCX_TOP] as Taylor polynomials about the points i / ERFCX_STEPS,
# from y' = 2 x y + 2 / sqrt(pi) (so y^(k+1) = 2 k y^(k-1) + 2 x y^(k)). With
# |dx| <= 1 / 2048 the first omitted term is below (2 x dx)^4 / 24 <= 5e-11 relative.
ERFCX_STEPS = 1024
ERFCX_TOP = 6.0
ERFCX_ORDER = 3
ERFCX_LAST = int(ERFCX_TOP * ERFCX_STEPS)


def _gamma_star_table() -> FloatArray:
    s = np.arange(1, GAMMA_STAR_TABLE_SIZE + 1, dtype=np.float64)
    # Stirling's series from 10 on (no cancellation), the direct form below
    out = np.exp(stirling_error(np.maximum(s, 10.0)))
    small = s < 10.0
    xs = s[small]
    out[small] = np.exp(
        special.gammaln(xs) + xs - (xs - 0.5) * np.log(xs) - 0.5 * np.log(2 * np.pi)
    )
    return np.asarray(out, dtype=np.float64)


def _erfcx_neg_table() -> FloatArray:
    x = np.arange(ERFCX_LAST + 1, dtype=np.float64) / ERFCX_STEPS
    deriv = [special.erfcx(-x)]
    deriv.append(2.0 * x * deriv[0] + 2.0 / np.sqrt(np.pi))
    for k in range(1, ERFCX_ORDER):
        deriv.append(2.0 * k * deriv[k - 1] + 2.0 * x * deriv[k])
    coef = [d / math.factorial(k) for k, d in enumerate(deriv)]
    return np.ascontiguousarray(np.stack(coef), dtype=np.float64)


GSTAR = _gamma_star_table()
ERFCX_NEG = _erfcx_neg_table()


@njit(cache=True, nogil=True, error_model="numpy")
def error_bound(n: float) -> float:
    """Bound on the relative error of :func:`inverse_b` at ``n`` agents.

    The truncated series is good to about ``1e-4 / s^3`` (``s = n + 1``); the
    short Taylor forms near ``eta = 0``, the erfcx table and rounding add at
    most about ``2e-10 + 2e-17 s``. The bound is about ten times both.
    """
    s = n + 1.0
    return 1e-3 / (s * s * s) + (2e-9 + 2e-16 * s)


@njit(cache=True, nogil=True, error_model="numpy")
def _stirling_error(x: float) -> float:
    """``log Gamma*(x)`` for ``x >= 10`` (asymptotic series, 2e-14 absolute at 10)."""
    inv2 = 1.0 / (x * x)
    return (
        1.0 / 12.0
        - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 * (1.0 / 1680.0 - inv2 / 1188.0)))
    ) / x


@njit(cache=True, nogil=True, error_model="numpy")
def _temme(n: float, lam: float, log_lam: float) -> tuple[float, float, float]:
    """``(x, c, sqrt(s))``: the erfcx argument ``-eta sqrt(s / 2)`` and the series.

    Branch-free (both forms of ``c_0, c_1`` are computed and one is selected),
    so a loop over it vectorises. Requires ``lam = a / (n + 1) < 1``.
    """
    s = n + 1.0
    v = lam - 1.0
    root_h = math.sqrt(v - log_lam)  # eta^2 / 2 = lambda - 1 - log(lambda)
    eta = root_h * -SQRT2
    iv = 1.0 / v
    ie = 1.0 / eta
    c0_far = iv - ie
    c1_far = ie * ie * ie - ((iv + 1.0) * iv + 1.0 / 12.0) * iv
    c0_near = ((C0_NEAR[3] * eta + C0_NEAR[2]) * eta + C0_NEAR[1]) * eta + C0_NEAR[0]
    c1_near = (C1_NEAR[2] * eta + C1_NEAR[1]) * eta + C1_NEAR[0]
    near = eta > -ETA_NEAR
    c0 = c0_near if near else c0_far
    c1 = c1_near if near else c1_far
    c2 = (eta * C2_NEAR[2] + C2_NEAR[1]) * eta + C2_NEAR[0]
    inv_s = 1.0 / s
    root_s = math.sqrt(s)
    return root_h * root_s, (c2 * inv_s + c1) * inv_s + c0, root_s


@njit(cache=True, nogil=True, error_model="numpy")
def _erfcx_table(x: float, table: FloatArray) -> float:
    """``erfcx(-x)`` from the Taylor table (``x`` clipped to its top)."""
    j = min(math.floor(x * ERFCX_STEPS + 0.5), ERFCX_LAST)
    dx = x - j * (1.0 / ERFCX_STEPS)
    k = int(j)
    y: float = ((table[3, k] * dx + table[2, k]) * dx + table[1, k]) * dx + table[0, k]
    return y


@njit(cache=True, nogil=True, error_model="numpy")
def inverse_b(n: float, a: float, gstar: FloatArray, erfcx: FloatArray) -> float:
    """``1 / B(n, a)`` by the expansion, for whole ``n`` with ``n + 1 > a > 0``.

    Relative error below :func:`error_bound`; ``inf`` where ``1/B`` is beyond
    double precision.
    """
    lam = a / (n + 1.0)
    x, c, root_s = _temme(n, lam, math.log(lam))
    e = math.exp(x * x) * math.erfc(-x) if x > ERFCX_TOP else _erfcx_table(x, erfcx)
    gs: float
    if n < GAMMA_STAR_TABLE_SIZE:
        gs = gstar[int(n)]
    else:
        gs = math.exp(_stirling_error(n + 1.0))
    return _assemble(e, c, root_s, gs, lam)


@njit(cache=True, nogil=True, error_model="numpy")
def _assemble(e: float, c: float, root_s: float, gs: float, lam: float) -> float:
    """``1/B = lambda Gamma*(s) [sqrt(pi s / 2) erfcx(-x) + c]`` from its parts."""
    return (e * (root_s * SQRT_HALF_PI) + c) * gs * lam


@njit(cache=True, nogil=True, error_model="numpy")
def inverse_b_many(
    n: FloatArray, a: FloatArray, gstar: FloatArray, erfcx: FloatArray, out: FloatArray
) -> None:
    """:func:`inverse_b` elementwise into ``out`` (1-D arrays of one size), in stages.

    The logarithms in a loop of their own; the expansion's arithmetic and the
    table lookups in branch-free loops that the compiler vectorises; then the
    scalar form for the few elements beyond the tables.
    """
    size = n.size
    lam = np.empty(size)
    log_lam = np.empty(size)
    x = np.empty(size)
    c = np.empty(size)
    root_s = np.empty(size)
    for i in range(size):
        lam[i] = a[i] / (n[i] + 1.0)
    for i in range(size):
        log_lam[i] = math.log(lam[i])
    for i in range(size):
        x[i], c[i], root_s[i] = _temme(n[i], lam[i], log_lam[i])
    far = False
    for i in range(size):
        far |= (x[i] > ERFCX_TOP) | (n[i] >= GAMMA_STAR_TABLE_SIZE)
        gs = gstar[int(min(n[i], GAMMA_STAR_TABLE_SIZE - 1))]
        out[i] = _assemble(_erfcx_table(x[i], erfcx), c[i], root_s[i], gs, lam[i])
    if far:
        for i in range(size):
            if x[i] > ERFCX_TOP or n[i] >= GAMMA_STAR_TABLE_SIZE:
                out[i] = inverse_b(n[i], a[i], gstar, erfcx)


@njit(cache=True, nogil=True, error_model="numpy")
def _ratio(n: float, a: float, inv_b: float, e: float, g: float) -> float:
    """``C(n) E / g`` with ``E = exp(-(n - a) tau)`` given: the count meets when at most 1."""
    return n * e / (g * ((n - a) * inv_b + a))


@njit(cache=True, nogil=True, error_model="numpy")
def _q(n: float, a: float, inv_b: float, tau: float, g: float) -> float:
    """:func:`_ratio`, with ``E`` worked out here."""
    return _ratio(n, a, inv_b, math.exp(-(n - a) * tau), g)


@njit(cache=True, nogil=True, error_model="numpy")
def search(
    a: FloatArray,
    tau: FloatArray,
    g: FloatArray,
    log_goal: FloatArray,
    lo: FloatArray,
    slope: float,
    extra_tolerance: float,
    walk_steps: int,
    rounding: float,
    gstar: FloatArray,
    erfcx: FloatArray,
    out: NDArray[np.int64],
    outcome: NDArray[np.int8],
) -> int:
    """Fill ``out`` with the smallest count meeting ``C exp(-(n - a) tau) <= g``.

    1-D arrays of one size: traffic ``a > 0``, ``tau``, ``g = 1 - SL``,
    ``log_goal = -log(g)`` and the floor ``lo > a`` (stability, occupancy).
    ``outcome`` gets DECIDED (at the guess), WALKED or UNSURE per element;
    where UNSURE, ``out`` is meaningless and the caller decides exactly.
    Returns the number of UNSURE elements. ``slope`` is the guess's
    ``sqrt(pi / 2)``, ``extra_tolerance`` is added to every error bound, a
    walk takes at most ``walk_steps`` and adds ``rounding`` of relative error
    per step.
    """
    size = a.size
    guess = np.empty(size)
    inv_b = np.empty(size)
    expo = np.empty(size)
    q = np.empty(size)
    tol = np.empty(size)
    # the guess n ~ a + beta sqrt(a), beta = 2 (sqrt(k^2 + G) - k), k = slope + sqrt(a) tau
    for i in range(size):
        sqrt_a = math.sqrt(a[i])
        k = slope + sqrt_a * tau[i]
        n = math.ceil(a[i] + 2.0 * sqrt_a * (math.sqrt(k * k + log_goal[i]) - k))
        n = max(n, lo[i])
        guess[i] = n
        expo[i] = (a[i] - n) * tau[i]
    inverse_b_many(guess, a, gstar, erfcx, inv_b)
    for i in range(size):
        expo[i] = math.exp(expo[i])
    for i in range(size):
        n = guess[i]
        q[i] = _ratio(n, a[i], inv_b[i], expo[i], g[i])
        tol[i] = 2.0 * error_bound(n) + extra_tolerance
    unsure = 0
    for i in range(size):
        n = guess[i]
        if q[i] <= 1.0 - tol[i]:
            if n - 1.0 < lo[i]:
                state = DECIDED
            else:
                state, n = _walk_down(
                    n, a[i], tau[i], g[i], lo[i], inv_b[i], tol[i], walk_steps, rounding
                )
        elif q[i] > 1.0 + tol[i]:
            state, n = _walk_up(n, a[i], tau[i], g[i], inv_b[i], tol[i], walk_steps, rounding)
        else:
            state = UNSURE
        out[i] = int(n)
        outcome[i] = state
        unsure += state == UNSURE
    return unsure


@njit(cache=True, nogil=True, error_model="numpy")
def _walk_down(
    n: float,
    a: float,
    tau: float,
    g: float,
    floor: float,
    inv_b: float,
    tol: float,
    steps: int,
    rounding: float,
) -> tuple[int, float]:
    """From a count that meets, step down while the one below still meets: (state, n).

    ``1/B(n - 1) = (1/B(n) - 1) a / n``: its relative error is at most twice
    the one it inherits (``1/B >= 2`` above the load).
    """
    state = DECIDED
    for _ in range(steps):
        if n - 1.0 < floor:
            return state, n
        below = n - 1.0
        inv_below = (inv_b - 1.0) * (a / n)
        tol = 2.0 * tol + rounding
        q = _q(below, a, inv_below, tau, g)
        if q > 1.0 + tol:
            return state, n
        if not q <= 1.0 - tol:
            return UNSURE, n
        n, inv_b, state = below, inv_below, WALKED
    return (state if n - 1.0 < floor else UNSURE), n


@njit(cache=True, nogil=True, error_model="numpy")
def _walk_up(
    n: float, a: float, tau: float, g: float, inv_b: float, tol: float, steps: int, rounding: float
) -> tuple[int, float]:
    """From a count that fails, step up until one meets: (state, n).

    ``1/B(n + 1) = 1 + 1/B(n) (n + 1) / a`` adds a positive exact term, so the
    relative error does not grow beyond rounding.
    """
    for _ in range(steps):
        n += 1.0
        inv_b = 1.0 + inv_b * (n / a)
        tol += rounding
        q = _q(n, a, inv_b, tau, g)
        if q <= 1.0 - tol:
            return WALKED, n
        if not q > 1.0 + tol:
            return UNSURE, n
    return UNSURE, n
