"""Gauss-Legendre panels over one agent's types, graded towards support ends and cuts.

:func:`_piece` returns the nodes and weights (a :class:`_Piece`) with which the agent's
contribution Y_i = ω_i(φ̄_i - c_i) on [0, B] is integrated; atoms of φ̄ (ironing intervals)
are kept as point masses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .ironing import _Virtual
from .law import _Law

#: Gauss-Legendre points per panel.
GL_POINTS = 16
#: Ratio of the geometric panels at support ends (resolves endpoint singularities of f).
GRADING = 0.25
#: Largest phase u·ΔY per panel the Gauss-Legendre rule is asked to resolve.
PANEL_PHASE = 12.0
#: Most equal-phase panels per agent in the Bromwich quadrature (bounds work and memory).
MAX_PANELS = 1500


# ----------------------------------------------------------------------------- quadrature nodes
_GL = np.polynomial.legendre.leggauss(GL_POINTS)


@dataclass
class _Piece:
    """One agent's measure of Y = ω(φ̄ - c) on [0, cut] as weighted points (atoms included)."""

    y: np.ndarray  # positions ω(φ̄ - c)
    w: np.ndarray  # probabilities
    psi: np.ndarray  # φ̄ - c at the points (for the gradient)


def _graded(law: _Law, s: float, e: float, at_start: bool, support_end: bool) -> tuple[np.ndarray, float]:
    """Geometric breakpoints (ratio GRADING) towards one end of [s, e], and the innermost width.

    At a support end (where f may be singular) the grading goes on until the mass left is
    below 1e-17 or the float spacing is reached; at an inner end (the cut, where a partner's
    closed form may be singular) down to 1e-15 of the length.
    """
    span = e - s
    floor = 4 * np.spacing(max(abs(s), abs(e))) / span
    deepest = math.log(max(1e-300, floor) if support_end else max(1e-15, floor)) / math.log(GRADING)
    frac = GRADING ** np.arange(1, max(int(deepest), 1) + 1)
    pts = s + span * frac if at_start else e - span * frac
    if support_end:
        left = law.cdf(pts) if at_start else law.sf(pts)
        small = np.flatnonzero(left <= 1e-17)
        frac = frac[: int(small[0]) + 1] if small.size else frac
    return pts[: frac.size], span * frac[-1]


