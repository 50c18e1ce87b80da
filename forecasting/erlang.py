"""Erlang B and Erlang C (M/M/n) maths, vectorised over numpy arrays.

Conventions: ``traffic`` is the offered load in Erlangs (calls per second
times average handle time), ``agents`` a whole number of agents on the phones.
Every function broadcasts its arguments. With ``agents <= traffic`` the queue
is unstable: the probability of waiting is 1, the service level 0 and the
ASA infinite (never NaN, never negative).

``required_agents`` finds the smallest agent count meeting every target. It
is exact: it starts from a square-root-staffing guess, evaluates Erlang B
there exactly (incomplete gamma function), then walks up with the stable
forward recurrence ``B(n+1) = a B(n) / (n + 1 + a B(n))``. When the guess
already meets the target it restarts from the smallest admissible count, so a
valid count is never skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from forecasting.errors import InvalidInput
from forecasting.gamma_terms import FloatArray, log_inverse_erlang_b

IntArray = NDArray[np.int64]

#: Fractions (shrinkage, occupancy) are taken to 6 decimal places, exactly.
FRACTION_SCALE = 1_000_000


def _floats(name: str, value: ArrayLike) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise InvalidInput(f"{name} must be a finite number", field=name)
    return arr


def _check(name: str, ok: NDArray[np.bool_] | bool, expected: str) -> None:
    if not np.all(ok):
        raise InvalidInput(f"{name} must be {expected}", field=name)


def traffic_erlangs(
    calls: ArrayLike, interval_seconds: ArrayLike, aht_seconds: ArrayLike
) -> FloatArray:
    """Offered load in Erlangs: ``calls * aht / interval``."""
    c = _floats("calls", calls)
    i = _floats("interval_seconds", interval_seconds)
    h = _floats("aht_seconds", aht_seconds)
    _check("calls", c >= 0, ">= 0")
    _check("interval_seconds", i > 0, "> 0")
    _check("aht_seconds", h > 0, "> 0")
    # Multiply first: 100 * 180 / 1800 is exactly 10.
    return np.asarray(c * h / i, dtype=np.float64)


def _agents_traffic(agents: ArrayLike, traffic: ArrayLike) -> tuple[FloatArray, FloatArray]:
    n = _floats("agents", agents)
    a = _floats("traffic", traffic)
    _check("agents", (n >= 0) & (n == np.floor(n)), "a whole number >= 0")
    _check("traffic", a >= 0, ">= 0")
    n, a = np.broadcast_arrays(n, a)
    return n, a


def erlang_b(agents: ArrayLike, traffic: ArrayLike) -> FloatArray:
    """Blocking probability of M/M/n/n (Erlang B)."""
    n, a = _agents_traffic(agents, traffic)
    out = np.where(n == 0, 1.0, 0.0)
    pos = (a > 0) & (n > 0)
    if np.any(pos):
        out[pos] = np.exp(-log_inverse_erlang_b(n[pos], a[pos]))
    return out


def _erlang_c_from_b(n: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray:
    stable = n > a
    with np.errstate(divide="ignore", invalid="ignore"):
        c = n * b / (n - a * (1.0 - b))
    return np.where(stable, np.clip(c, 0.0, 1.0), 1.0)


def erlang_c(agents: ArrayLike, traffic: ArrayLike) -> FloatArray:
    """Probability that a caller waits (Erlang C); 1 when ``agents <= traffic``.

    Zero traffic gives 0 (nobody ever waits), even with zero agents.
    """
    n, a = _agents_traffic(agents, traffic)
    c = _erlang_c_from_b(n, a, erlang_b(n, a))
    return np.where(a == 0, 0.0, c)


def _sl_from_c(n: FloatArray, a: FloatArray, c: FloatArray, tau: FloatArray) -> FloatArray:
    with np.errstate(over="ignore"):
        sl = 1.0 - c * np.exp(-(n - a) * tau)
    return np.where(n > a, np.clip(sl, 0.0, 1.0), 0.0)


def service_level(
    agents: ArrayLike, traffic: ArrayLike, aht_seconds: ArrayLike, target_seconds: ArrayLike
) -> FloatArray:
    """Fraction of callers answered within ``target_seconds`` (Erlang C)."""
    n, a = _agents_traffic(agents, traffic)
    h = _floats("aht_seconds", aht_seconds)
    t = _floats("target_seconds", target_seconds)
    _check("aht_seconds", h > 0, "> 0")
    _check("target_seconds", t >= 0, ">= 0")
    c = _erlang_c_from_b(n, a, erlang_b(n, a))
    sl = _sl_from_c(n, a, c, t / h)
    return np.where(a == 0, 1.0, sl)


def asa_seconds(agents: ArrayLike, traffic: ArrayLike, aht_seconds: ArrayLike) -> FloatArray:
    """Average speed of answer in seconds (Erlang C); ``inf`` when unstable."""
    n, a = _agents_traffic(agents, traffic)
    h = _floats("aht_seconds", aht_seconds)
    _check("aht_seconds", h > 0, "> 0")
    c = _erlang_c_from_b(n, a, erlang_b(n, a))
    with np.errstate(divide="ignore", invalid="ignore"):
        asa = c * h / (n - a)
    return np.where(a == 0, 0.0, np.where(n > a, asa, np.inf))


def occupancy(agents: ArrayLike, traffic: ArrayLike) -> FloatArray:
    """Fraction of agent time spent handling calls: ``traffic / agents``, at most 1."""
    n, a = _agents_traffic(agents, traffic)
    with np.errstate(divide="ignore", invalid="ignore"):
        occ = np.minimum(a / n, 1.0)
    return np.where(a == 0, 0.0, occ)


def fraction_units(name: str, value: ArrayLike, *, allow_one: bool) -> IntArray:
    """A fraction as an exact integer count of millionths (0.3 -> 300000)."""
    f = _floats(name, value)
    top = 1.0 if allow_one else 1.0 - 0.5 / FRACTION_SCALE
    _check(name, (f >= 0) & (f <= top), "between 0 and 1" + ("" if allow_one else " (below 1)"))
    return np.asarray(np.rint(f * FRACTION_SCALE), dtype=np.int64)


def scheduled_agents(agents: ArrayLike, shrinkage: ArrayLike) -> IntArray:
    """Agents to schedule so that ``agents`` remain after shrinkage.

    Integer-exact: the shrinkage is taken to six decimals, so 21 agents at
    30% shrinkage gives ``ceil(21 / 0.7) = 30``, not the 31 a float division
    (30.000000000000004) would give.
    """
    n = np.asarray(agents)
    _check("agents", (n >= 0) & (n == np.floor(n)), "a whole number >= 0")
    units = fraction_units("shrinkage", shrinkage, allow_one=False)
    keep = FRACTION_SCALE - units
    n_int = np.asarray(n, dtype=np.int64)
    return np.asarray(-((-n_int * FRACTION_SCALE) // keep), dtype=np.int64)


def occupancy_floor(traffic: FloatArray, max_occupancy: ArrayLike) -> IntArray:
    """Smallest agent count with ``traffic / agents <= max_occupancy``."""
    units = fraction_units("max_occupancy", max_occupancy, allow_one=True)
    _check("max_occupancy", units > 0, "> 0")
    ratio = traffic * FRACTION_SCALE / units
    k = np.ceil(ratio)
    # ratio is a correctly rounded quotient; treat a hair above an integer as
    # that integer (8.5 at 85% must give 10, never 11).
    k = np.where((k - 1.0 >= ratio * (1.0 - 1e-13)) & (k >= 1.0), k - 1.0, k)
    return np.asarray(k, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Targets:
    """What a staffing level must achieve. ``None`` means no such target.

    Every field is a number or an array that broadcasts against the traffic
    (one target per queue, per interval, ...). An ASA target of ``inf`` means
    "no ASA target" for that element; a service-level target of 0 is always met.
    """

    service_level: ArrayLike | None = 0.8
    target_seconds: ArrayLike = 120.0
    asa_seconds: ArrayLike | None = None
    max_occupancy: ArrayLike = 1.0

    def validate(self) -> None:
        """Raise :class:`InvalidInput` for an impossible or meaningless target."""
        if self.service_level is not None:
            sl = np.asarray(self.service_level, dtype=np.float64)
            if not np.all((sl >= 0.0) & (sl < 1.0)):
                raise InvalidInput(
                    "service level target must be at least 0 and below 1 (e.g. 0.8)",
                    field="service_level",
                )
        t = np.asarray(self.target_seconds, dtype=np.float64)
        if not np.all(np.isfinite(t) & (t >= 0)):
            raise InvalidInput("target seconds must be >= 0", field="target_seconds")
        if self.asa_seconds is not None:
            asa = np.asarray(self.asa_seconds, dtype=np.float64)
            if not np.all(asa > 0):  # NaN fails too; inf means "no ASA target"
                raise InvalidInput("ASA target must be > 0 seconds", field="asa_seconds")
        occ = np.asarray(self.max_occupancy, dtype=np.float64)
        if not np.all((occ > 0.0) & (occ <= 1.0)):
            raise InvalidInput("max occupancy must be above 0 and at most 1", field="max_occupancy")


@dataclass(frozen=True, slots=True)
class _Flat:
    """Targets broadcast and flattened to the busy elements of a search."""

    sl: FloatArray | None
    asa: FloatArray | None
    tau: FloatArray
    h: FloatArray

    def take(self, idx: NDArray[np.intp]) -> _Flat:
        return _Flat(
            None if self.sl is None else self.sl[idx],
            None if self.asa is None else self.asa[idx],
            self.tau[idx],
            self.h[idx],
        )


def _hw_beta(sqrt_a: FloatArray, t: _Flat) -> FloatArray:
    """Square-root staffing guess ``beta`` with ``n ~ a + beta sqrt(a)``.

    Halfin-Whitt: ``C ~ 1 / (1 + beta Phi(beta) / phi(beta))``. A few Newton
    steps on the log target; only a starting point, correctness does not
    depend on it.
    """
    beta = np.zeros_like(sqrt_a)
    # (slope of the exp term, log goal, whether the ASA's 1/beta factor applies)
    goals: list[tuple[FloatArray, FloatArray, bool]] = []
    if t.sl is not None:
        with np.errstate(divide="ignore"):
            log_goal = -np.log1p(-t.sl)
        goals.append((sqrt_a * t.tau, np.maximum(log_goal, 1e-12), False))
    if t.asa is not None:
        with np.errstate(divide="ignore"):
            log_goal = np.log(t.h / (t.asa * sqrt_a))
        goals.append((np.zeros_like(sqrt_a), log_goal, True))
    for k, log_goal, asa in goals:
        b = np.full_like(sqrt_a, 1.0)
        for _ in range(_NEWTON_STEPS):
            h = np.sqrt(2.0 * np.pi) * special.ndtr(b) * np.exp(0.5 * b * b)
            one_bh = 1.0 + b * h
            f = np.log(one_bh) + b * k - log_goal
            df = (h + b * (1.0 + b * h)) / one_bh + k
            if asa:
                f = f + np.log(b)
                df = df + 1.0 / b
            b = np.clip(b - f / df, 1e-3, 30.0)
        beta = np.maximum(beta, np.where(np.isfinite(log_goal), b, 0.0))
    return beta


def required_agents(
    traffic: ArrayLike, aht_seconds: ArrayLike, targets: Targets | None = None
) -> IntArray:
    """Smallest agent counts meeting ``targets`` (Erlang C), one per traffic value.

    Broadcasts ``traffic``, ``aht_seconds`` and every field of ``targets``
    over any shape (queues x intervals with one target per queue, ...); the
    result has the broadcast shape. Zero traffic needs 0 agents. Otherwise the
    count is above the traffic (stable queue), at least ``traffic /
    max_occupancy``, and meets the service-level and ASA targets that are set.
    Exact for any load: the answer equals an arbitrary-precision search from
    0.01 to 10,000 Erlangs.
    """
    targets = targets if targets is not None else Targets()
    targets.validate()
    a_in = _floats("traffic", traffic)
    h_in = _floats("aht_seconds", aht_seconds)
    _check("traffic", a_in >= 0, ">= 0")
    _check("aht_seconds", h_in > 0, "> 0")
    parts: list[ArrayLike] = [a_in, h_in, targets.target_seconds, targets.max_occupancy]
    if targets.service_level is not None:
        parts.append(targets.service_level)
    if targets.asa_seconds is not None:
        parts.append(targets.asa_seconds)
    arrays = [np.asarray(v, dtype=np.float64) for v in parts]
    shape = np.broadcast_shapes(*(x.shape for x in arrays))
    flat = [np.broadcast_to(x, shape).ravel() for x in arrays]
    a, h, t_sec, occ = flat[:4]
    rest = flat[4:]
    sl = rest.pop(0) if targets.service_level is not None else None
    asa = rest.pop(0) if targets.asa_seconds is not None else None
    result = np.zeros(a.shape, dtype=np.int64)
    busy = np.flatnonzero(a > 0)
    if busy.size:
        t = _Flat(sl, asa, t_sec / h, h).take(busy)
        result[busy] = _search(a[busy], t, occ[busy])
    return result.reshape(shape)


def _meets(n: FloatArray, a: FloatArray, c: FloatArray, t: _Flat) -> NDArray[np.bool_]:
    ok = n > a
    if t.sl is not None:
        ok &= _sl_from_c(n, a, c, t.tau) >= t.sl
    if t.asa is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            ok &= c * t.h / (n - a) <= t.asa
    return ok


def _search(a: FloatArray, t: _Flat, max_occupancy: FloatArray) -> IntArray:
    lo = np.floor(a) + 1.0
    lo = np.maximum(lo, occupancy_floor(a, max_occupancy).astype(np.float64))
    beta = _hw_beta(np.sqrt(a), t)
    n = np.maximum(lo, np.rint(a + beta * np.sqrt(a)))

    b = np.exp(-log_inverse_erlang_b(n, a))
    ok = _meets(n, a, _erlang_c_from_b(n, a, b), t)
    # The guess may already meet the target: step down with the backward
    # recurrence B(n - 1) = n B(n) / (a (1 - B(n))) while it still does (a
    # few steps; its error grows by 1 / (1 - B) per step, far below what
    # matters), then restart at the floor whatever is still above it.
    down = np.flatnonzero(ok & (n > lo))
    for _ in range(_DOWN_STEPS):
        if not down.size:
            break
        nd = n[down] - 1.0
        ad, bd = a[down], b[down]
        with np.errstate(divide="ignore", invalid="ignore"):
            b_prev = np.minimum(n[down] * bd / (ad * (1.0 - bd)), 1.0)
        still = _meets(nd, ad, _erlang_c_from_b(nd, ad, b_prev), t.take(down))
        moved = down[still]
        n[moved] = nd[still]
        b[moved] = b_prev[still]
        down = moved[n[moved] > lo[moved]]
    if down.size:
        n[down] = lo[down]
        b[down] = np.exp(-log_inverse_erlang_b(n[down], a[down]))
        c_o = _erlang_c_from_b(n[down], a[down], b[down])
        ok[down] = _meets(n[down], a[down], c_o, t.take(down))

    idx = np.flatnonzero(~ok)
    while idx.size:
        ai, bi = a[idx], b[idx]
        ni = n[idx] + 1.0
        bi = ai * bi / (ni + ai * bi)
        n[idx] = ni
        b[idx] = bi
        done = _meets(ni, ai, _erlang_c_from_b(ni, ai, bi), t.take(idx))
        idx = idx[~done]
    return np.asarray(n, dtype=np.int64)


#: steps the search walks down from a guess that already meets the target
_DOWN_STEPS = 3
#: Newton steps of the square-root-staffing guess (the walk corrects it)
_NEWTON_STEPS = 2
