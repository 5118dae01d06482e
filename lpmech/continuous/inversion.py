"""g(ω) = E[(b - ω·φ̄)_+] and its gradient for continuous types (not the grid's g).

One agent: closed form. Two agents: quadrature of the second's closed form over the first's
types. Three or more: inversion of the Laplace transform along the Bromwich line through the
saddle point, by the trapezoidal rule with exponential tilting; agents on ironing atoms are
conditioned on. :func:`_moments` returns g, D_i = -∂g/∂ω_i and error estimates.

References
----------
J. Abate and W. Whitt, "The Fourier-series method for inverting transforms of probability
distributions", Queueing Systems 10 (1992) 5-88.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from .ironing import _Virtual
from .quadrature import MAX_PANELS, PANEL_PHASE, _Piece, _piece

#: Relative aliasing error of the trapezoidal Bromwich sum (cheap: the period grows like its log).
ALIAS_TOL = 1e-15


# ----------------------------------------------------------------------------- g and its gradient
@dataclass
class _Moments:
    """g(ω), P(ω·φ̄ <= b) and D_i = E[φ̄_i 1{ω·φ̄ <= b}] (so ∂g/∂ω_i = -D_i)."""

    value: float
    prob: float
    d: np.ndarray
    tail: float = 0.0  # estimated relative error of value from the truncated Bromwich sum


@dataclass(frozen=True)
class _Group:
    """n agents with the same law and weight; ``cont``: their ironing atoms are left out."""

    v: _Virtual
    w: float
    n: int
    cont: bool = False

    def atoms(self, B: float) -> list[tuple[float, float, float]]:
        """Ironing atoms (y, mass, level) with y <= B (none when ``cont``)."""
        if self.cont:
            return []
        p = self.v.pools
        y = self.w * (p["level"] - self.v.c)
        return [
            (float(yy), float(qb - qa), float(lev))
            for yy, qa, qb, lev in zip(y, p["qa"], p["qb"], p["level"])
            if yy <= B
        ]


def _single(gr: _Group, B: float):
    """One agent: closed form. Returns g, P, [D]."""
    lam = gr.v.c + B / gr.w
    h, q, pm = (float(x[0]) for x in gr.v.tail_moments(lam, gr.cont))
    return gr.w * h, q, [pm], 0.0


def _pair(g1: _Group, g2: _Group, B: float, level: int):
    """Two agents: Gauss-Legendre over agent 1 of agent 2's closed form. Returns g, P, [D1, D2]."""
    v1, w1, v2, w2 = g1.v, g1.w, g2.v, g2.w
    kinks = [lev for lev in np.append(v2.pools["level"], v2.top) if np.isfinite(lev)]
    y1 = B - w2 * (np.asarray(kinks) - v2.c)
    y1 = y1[(y1 > 0) & (y1 < B)]
    extra = v1.inverse(v1.c + y1 / w1)[0] if y1.size else np.empty(0)
    piece = _piece(v1, w1, B, rate=8.0 / B, atoms=not g1.cont, extra=extra, grade_cut=True, refine=level)
    lam = v2.c + (B - piece.y) / w2
    h, q, pm = v2.tail_moments(lam, g2.cont)
    value = float(np.sum(piece.w * w2 * h))
    prob = float(np.sum(piece.w * q))
    d1 = float(np.sum(piece.w * (v1.c + piece.psi) * q))
    d2 = float(np.sum(piece.w * pm))
    return value, prob, [d1, d2], 0.0


def _saddle(pieces, counts, B) -> float:
    """The minimizer s0 > 0 of sB + Σ n_h log L_h(s) - 2 log s (L_h the transform of piece h)."""

    def slope(log_s):
        s = math.exp(log_s)
        tot = B - 2.0 / s
        for p, n in zip(pieces, counts):
            e = p.w * np.exp(-s * (p.y - p.y.min()))
            tot -= n * float(np.sum(e * p.y) / np.sum(e))
        return tot

    lo, hi = math.log(1e-3 / B), math.log(1e3 * (sum(counts) + 2) / B)
    while slope(lo) > 0:
        lo -= 5.0
    while slope(hi) < 0:
        hi += 5.0
    return math.exp(optimize.brentq(slope, lo, hi, xtol=1e-10))