def _panels(
    v: _Virtual,
    omega: float,
    s: float,
    e: float,
    rate: float,
    grade: tuple,
    extra: Sequence[float] | np.ndarray,
    s0: float | None,
    refine: int,
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Breakpoints of [s, e], and the innermost end intervals as atoms (θ, mass).

    ``grade`` says for each end whether it is a support end ("support"), a cut where a
    partner's closed form is singular ("cut"), or needs no grading (None). Equal-phase
    panels are laid only where the tilted mass e^{-s0 y} dF is within e^-30 of its largest
    value (elsewhere the transform's terms are below 1e-13 of it at every frequency).
    ``refine`` halves every panel that many times (the error estimate's second resolution).
    """
    law = v.law
    pts = [np.array([s, e])]
    ends = []
    for at_start, kind in zip((True, False), grade):
        if kind is None:
            continue
        g, d = _graded(law, s, e, at_start, kind == "support")
        pts.append(g)
        lo, hi = (s, s + d) if at_start else (e - d, e)
        if kind == "support":
            mass = law.cdf(hi) if at_start else law.sf(lo)
        else:
            mass = law.pdf(0.5 * (lo + hi)) * d
        ends.append((hi if at_start else lo, max(float(mass), 0.0)))
        s, e = (hi, e) if at_start else (s, lo)
    # panels of equal width in Y, so that |s|·ΔY <= PANEL_PHASE up to the cut-off frequency
    pre = np.unique(np.concatenate([np.linspace(s, e, 257)] + [p[(p >= s) & (p <= e)] for p in pts[1:]]))
    y = omega * (v.bar(pre) - v.c)
    y = np.maximum.accumulate(np.where(np.isfinite(y), y, np.nanmax(y[np.isfinite(y)], initial=0)))
    y_lo, y_hi = y[0], y[-1]
    if s0 is not None:
        with np.errstate(divide="ignore"):
            log_mass = np.log(np.maximum(np.diff(law.cdf(pre)), 0.0)) - s0 * y[1:]
        alive = np.flatnonzero(log_mass >= np.max(log_mass) - 30.0)
        if alive.size:
            y_lo, y_hi = y[alive[0]], y[alive[-1] + 1]
    n_y = max(4, math.ceil(rate * (y_hi - y_lo) / PANEL_PHASE))
    if y_hi > y_lo:
        targets = np.linspace(y_lo, y_hi, n_y + 1)[1:-1]
        keep = np.concatenate(([True], np.diff(y) > 0))
        pts.append(np.interp(targets, y[keep], pre[keep]))
    pts.append(np.asarray([x for x in extra if s < x < e], dtype=float))
    bp = np.unique(np.concatenate(pts))
    bp = bp[(bp >= s) & (bp <= e)]
    for _ in range(refine):
        bp = np.sort(np.concatenate([bp, 0.5 * (bp[1:] + bp[:-1])]))
    return bp, ends


def _piece(
    v: _Virtual,
    omega: float,
    cut: float,
    rate: float,
    atoms: bool = True,
    extra: Sequence[float] | np.ndarray = (),
    s0: float | None = None,
    grade_cut: bool = False,
    refine: int = 0,
) -> _Piece:
    """Quadrature points of Y = ω(φ̄ - c) on [0, cut] for one agent (see :class:`_Piece`).

    Gauss-Legendre panels in θ between the ironing intervals; ``rate`` is the largest |s| at
    which E[e^{-sY}] must be resolved; ``atoms=False`` leaves the ironing atoms out;
    ``extra`` are further breakpoints (kinks of a partner's closed form); ``s0``, when known,
    the tilt that decides where panels are needed; ``grade_cut`` grades the panels towards
    the cut (where a partner's closed form has its lower-end singularity); ``refine``
    halves every panel that many times.
    """
    law = v.law
    lam_cut = v.c + cut / omega
    theta_cut = v.root(lam_cut)
    ys, ws, ps = [np.zeros(1)], [np.array([v.q_lo])], [np.zeros(1)]  # clamp atom
    pools = v.pools
    inside = pools["level"] <= lam_cut
    if atoms:
        for qa, qb, lev in zip(pools["qa"][inside], pools["qb"][inside], pools["level"][inside]):
            ys.append(np.array([omega * (lev - v.c)]))
            ws.append(np.array([qb - qa]))
            ps.append(np.array([lev - v.c]))
    segments, start = [], v.lo
    for a, b in sorted(zip(pools["a"][inside], pools["b"][inside])):
        segments.append((start, a))
        start = b
    segments.append((start, theta_cut))
    x, wgl = _GL
    for s, e in segments:
        if not e > s:
            continue
        grade = (
            "support" if s == v.lo and v.q_lo == 0 else None,
            "support" if e >= v.hi else "cut" if grade_cut and e == theta_cut else None,
        )
        bp, ends = _panels(v, omega, s, e, rate, grade, extra, s0, refine)
        mid, half = 0.5 * (bp[1:] + bp[:-1]), 0.5 * np.diff(bp)
        theta = np.concatenate([(mid[:, None] + half[:, None] * x[None, :]).ravel(), [t for t, _ in ends]])
        weight = np.concatenate(
            [(half[:, None] * wgl[None, :]).ravel() * law.pdf(theta[: mid.size * x.size]), [m for _, m in ends]]
        )
        phi = law.phi(theta)
        ok = np.isfinite(phi) & (weight > 0)
        ys.append(omega * (phi[ok] - v.c))
        ws.append(weight[ok])
        ps.append(phi[ok] - v.c)
    y, w, psi = np.concatenate(ys), np.concatenate(ws), np.concatenate(ps)
    keep = (w > 0) & (y <= cut * (1 + 1e-12))
    return _Piece(np.clip(y[keep], 0.0, cut), w[keep], psi[keep])
