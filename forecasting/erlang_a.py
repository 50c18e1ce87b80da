"""Erlang A (Palm's M/M/n+M queue): callers with exponential patience.

Notation after Mandelbaum and Zeltyn: ``x = n mu / theta``, ``y = lambda / theta``
(``mu = 1 / AHT``, ``theta = 1 / mean patience``) and
``A(x, y) = 1 + sum_{j>=1} y^j / prod_{k<=j} (x + k)``. With ``E`` the Erlang B
blocking probability of ``n`` agents:

- ``P(wait) = A E / (1 + (A - 1) E)``
- ``P(abandon | wait) = 1 - (x / y)(1 - 1 / A)``
- ``P(answered within t | wait) = P(answered | wait)
  - x / (x + 1) * exp(L(t)) * A(x + 1, y e^{-theta t}) / A(x, y)`` with
  ``L(t) = -theta t (x + 1) + y (1 - e^{-theta t})``
- mean wait of all callers ``= P(abandon) * patience`` (Little's law).

Everything is computed in log space (see :mod:`forecasting.gamma_terms`) so
thousands of agents neither overflow nor lose precision. Unlike Erlang C the
queue is stable at any staffing: callers who wait too long leave.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from forecasting.erlang import IntArray, fraction_units
from forecasting.errors import InvalidInput
from forecasting.gamma_terms import FloatArray, log_gamma_series, log_inverse_erlang_b


@dataclass(frozen=True, slots=True)
class ErlangAMetrics:
    """Predicted performance per element (all arrays of the broadcast shape)."""

    probability_wait: FloatArray
    probability_abandon: FloatArray
    #: answered within the target time / offered
    service_level: FloatArray
    #: mean wait of all callers, answered or not (seconds)
    mean_wait_seconds: FloatArray
    #: served load per agent
    occupancy: FloatArray


def _inputs(
    agents: ArrayLike, traffic: ArrayLike, aht: ArrayLike, patience: ArrayLike, target: ArrayLike
) -> tuple[FloatArray, ...]:
    arrs = [np.asarray(v, dtype=np.float64) for v in (agents, traffic, aht, patience, target)]
    names = ("agents", "traffic", "aht_seconds", "patience_seconds", "target_seconds")
    for name, arr in zip(names, arrs, strict=True):
        if not np.all(np.isfinite(arr)):
            raise InvalidInput(f"{name} must be a finite number", field=name)
    n, a, h, p, t = np.broadcast_arrays(*arrs)
    if not np.all((n >= 0) & (n == np.floor(n))):
        raise InvalidInput("agents must be a whole number >= 0", field="agents")
    if not np.all(a >= 0):
        raise InvalidInput("traffic must be >= 0", field="traffic")
    if not np.all(h > 0):
        raise InvalidInput("aht_seconds must be > 0", field="aht_seconds")
    if not np.all(p > 0):
        raise InvalidInput("patience_seconds must be > 0", field="patience_seconds")
    if not np.all(t >= 0):
        raise InvalidInput("target_seconds must be >= 0", field="target_seconds")
    return tuple(np.array(v, dtype=np.float64) for v in (n, a, h, p, t))


def _core(
    n: FloatArray, a: FloatArray, h: FloatArray, p: FloatArray, t: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """``(P(wait), P(abandon), SL, log A(x, y), x)`` for ``n >= 1`` and ``a > 0``."""
    x = n * p / h
    y = a * p / h
    log_inv_b = log_inverse_erlang_b(n, a)
    log_a, am1 = log_gamma_series(x, y)
    # P(wait) = 1 / (1 + (1/E - 1) / A), the ratio taken in logs.
    with np.errstate(over="ignore", divide="ignore"):
        log_ratio = log_inv_b + np.log(-np.expm1(-log_inv_b)) - log_a
        p_wait = 1.0 / (1.0 + np.exp(log_ratio))
    with np.errstate(invalid="ignore", over="ignore"):
        one_minus_inv_a = np.where(log_a > 1.0, -np.expm1(-log_a), am1 / (1.0 + am1))
    p_answer_w = np.clip((x / y) * one_minus_inv_a, 0.0, 1.0)
    p_abandon = p_wait * (1.0 - p_answer_w)

    theta_t = t / p
    z = y * np.exp(-theta_t)
    log_a1z, _ = log_gamma_series(x + 1.0, z)
    log_late = np.log(x / (x + 1.0)) - theta_t * (x + 1.0) - y * np.expm1(-theta_t)
    with np.errstate(over="ignore"):
        late = np.exp(log_late + log_a1z - log_a)
    within_w = np.clip(p_answer_w - late, 0.0, 1.0)
    sl = (1.0 - p_wait) + p_wait * within_w
    return p_wait, p_abandon, np.clip(sl, 0.0, 1.0), log_a, x


def erlang_a(
    agents: ArrayLike,
    traffic: ArrayLike,
    aht_seconds: ArrayLike,
    patience_seconds: ArrayLike,
    target_seconds: ArrayLike = 0.0,
) -> ErlangAMetrics:
    """Erlang A metrics; broadcasts every argument.

    Zero traffic: nobody waits, service level 1. Zero agents with traffic:
    everybody abandons.
    """
    n, a, h, p, t = _inputs(agents, traffic, aht_seconds, patience_seconds, target_seconds)
    p_wait = np.where(a > 0, 1.0, 0.0)
    p_ab = p_wait.copy()
    sl = np.where(a > 0, 0.0, 1.0)
    live = (n > 0) & (a > 0)
    if np.any(live):
        pw, pa, s, _, _ = _core(n[live], a[live], h[live], p[live], t[live])
        p_wait[live], p_ab[live], sl[live] = pw, pa, s
    with np.errstate(divide="ignore", invalid="ignore"):
        occ = np.where(n > 0, np.minimum(a * (1.0 - p_ab) / n, 1.0), 0.0)
    return ErlangAMetrics(
        probability_wait=p_wait,
        probability_abandon=p_ab,
        service_level=sl,
        mean_wait_seconds=p_ab * p,
        occupancy=occ,
    )


# Gauss-Legendre nodes on [0, 1], used on geometrically shrinking panels so
# both waits of a second and waits of an hour are integrated accurately.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)
_GL_X = 0.5 * (_GL_X + 1.0)
_GL_W = 0.5 * _GL_W
_PANELS = 48


def asa_seconds(
    agents: ArrayLike, traffic: ArrayLike, aht_seconds: ArrayLike, patience_seconds: ArrayLike
) -> FloatArray:
    """Average wait of answered callers (Erlang A), by quadrature.

    ``E[W; answered] = int_0^inf P(answered, wait > s) ds``, divided by
    ``P(answered)``. The integrand is ``P(wait) * (P(answered | wait) -
    P(answered within s | wait))``; it falls monotonically, and is below
    ``exp(-s / patience)``, so the range ``[0, 40 patience]`` split into panels
    ``[S 2^-k-1, S 2^-k]`` covers it to double precision.
    """
    n, a, h, p, _ = _inputs(agents, traffic, aht_seconds, patience_seconds, 0.0)
    out = np.zeros(n.shape)
    live = (n > 0) & (a > 0)
    if not np.any(live):
        return out
    nl, al, hl, pl = n[live], a[live], h[live], p[live]
    top = 40.0 * pl
    edges = top[:, None] * np.concatenate([2.0 ** -np.arange(_PANELS, -1, -1.0)])[None, :]
    edges[:, 0] = 0.0
    left, width = edges[:, :-1], np.diff(edges, axis=1)
    s = left[:, :, None] + width[:, :, None] * _GL_X[None, None, :]
    weights = width[:, :, None] * _GL_W[None, None, :]
    shape = s.shape
    rep = [np.broadcast_to(v[:, None, None], shape).ravel() for v in (nl, al, hl, pl)]
    _, pa, sl_s, _, _ = _core(rep[0], rep[1], rep[2], rep[3], s.ravel())
    # P(answered, wait > s) = P(answered) - P(answered within s)
    tail = np.clip((1.0 - pa) - sl_s, 0.0, None).reshape(shape)
    waited = (tail * weights).sum(axis=(1, 2))
    p_ans = 1.0 - pa.reshape(shape)[:, 0, 0]
    out[live] = np.where(p_ans > 0, waited / np.maximum(p_ans, 1e-300), np.inf)
    return out


def required_agents_erlang_a(
    traffic: ArrayLike,
    aht_seconds: ArrayLike,
    patience_seconds: ArrayLike,
    *,
    service_level: ArrayLike | None = 0.8,
    target_seconds: ArrayLike = 120.0,
    max_abandon: ArrayLike | None = None,
    max_occupancy: ArrayLike = 1.0,
) -> IntArray:
    """Smallest agent counts meeting the targets under Erlang A.

    ``service_level`` is answered within ``target_seconds`` / offered;
    ``max_abandon`` caps the probability of abandoning; ``max_occupancy``
    caps the served load per agent. Every argument broadcasts (one target per
    queue or interval). Offered calls always get at least one agent: a
    "recommendation" of nobody, with every caller abandoning, is never given.
    Exact over the integers: a galloping search then bisection on monotone
    metrics, from a lower bound that holds for any staffing (nobody can
    answer more than ``n / traffic`` of callers).
    """
    sl_in = None if service_level is None else np.asarray(service_level, dtype=np.float64)
    ab_in = None if max_abandon is None else np.asarray(max_abandon, dtype=np.float64)
    if sl_in is not None and not np.all((sl_in >= 0.0) & (sl_in < 1.0)):
        raise InvalidInput(
            "service level target must be at least 0 and below 1", field="service_level"
        )
    if ab_in is not None and not np.all((ab_in > 0.0) & (ab_in <= 1.0)):
        raise InvalidInput("max abandon must be above 0 and at most 1", field="max_abandon")
    t_in = np.asarray(target_seconds, dtype=np.float64)
    if not np.all(np.isfinite(t_in) & (t_in >= 0)):
        raise InvalidInput("target seconds must be >= 0", field="target_seconds")
    occ_units_in = fraction_units("max_occupancy", max_occupancy, allow_one=True)
    if not np.all(occ_units_in > 0):
        raise InvalidInput("max occupancy must be above 0 and at most 1", field="max_occupancy")
    _, a, h, p, t = _inputs(0.0, traffic, aht_seconds, patience_seconds, t_in)
    parts = [a, h, p, t, occ_units_in.astype(np.float64)]
    if sl_in is not None:
        parts.append(sl_in)
    if ab_in is not None:
        parts.append(ab_in)
    shape = np.broadcast_shapes(*(np.shape(x) for x in parts))
    flat = [np.broadcast_to(x, shape).ravel() for x in parts]
    a, h, p, t, occ_units = flat[:5]
    rest = flat[5:]
    sl = rest.pop(0) if sl_in is not None else None
    ab = rest.pop(0) if ab_in is not None else None

    def meets(n: FloatArray, idx: NDArray[np.intp]) -> NDArray[np.bool_]:
        m = erlang_a(n, a[idx], h[idx], p[idx], t[idx])
        ok = m.occupancy * 1_000_000 <= occ_units[idx] * (1.0 + 1e-13)
        if sl is not None:
            ok &= m.service_level >= sl[idx]
        if ab is not None:
            ok &= m.probability_abandon <= ab[idx]
        ok &= n >= 1.0
        return np.asarray(ok | (a[idx] == 0), dtype=np.bool_)

    floor_frac = np.zeros_like(a)
    if sl is not None:
        floor_frac = np.maximum(floor_frac, sl)
    if ab is not None:
        floor_frac = np.maximum(floor_frac, 1.0 - ab)
    lo = np.maximum(np.floor(a * floor_frac) - 1.0, 0.0)
    everyone = np.arange(a.size)
    ok_lo = meets(lo, everyone)
    # Invariant for the unresolved: `bad` fails, `good` meets.
    bad = lo.copy()
    good = np.where(ok_lo, lo, np.inf)
    step = np.ones_like(lo)
    idx = np.flatnonzero(~ok_lo)
    while idx.size:
        cand = bad[idx] + step[idx]
        ok = meets(cand, idx)
        good[idx[ok]] = cand[ok]
        bad[idx[~ok]] = cand[~ok]
        step[idx[~ok]] *= 2.0
        idx = idx[~ok]
    idx = np.flatnonzero(good - bad > 1.0)
    while idx.size:
        mid = np.floor((good[idx] + bad[idx]) / 2.0)
        ok = meets(mid, idx)
        good[idx[ok]] = mid[ok]
        bad[idx[~ok]] = mid[~ok]
        idx = idx[good[idx] - bad[idx] > 1.0]
    return np.asarray(good, dtype=np.int64).reshape(shape)