def _tilted(p: _Piece, s0: float) -> tuple[float, float]:
    """log L(s0) and the variance of Y under the tilt e^{-s0 Y}."""
    e = p.w * np.exp(-s0 * p.y)
    tot = float(e.sum())
    m = float(np.sum(e * p.y) / tot)
    return math.log(tot), float(np.sum(e * (p.y - m) ** 2) / tot)


def _log_ratio(pieces, counts, s0: float, u: np.ndarray) -> np.ndarray:
    """log |Π_h (L_h(s0 + iu) / L_h(s0))^{n_h}| at a few frequencies (direct sums)."""
    out = np.zeros(u.size)
    for p, n in zip(pieces, counts):
        e = p.w * np.exp(-s0 * p.y)
        lt = np.exp(-1j * np.outer(u, p.y)) @ e
        with np.errstate(divide="ignore"):
            out += n * np.log(np.abs(lt) / e.sum())
    return out


def _cutoff(pieces, counts, s0: float, rate: float, tol: float) -> tuple[float, float, float]:
    """Truncation frequency U of the Bromwich sums, probed on pieces resolved up to ``rate``.

    The integrand magnitudes |Π ℓ_h| |s0/s|^k (k = 2 for g, 1 for P and D) are sampled on a
    geometric grid up to rate/2 (where the panels still resolve the transforms to round-off);
    U is the smallest frequency whose tail integral (beyond rate/2 extrapolated as a power
    law fitted to the last probes) is below ``tol`` of the whole (1e4·tol for P and D, which
    only steer ω). Returns U and the relative tails of g and of P beyond it (too large when
    ``rate`` was too low). Magnitudes ignore the cancellation of the oscillating terms, so
    the tails overstate the error (by 10-100x in the tests).
    """
    u = s0 * np.geomspace(1e-3, 0.5 * rate / s0, 48)
    log_l = _log_ratio(pieces, counts, s0, u)
    top, tails = 0.0, []
    for k, k_tol in ((2, tol), (1, 1e4 * tol)):
        log_mag = log_l - 0.5 * k * np.log1p((u / s0) ** 2)
        with np.errstate(under="ignore"):
            mag = np.exp(log_mag)
        slope = -np.polyfit(np.log(u[-6:]), np.maximum(log_mag[-6:], -745.0), 1)[0]
        beyond = mag[-1] * u[-1] / (slope - 1) if slope > 1.1 else np.inf
        tail = np.append(np.cumsum((0.5 * (mag[1:] + mag[:-1]) * np.diff(u))[::-1])[::-1], 0.0) + beyond
        total = tail[0] + u[0]
        ok = np.flatnonzero(tail <= k_tol * total) if np.isfinite(total) else np.empty(0, int)
        k_top = int(ok[0]) if ok.size else u.size - 1
        top = max(top, float(u[k_top]))
        tails.append(float(tail[k_top] / total) if np.isfinite(total) else np.inf)
    return top, tails[0], tails[1]


def _period(pieces, counts, s0: float, B: float) -> tuple[float, float]:
    """Trapezoid period D (aliasing e^{-s0 D}(B + D) <= ALIAS_TOL·g and e^{-s0 D} <= ALIAS_TOL·P)
    and the log of the scale e^{s0 B} Π L_h(s0)^{n_h} / s0² the integrands are measured by."""
    stats = [_tilted(p, s0) for p in pieces]
    log_e0 = s0 * B + sum(n * st[0] for n, st in zip(counts, stats)) - 2 * math.log(s0)
    var = sum(n * st[1] for n, st in zip(counts, stats)) + 2 / s0**2
    log_g_hat = log_e0 - 0.5 * math.log(2 * math.pi * var)  # saddle-point estimate of g
    need = math.log(1 / ALIAS_TOL) + max(0.0, -log_g_hat - math.log(s0) + 1.0, -log_g_hat)
    period = 2 * B
    for _ in range(4):
        period = max(2 * B, (need + math.log(B + period)) / s0)
    return period, log_e0


def _laplace(groups: Sequence[_Group], B: float, tol: float, level: int, hint: dict):
    """Three or more agents: tilted Bromwich inversion. Returns g, P, per-group D, and the
    estimated relative error of g from the truncated u-tail.

    The measures are cut at B + D/2 rather than at B, so that the cut's singular term
    oscillates (and cancels) in the trapezoidal sum instead of sitting where T is evaluated.
    The panels are refined (frequency ``rate`` doubled) until the probed u-tail is small;
    ``hint`` keeps the last rate that sufficed (relative to s0) between calls.
    """
    tol = tol * 10.0**-level
    counts = [gr.n for gr in groups]

    def build(cut, rate, s0=None):
        return [_piece(gr.v, gr.w, cut, rate, atoms=not gr.cont, s0=s0, refine=level) for gr in groups]

    pieces = build(B, 2.0 * (sum(counts) + 2) / B)
    if any(p.w.size == 0 for p in pieces):
        return 0.0, 0.0, [0.0] * len(groups), 0.0
    s0 = _saddle(pieces, counts, B)
    cut_y = B + 0.5 * _period(pieces, counts, s0, B)[0]
    key = sum(counts)
    rate = hint.get(key, 8.0) * s0 + 8 / B
    while True:
        pieces = build(cut_y, rate, s0)
        s0 = _saddle(pieces, counts, B)
        top, left, left_p = _cutoff(pieces, counts, s0, rate, tol)
        if (left <= tol and (level or left_p <= 1e4 * tol)) or 2 * rate * cut_y > MAX_PANELS * PANEL_PHASE:
            break
        rate *= 2
    hint[key] = rate / s0
    period, log_e0 = _period(pieces, counts, s0, B)
    du = 2 * math.pi / period
    u = du * np.arange(math.ceil(top / du) + 1)
    s = s0 + 1j * u
    weights = np.full(u.size, du / math.pi)
    weights[0] *= 0.5
    log_l, k_norm = [], []
    for p in pieces:
        lt, kt = _transform(p, s0, du, u.size)
        norm = lt[0].real
        with np.errstate(divide="ignore"):
            log_l.append(np.log(lt / norm))
        k_norm.append(kt / norm)
    base = 1j * u * B + sum(n * ll for n, ll in zip(counts, log_l))
    scale = math.exp(log_e0)
    with np.errstate(under="ignore", invalid="ignore"):
        g = scale * float(np.sum(weights * (np.exp(base) * (s0 / s) ** 2).real))
        prob = scale * s0 * float(np.sum(weights * (np.exp(base) * (s0 / s)).real))
        d = []
        for gr, ll, kn in zip(groups, log_l, k_norm):
            part = np.nan_to_num(np.exp(base - ll) * kn * (s0 / s))
            d.append(gr.v.c * prob + scale * s0 * float(np.sum(weights * part.real)))
    return g, prob, d, left


def _transform(p: _Piece, s0: float, du: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """E[e^{-sY}] and E[ψ e^{-sY}] of one piece at s = s0 + i·j·du, j = 0..k-1.

    With u on a uniform grid, e^{-i(j0 + j)du·y} = e^{-i·j0·du·y}·(e^{-i·du·y})^j: exact
    exponentials at every 64th frequency and for the 64 powers, the rest one complex matrix
    product (no error build-up from recurrences).
    """
    step = 64
    starts = np.arange(0, k, step)
    base = p.w * np.exp(-s0 * p.y)
    v = np.exp(-1j * du * np.outer(p.y, starts)) * base[:, None]  # nodes x blocks
    powers = np.exp(-1j * du * np.outer(np.arange(step), p.y))  # step x nodes
    both = powers @ np.concatenate([v, v * p.psi[:, None]], axis=1)  # step x 2·blocks
    nb = starts.size
    return both[:, :nb].T.ravel()[:k], both[:, nb:].T.ravel()[:k]


def _group_states(gr: _Group, atoms) -> list[tuple[float, int, np.ndarray]]:
    """Ways n identical agents split between their atoms and their continuous part:
    (multinomial probability of the atom masses, continuous count j, atom counts k_a)."""
    out = []
    for ks in itertools.product(range(gr.n + 1), repeat=len(atoms)):
        if sum(ks) > gr.n:
            continue
        j = gr.n - sum(ks)
        coef = math.factorial(gr.n) / (math.factorial(j) * math.prod(math.factorial(k) for k in ks))
        coef *= math.prod(m**k for (_, m, _), k in zip(atoms, ks))
        out.append((coef, j, np.array(ks, dtype=float)))
    return out


def _conditioned(groups: Sequence[_Group], atoms: list, B: float, tol: float, level: int, hint: dict):
    """E over which agents sit on an ironing atom: each case shifts B and leaves the continuous
    parts (no atoms) to :func:`_tail`. Atoms would otherwise make the transforms non-decaying."""
    g = prob = tail = 0.0
    d = np.zeros(len(groups))
    for combo in itertools.product(*[_group_states(gr, at) for gr, at in zip(groups, atoms)]):
        weight = math.prod(c for c, _, _ in combo)
        shift = sum(float(ks @ np.array([a[0] for a in at])) for (_, _, ks), at in zip(combo, atoms) if ks.size)
        b_left = B - shift
        if weight == 0 or b_left <= 0:
            continue
        sub = [_Group(gr.v, gr.w, j, True) for gr, (_, j, _) in zip(groups, combo) if j > 0]
        if sub:
            g_s, p_s, d_s, t_s = _tail(sub, b_left, tol, level, hint)
        else:
            g_s, p_s, d_s, t_s = b_left, 1.0, [], 0.0
        g += weight * g_s
        prob += weight * p_s
        tail += weight * g_s * t_s
        it = iter(d_s)
        for h, (gr, (_, j, ks), at) in enumerate(zip(groups, combo, atoms)):
            at_level = float(ks @ np.array([a[2] for a in at])) if ks.size else 0.0
            d[h] += weight * ((j * next(it) if j > 0 else 0.0) + at_level * p_s) / gr.n
    return g, prob, list(d), tail / g if g > 0 else 0.0


#: Most atom configurations :func:`_conditioned` enumerates (beyond: atoms stay in the transforms).
MAX_STATES = 64


def _tail(groups: Sequence[_Group], B: float, tol: float, level: int, hint: dict):
    """g = E[(B - T)_+], P(T <= B) and per-group D for T = Σ ω_i(φ̄_i - c_i): closed form
    (1 agent), quadrature (2), conditioning on ironing atoms and Bromwich inversion (3+)."""
    if B <= 0:
        return 0.0, 0.0, [0.0] * len(groups), 0.0
    total = sum(gr.n for gr in groups)
    if total == 1:
        return _single(groups[0], B)
    if total == 2:
        g1, g2 = (groups[0], groups[0]) if len(groups) == 1 else groups
        value, prob, (d1, d2), tail = _pair(g1, g2, B, level)
        return value, prob, ([0.5 * (d1 + d2)] if len(groups) == 1 else [d1, d2]), tail
    atoms = [gr.atoms(B) for gr in groups]
    states = math.prod(math.comb(gr.n + len(at), len(at)) for gr, at in zip(groups, atoms))
    if any(atoms) and states <= MAX_STATES:
        return _conditioned(groups, atoms, B, tol, level, hint)
    return _laplace(groups, B, tol, level, hint)


def _moments(
    virtuals: Sequence[_Virtual],
    omega: np.ndarray,
    b: float,
    tol: float = 1e-10,
    level: int = 0,
    hint: dict | None = None,
) -> _Moments:
    """g(ω), the trade probability and D at weights ω (engine form, b the buyer's value).

    ``tol`` is the relative truncation target of the Bromwich sums; ``level`` 1 is the finer
    resolution (every panel halved, ``tol`` / 10) that error estimates compare against.
    """
    omega = np.asarray(omega, dtype=float)
    n = len(virtuals)
    active = np.flatnonzero(omega > 1e-15)
    B = b - sum(omega[i] * virtuals[i].c for i in active.tolist())
    d = np.zeros(n)
    if B <= 0 or active.size == 0:
        return _Moments(0.0, 0.0, d)
    members: dict[tuple[int, float], list[int]] = {}
    for i in map(int, active):
        members.setdefault((id(virtuals[i]), float(omega[i])), []).append(i)
    groups = [_Group(virtuals[m[0]], float(omega[m[0]]), len(m)) for m in members.values()]
    value, prob, dg, tail = _tail(groups, B, tol, level, {} if hint is None else hint)
    for m, dv in zip(members.values(), dg):
        d[m] = dv
    for j in np.setdiff1d(np.arange(n), active):
        d[j] = virtuals[j].mean * prob if prob > 0 else 0.0
    return _Moments(max(value, 0.0), min(max(prob, 0.0), 1.0), d, tail)
