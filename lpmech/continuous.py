"""The optimal mechanism for continuous, independent types given as scipy.stats laws.

With independent types the designer's problem reduces to one convex program over the
agents' weights (docs/model.md, sections 3-5). With Myerson's virtual costs (Myerson 1981)

    buy side   φ(θ) = θ + F(θ)/f(θ),        sell side   φ(θ) = θ - (1 - F(θ))/f(θ),

ironed where they are not monotone (φ̄ is the derivative of the greatest convex minorant of
H(q) = ∫_0^q φ(F⁻¹(s)) ds, which is q F⁻¹(q) on the buy side; Myerson 1981, section 6), the
optimal allocation trades iff ω·φ̄(θ) <= b (sell side: >= c), where ω minimizes

    g(ω) = E[(b - ω·φ̄(θ))_+]        (sell side: E[(ω·φ̄(θ) - c)_+])

over the simplex, and g(ω*) is the designer's optimal expected profit (Haghpanah,
Kuvalekar and Lipnowski, "Selling to a Group", EC 2021, and "Buying from a Group", 2024).
:func:`solve_continuous` returns ω*, g(ω*) with an error estimate, and the best collective
posted price; :func:`dual_objective`, :func:`virtual_costs` and
:func:`continuous_posted_price` expose the pieces.

Everything runs in the buy-side *engine form* (docs/model.md, section 1): the sell side is the
buy side with types negated and b = -c. Types are per share; ``types = "total"`` laws
describe v_i = σ_i θ_i and are rescaled (θ_i = v_i / σ_i).

Method
------
Only the lower tail of S = ω·φ̄ matters. With c_i the lower end of φ̄_i write
S = Σ ω_i c_i + T, T = Σ_i Y_i with Y_i = ω_i(φ̄_i - c_i) >= 0, and B = b - Σ ω_i c_i:
g = E[(B - T)_+] needs each Y_i on [0, B] only, a sum of nonnegative terms.

* One agent: closed form g = ω q*(λ - θ*), with φ̄(θ*) = λ = c + B/ω and q* = F(θ*)
  (E[(λ - φ̄)_+] = max_p F(p)(λ - p): Myerson 1981; Riley and Zeckhauser 1983).
* Two agents: Gauss-Legendre quadrature over the first agent's types of the second's closed
  form, on panels graded geometrically towards the support ends and the cut, with
  breakpoints at the second agent's kinks.
* Three or more: inversion of the Laplace transform along the Bromwich line through the
  saddle point s0, E[(B - T)_+] = (1/2πi) ∫ e^{sB} Π_i E[e^{-sY_i}] s⁻² ds, by the
  trapezoidal rule (the Fourier-series method of Abate and Whitt 1992, with exponential
  tilting). The tilt makes the integrand positive-dominated at the scale of the answer, so
  relative accuracy survives when trade is astronomically rare (25 iid U[0, 1] agents with
  b = 1/25: trade probability ≈ 1.9e-33, found to ~1e-13); an FFT of whole densities rounds
  that mass to zero. Each E[e^{-sY_i}] is a Gauss-Legendre sum on panels that resolve
  e^{-iuY} up to the cut-off frequency, which is raised until the probed tail of the
  integrand is below the tolerance. Ironing intervals make atoms of φ̄ whose transforms do
  not decay; the agents sitting on atoms are conditioned on (a finite sum of cases).

ω* comes from a root of g' (two agents) or SLSQP on log g from equal weights followed by
Newton steps on the first-order conditions D_i = D_j (three or more), where
D_i = E[φ̄_i 1{ω·φ̄ <= b}] = -∂g/∂ω_i. ``value_error`` adds the change of g between two
resolutions, the estimated u-tail, the suboptimality (the Newton model ½ rᵀJ⁻¹r, or the
Frank-Wolfe gap max_i D_i - ω·D >= g(ω) - min g when smaller or when that is unavailable),
and for laws unbounded below in engine form a bound for clamping their lowest 1e-15 quantile.

Limitations: the relative accuracy of a tail that sits at a support end away from 0 is
limited by the float spacing there, about 1e-16 / (distance of the relevant types from that
end): a sell-side U[0, 1] buyer with seller cost 1 - 1e-9 gets the value to ~1e-7, not
reported in ``value_error`` (ends at 0, as in the buy-side examples, keep full accuracy).
Densities with jumps or singularities at the bottom of the support make the Bromwich
integrand decay slowly, which costs time with three or four agents; beyond MAX_STATES
configurations of agents on ironing atoms, the atoms stay in the transforms and the error
estimate grows accordingly.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from scipy import optimize

from .discretize import frozen_distribution
from .instance import Instance, InstanceError

__all__ = ["ContinuousResult", "VirtualCost", "solve_continuous", "virtual_costs", "dual_objective",
           "continuous_posted_price"]

#: Quantile mass clamped at the bottom of laws that are unbounded below (engine form).
CLAMP_MASS = 1e-15
#: Gauss-Legendre points per panel.
GL_POINTS = 16
#: Ratio of the geometric panels at support ends (resolves endpoint singularities of f).
GRADING = 0.25
#: Largest phase u·ΔY per panel the Gauss-Legendre rule is asked to resolve.
PANEL_PHASE = 12.0
#: Relative aliasing error of the trapezoidal Bromwich sum (cheap: the period grows like its log).
ALIAS_TOL = 1e-15
#: Most equal-phase panels per agent in the Bromwich quadrature (bounds work and memory).
MAX_PANELS = 1500


# ----------------------------------------------------------------------------- one agent's law
class _Law:
    """One agent's per-share type law in engine form (buy side costs; sell side negated values).

    ``frozen`` is the scipy.stats law of the stated type (per-share θ, or total v = κθ).
    """

    def __init__(self, frozen: Any, kappa: float, flip: bool, key: tuple):
        self.frozen, self.kappa, self.flip, self.key = frozen, float(kappa), bool(flip), key
        a, b = (float(x) / self.kappa for x in frozen.support())
        self.lower, self.upper = (-b, -a) if flip else (a, b)

    def _arg(self, t):
        return -self.kappa * np.asarray(t, dtype=float) if self.flip else self.kappa * np.asarray(t, dtype=float)

    def cdf(self, t):
        return self.frozen.sf(self._arg(t)) if self.flip else self.frozen.cdf(self._arg(t))

    def sf(self, t):
        return self.frozen.cdf(self._arg(t)) if self.flip else self.frozen.sf(self._arg(t))

    def logcdf(self, t):
        return self.frozen.logsf(self._arg(t)) if self.flip else self.frozen.logcdf(self._arg(t))

    def pdf(self, t):
        return self.kappa * self.frozen.pdf(self._arg(t))

    def logpdf(self, t):
        return math.log(self.kappa) + self.frozen.logpdf(self._arg(t))

    def ppf(self, q):
        q = np.asarray(q, dtype=float)
        return (-self.frozen.isf(q) if self.flip else self.frozen.ppf(q)) / self.kappa

    def isf(self, q):
        q = np.asarray(q, dtype=float)
        return (-self.frozen.ppf(q) if self.flip else self.frozen.isf(q)) / self.kappa

    def phi(self, t):
        """Raw virtual cost t + F(t)/f(t): t where F = 0, inf where only the density vanishes.

        F/f is taken from logarithms where F or f underflow (deep in a tail).
        """
        t = np.asarray(t, dtype=float)
        cdf, pdf = self.cdf(t), self.pdf(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = cdf / pdf
        tiny = (cdf < 1e-290) | (pdf < 1e-290)
        if np.any(tiny):
            with np.errstate(invalid="ignore", over="ignore"):
                logs = np.exp(self.logcdf(t[tiny]) - self.logpdf(t[tiny]))
            ratio[tiny] = logs
        ratio = np.where(cdf == 0, 0.0, np.where(np.isnan(ratio), np.inf, ratio))
        return t + ratio


def _agent_law(instance: Instance, i: int) -> _Law:
    agent = instance.agents[i]
    info = agent.distribution
    if not info or "name" not in info:
        raise InstanceError("the continuous solver needs a scipy.stats distribution for every agent "
                            "(this agent is given by a grid)", field="distribution", agent=agent.name)
    params = dict(info.get("params") or {})
    frozen = frozen_distribution(info["name"], params, agent=agent.name)
    kappa = float(instance.shares[i]) if instance.types == "total" else 1.0
    flip = instance.side == "sell"
    # identity of the per-share law: θ = v/κ has loc/κ and scale/κ (agents with equal keys share work)
    shape = tuple(sorted((k, float(v)) for k, v in params.items() if k not in ("loc", "scale")))
    key = (info["name"], shape, float(params.get("loc", 0.0)) / kappa, float(params.get("scale", 1.0)) / kappa, flip)
    return _Law(frozen, kappa, flip, key)


# ----------------------------------------------------------------------------- ironed virtual cost
def _lower_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the vertices of the lower convex hull of points sorted by x (monotone chain)."""
    hull: list[int] = []
    for k in range(x.size):
        while len(hull) >= 2:
            i, j = hull[-2], hull[-1]
            if (y[j] - y[i]) * (x[k] - x[i]) >= (y[k] - y[i]) * (x[j] - x[i]):
                hull.pop()
            else:
                break
        hull.append(k)
    return np.array(hull)


class _Virtual:
    """The ironed virtual cost φ̄ of one law (engine form), with what the solvers need of it.

    Attributes: ``lo`` (lowest type used; the clamp point ``ppf(q_lo)`` if unbounded below),
    ``q_lo`` (clamped mass), ``c`` = φ̄(lo), ``top`` = sup φ̄, ``pools`` (ironing intervals:
    arrays ``a``, ``b`` (types), ``qa``, ``qb``, ``level``), ``mean`` = E[φ̄].
    """

    def __init__(self, law: _Law):
        self.law = law
        self._roots: dict[float, float] = {}
        if np.isfinite(law.lower):
            self.lo, self.q_lo = law.lower, 0.0
        else:
            self.q_lo = CLAMP_MASS
            self.lo = float(law.ppf(CLAMP_MASS))
        self.hi = law.upper
        self.up = law.upper if np.isfinite(law.upper) else float(law.isf(1e-16))
        self.pools = self._find_pools()
        self.c = self.lo if self.q_lo == 0 else float(law.phi(self.lo))
        self.shift = self.q_lo * (self.c - self.lo)      # = E[φ̄_clamped - φ̄ ; q < q_lo] >= 0
        top = float(self.bar(np.array([self.hi]))[0]) if np.isfinite(self.hi) else np.inf
        self.top = np.inf if np.isnan(top) else top
        self.mean = self.hi + self.shift if np.isfinite(self.hi) else np.inf

    # -- ironing -------------------------------------------------------------------------
    def _find_pools(self) -> dict[str, np.ndarray]:
        law = self.law
        q = np.unique(np.concatenate([np.linspace(0, 1, 4097)[1:-1], np.logspace(-15, -3, 49),
                                      1 - np.logspace(-15, -3, 49)]))
        q = q[q > self.q_lo]
        theta = law.ppf(q)
        ok = np.isfinite(theta) & (theta > self.lo) & (theta < self.hi)
        theta = np.unique(theta[ok])
        phi = law.phi(theta)
        ok = np.isfinite(phi)
        theta, phi = theta[ok], phi[ok]
        empty = {k: np.empty(0) for k in ("a", "b", "qa", "qb", "level")}
        scale = float(np.max(np.abs(phi))) if phi.size else 1.0
        if phi.size < 3 or np.all(np.diff(phi) >= -1e-9 * scale):
            return empty
        qq = law.cdf(theta)
        xs = np.concatenate(([self.q_lo], qq))
        ys = np.concatenate(([self.q_lo * self.lo], qq * theta))
        if np.isfinite(self.hi):
            xs, ys = np.append(xs, 1.0), np.append(ys, self.hi)
        hull = _lower_hull(xs, ys)
        tol = 1e-12 * (1.0 + float(np.max(np.abs(ys))))
        pools = []
        for i, j in zip(hull[:-1], hull[1:]):
            if j <= i + 1:
                continue
            k = np.arange(i + 1, j)
            chord = ys[i] + (ys[j] - ys[i]) * (xs[k] - xs[i]) / (xs[j] - xs[i])
            if np.max(ys[k] - chord) > tol:
                pools.append(self._refine_pool(xs, ys, i, j))
        if not pools:
            return empty
        arr = np.array(pools)
        return {"a": arr[:, 0], "b": arr[:, 1], "qa": self.law.cdf(arr[:, 0]),
                "qb": np.where(arr[:, 1] >= self.hi, 1.0, self.law.cdf(arr[:, 1])), "level": arr[:, 2]}

    def _refine_pool(self, xs, ys, i, j) -> tuple[float, float, float]:
        """Exact ends (a, b) and level of one ironing interval, from its grid-hull guess."""
        law = self.law
        theta_of = lambda k: ys[k] / xs[k] if xs[k] > 0 else self.lo   # noqa: E731  (R = qθ)
        a0 = theta_of(i)
        top = j == xs.size - 1 and np.isfinite(self.hi)
        b0 = self.hi if top else theta_of(j)

        def level(a, b):
            qa = law.cdf(a)
            qb = 1.0 if b >= self.hi else law.cdf(b)
            return (b * qb - a * qa) / (qb - qa)

        if top:
            lo_k, hi_k = max(i - 1, 1), min(i + 1, xs.size - 2)
            f = lambda a: float(law.phi(a)) - level(a, self.hi)   # noqa: E731
            lo_t, hi_t = theta_of(lo_k), theta_of(hi_k)
            if lo_t < hi_t and f(lo_t) * f(hi_t) < 0:
                a0 = optimize.brentq(f, lo_t, hi_t, xtol=1e-15, rtol=1e-14)
            return a0, self.hi, level(a0, self.hi)

        def resid(x):
            lam = level(x[0], x[1])
            return [float(law.phi(x[0])) - lam, float(law.phi(x[1])) - lam]

        with np.errstate(all="ignore"):
            sol = optimize.root(resid, [a0, b0], method="hybr", options={"xtol": 1e-14})
        a, b = (sol.x if sol.success else (a0, b0))
        near = lambda v, k: theta_of(max(k - 1, 1)) <= v <= theta_of(min(k + 1, xs.size - 1))  # noqa: E731
        if not (sol.success and a < b and near(a, i) and near(b, j)):
            a, b = a0, b0
        return float(a), float(b), float(level(a, b))

    # -- evaluation -------------------------------------------------------------------------
    def bar(self, theta: np.ndarray) -> np.ndarray:
        """φ̄(θ): raw φ outside ironing intervals, their level inside, clamped below ``lo``."""
        theta = np.asarray(theta, dtype=float)
        out = self.law.phi(np.maximum(theta, self.lo))
        for a, b, lev in zip(self.pools["a"], self.pools["b"], self.pools["level"]):
            out = np.where((theta >= a) & (theta <= b), lev, out)
        return np.where(theta <= self.lo, self.c, out)

    def inverse(self, lam) -> tuple[np.ndarray, np.ndarray]:
        """θ* = sup{θ : φ̄(θ) <= λ} and q* = P(φ̄ <= λ), vectorized, to ~1e-14 relative.

        Bisection on a coordinate that is logarithmic near ``lo`` brackets θ* (tail
        probabilities keep their relative accuracy), then safeguarded false position
        (Illinois) finishes; ironing levels return the interval's upper end.
        """
        lam = np.atleast_1d(np.asarray(lam, dtype=float))
        span, kap = self.up - self.lo, 700.0
        to_theta = lambda z: self.lo + span * np.expm1(kap * z) / math.expm1(kap)   # noqa: E731
        z_lo, z_hi = np.zeros(lam.shape), np.ones(lam.shape)
        for _ in range(12):
            mid = 0.5 * (z_lo + z_hi)
            ok = self.bar(to_theta(mid)) <= lam
            z_lo, z_hi = np.where(ok, mid, z_lo), np.where(ok, z_hi, mid)
        t_lo, t_hi = to_theta(z_lo), to_theta(z_hi)
        f_lo, f_hi = self.bar(t_lo) - lam, self.bar(t_hi) - lam
        kept = np.zeros(lam.shape)                  # +1: hi kept last time, -1: lo kept last time
        slow = np.zeros(lam.shape, dtype=bool)      # the last step did not halve the bracket
        for _ in range(80):
            width = t_hi - t_lo
            eps = 4 * np.finfo(float).eps                       # round-off floors below
            if np.all((width <= 1e-14 * np.abs(t_lo - self.lo) + eps * np.abs(t_lo) + 1e-300)
                      | (np.abs(f_lo) <= 1e-14 * np.abs(lam - self.c) + eps * np.abs(lam) + 1e-300)):
                break
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                t_fp = t_lo - f_lo * width / (f_hi - f_lo)
            t_fp = np.clip(t_fp, t_lo + 1e-3 * width, t_hi - 1e-3 * width)     # safeguard: shrink >= 0.1%
            t_new = np.where(np.isfinite(t_fp) & ~slow, t_fp, t_lo + 0.5 * width)
            f_new = self.bar(t_new) - lam
            ok = f_new <= 0
            f_hi = np.where(ok & (kept > 0), 0.5 * f_hi, f_hi)        # Illinois: halve a stale end
            f_lo = np.where(~ok & (kept < 0), 0.5 * f_lo, f_lo)
            t_lo, f_lo = np.where(ok, t_new, t_lo), np.where(ok, f_new, f_lo)
            t_hi, f_hi = np.where(ok, t_hi, t_new), np.where(ok, f_hi, f_new)
            kept = np.where(ok, 1.0, -1.0)
            slow = (t_hi - t_lo) > 0.5 * width
        theta = t_lo
        q = self.law.cdf(theta)
        for b, qb, lev in zip(self.pools["b"], self.pools["qb"], self.pools["level"]):
            on = (np.abs(theta - b) <= 1e-13 * (abs(b) + span)) | (np.abs(lam - lev) <= 4e-16 * abs(lev))
            theta, q = np.where(on, b, theta), np.where(on, qb, q)
        below, above = lam < self.c, lam >= self.top
        theta = np.where(below, self.lo, np.where(above, self.hi, theta))
        q = np.where(below, 0.0, np.where(above, 1.0, np.maximum(q, self.q_lo)))
        return theta, q

    def root(self, lam: float) -> float:
        """θ* of :meth:`inverse` for one λ, memoized (pieces are rebuilt at the same cut)."""
        key = float(lam)
        if key not in self._roots:
            if len(self._roots) > 4096:
                self._roots.clear()
            self._roots[key] = float(self.inverse(key)[0][0])
        return self._roots[key]

    def tail_moments(self, lam, continuous_only: bool = False):
        """E[(λ - φ̄)_+], P(φ̄ <= λ) and E[φ̄ 1{φ̄ <= λ}], vectorized in λ; with
        ``continuous_only`` the ironing atoms are left out (sub-probability)."""
        lam = np.atleast_1d(np.asarray(lam, dtype=float))
        theta, q = self.inverse(lam)
        pm = self.partial_mean(theta, q)
        if continuous_only:
            for qa, qb, lev in zip(self.pools["qa"], self.pools["qb"], self.pools["level"]):
                hit = (lev <= lam) * (qb - qa)
                q, pm = q - hit, pm - hit * lev
        with np.errstate(invalid="ignore"):
            h = np.where(q > 0, lam * q - pm, 0.0)
        return h, q, pm

    def partial_mean(self, theta, q) -> np.ndarray:
        """E[φ̄ 1{φ̄ <= λ}] at the output (θ*, q*) of :meth:`inverse` (H(q*) = q* θ*)."""
        with np.errstate(invalid="ignore"):
            out = np.where(q >= 1.0, self.mean, q * theta + self.shift)
        return np.where(q <= 0.0, 0.0, out)


# ----------------------------------------------------------------------------- quadrature nodes
_GL = np.polynomial.legendre.leggauss(GL_POINTS)


@dataclass
class _Piece:
    """One agent's measure of Y = ω(φ̄ - c) on [0, cut] as weighted points (atoms included)."""

    y: np.ndarray      # positions ω(φ̄ - c)
    w: np.ndarray      # probabilities
    psi: np.ndarray    # φ̄ - c at the points (for the gradient)


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
        frac = frac[:int(small[0]) + 1] if small.size else frac
    return pts[:frac.size], span * frac[-1]


def _panels(v: _Virtual, omega: float, s: float, e: float, rate: float, grade: tuple,
            extra: Sequence[float], s0: float | None, refine: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
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
    n_y = max(4, int(math.ceil(rate * (y_hi - y_lo) / PANEL_PHASE)))
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


def _piece(v: _Virtual, omega: float, cut: float, rate: float, atoms: bool = True,
           extra: Sequence[float] = (), s0: float | None = None, grade_cut: bool = False,
           refine: int = 0) -> _Piece:
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
    ys, ws, ps = [np.zeros(1)], [np.array([v.q_lo])], [np.zeros(1)]          # clamp atom
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
        grade = ("support" if s == v.lo and v.q_lo == 0 else None,
                 "support" if e >= v.hi else "cut" if grade_cut and e == theta_cut else None)
        bp, ends = _panels(v, omega, s, e, rate, grade, extra, s0, refine)
        mid, half = 0.5 * (bp[1:] + bp[:-1]), 0.5 * np.diff(bp)
        theta = np.concatenate([(mid[:, None] + half[:, None] * x[None, :]).ravel(), [t for t, _ in ends]])
        weight = np.concatenate([(half[:, None] * wgl[None, :]).ravel() * law.pdf(theta[:mid.size * x.size]),
                                 [m for _, m in ends]])
        phi = law.phi(theta)
        ok = np.isfinite(phi) & (weight > 0)
        ys.append(omega * (phi[ok] - v.c))
        ws.append(weight[ok])
        ps.append(phi[ok] - v.c)
    y, w, psi = np.concatenate(ys), np.concatenate(ws), np.concatenate(ps)
    keep = (w > 0) & (y <= cut * (1 + 1e-12))
    return _Piece(np.clip(y[keep], 0.0, cut), w[keep], psi[keep])


# ----------------------------------------------------------------------------- g and its gradient
@dataclass
class _Moments:
    """g(ω), P(ω·φ̄ <= b) and D_i = E[φ̄_i 1{ω·φ̄ <= b}] (so ∂g/∂ω_i = -D_i)."""

    value: float
    prob: float
    d: np.ndarray
    tail: float = 0.0      # estimated relative error of value from the truncated Bromwich sum


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
        return [(float(yy), float(qb - qa), float(lev))
                for yy, qa, qb, lev in zip(y, p["qa"], p["qb"], p["level"]) if yy <= B]


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
    var = sum(n * st[1] for n, st in zip(counts, stats)) + 2 / s0 ** 2
    log_g_hat = log_e0 - 0.5 * math.log(2 * math.pi * var)         # saddle-point estimate of g
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
    tol = tol * 10.0 ** -level
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
    u = du * np.arange(int(math.ceil(top / du)) + 1)
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
    v = np.exp(-1j * du * np.outer(p.y, starts)) * base[:, None]             # nodes x blocks
    powers = np.exp(-1j * du * np.outer(np.arange(step), p.y))               # step x nodes
    both = powers @ np.concatenate([v, v * p.psi[:, None]], axis=1)          # step x 2·blocks
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
        coef *= math.prod(m ** k for (_, m, _), k in zip(atoms, ks))
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


def _moments(virtuals: Sequence[_Virtual], omega: np.ndarray, b: float, tol: float = 1e-10,
             level: int = 0, hint: dict | None = None) -> _Moments:
    """g(ω), the trade probability and D at weights ω (engine form, b the buyer's value).

    ``tol`` is the relative truncation target of the Bromwich sums; ``level`` 1 is the finer
    resolution (every panel halved, ``tol`` / 10) that error estimates compare against.
    """
    omega = np.asarray(omega, dtype=float)
    n = len(virtuals)
    active = np.flatnonzero(omega > 1e-15)
    B = b - sum(omega[i] * virtuals[i].c for i in active)
    d = np.zeros(n)
    if B <= 0 or active.size == 0:
        return _Moments(0.0, 0.0, d)
    members: dict[tuple[int, float], list[int]] = {}
    for i in active:
        members.setdefault((id(virtuals[i]), float(omega[i])), []).append(int(i))
    groups = [_Group(virtuals[m[0]], float(omega[m[0]]), len(m)) for m in members.values()]
    value, prob, dg, tail = _tail(groups, B, tol, level, {} if hint is None else hint)
    for m, dv in zip(members.values(), dg):
        d[m] = dv
    for j in np.setdiff1d(np.arange(n), active):
        d[j] = virtuals[j].mean * prob if prob > 0 else 0.0
    return _Moments(max(value, 0.0), min(max(prob, 0.0), 1.0), d, tail)


# ----------------------------------------------------------------------------- the model
@dataclass
class _Model:
    """An instance in engine form: one :class:`_Virtual` per agent (shared by agents whose
    per-share laws coincide), the buyer's value b, and the Bromwich tolerance."""

    virtuals: list[_Virtual]
    b: float
    instance: Instance
    tol: float = 1e-10
    hint: dict = field(default_factory=dict)      # Bromwich resolution that sufficed last time

    @classmethod
    def of(cls, instance: Instance, tol: float = 1e-10) -> "_Model":
        if not isinstance(instance, Instance):
            raise TypeError(f"expected an Instance, got {type(instance).__name__}")
        if instance.joint is not None:
            raise InstanceError("the continuous solver needs independent types (no [joint] table)",
                                field="joint", source=instance.source)
        mech = getattr(instance, "mechanism", None)
        if mech is not None and not mech.is_default:
            raise InstanceError("the continuous solver covers the default mechanism only (Bayesian IC, "
                                "interim participation, every agent a veto, profit)",
                                field="mechanism", source=instance.source)
        cache: dict[tuple, _Virtual] = {}
        virtuals = []
        for i in range(instance.n):
            law = _agent_law(instance, i)
            if law.key not in cache:
                cache[law.key] = _Virtual(law)
            virtuals.append(cache[law.key])
        b = instance.buyer_value if instance.side == "buy" else -instance.seller_cost
        return cls(virtuals, float(b), instance, tol)

    def moments(self, omega, level: int = 0, tol: float | None = None) -> _Moments:
        return _moments(self.virtuals, omega, self.b, self.tol if tol is None else tol, level, self.hint)

    def clamp_error(self, omega) -> float:
        """Bound on |g| change from clamping laws unbounded below (Σ ω_i E[φ̄_i,clamped - φ̄_i])."""
        return float(sum(w * v.shift for w, v in zip(omega, self.virtuals)))


def _optimize(model: _Model) -> np.ndarray:
    """ω* = argmin g over the simplex: closed form (1 agent), root of g' (2), SLSQP on log g (3+)."""
    n = len(model.virtuals)
    cs = np.array([v.c for v in model.virtuals])
    if n == 1:
        return np.ones(1)
    if cs.max() >= model.b:                    # some agent never trades below b: g* = 0 there
        return np.eye(n)[int(np.argmax(cs))]
    big = 1e100

    if n == 2:
        def slope(w):
            m = model.moments(np.array([w, 1 - w]))
            return float(np.clip((m.d[1] - m.d[0]) / max(m.value, 1e-300), -big, big))

        if slope(0.0) >= 0:
            return np.array([0.0, 1.0])
        if slope(1.0) <= 0:
            return np.array([1.0, 0.0])
        w = optimize.brentq(slope, 0.0, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps)
        return np.array([w, 1 - w])

    def fun(x):                                 # a looser tolerance is enough to find the region
        x = np.clip(x, 0, None)
        m = model.moments(x / x.sum(), tol=max(model.tol, 1e-8))
        val = max(m.value, 1e-300)
        return math.log(val), np.clip(-m.d / val, -big, big)

    res = optimize.minimize(fun, np.full(n, 1.0 / n), jac=True, method="SLSQP", bounds=[(0.0, 1.0)] * n,
                            constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1.0,
                                          "jac": lambda x: np.ones_like(x)}],
                            options={"ftol": 1e-12, "maxiter": 200})
    x = np.clip(res.x, 0, None)
    return x / x.sum()


def _polish(model: _Model, omega: np.ndarray, steps: int = 3) -> tuple[np.ndarray, float | None]:
    """Chord-Newton steps on the first-order conditions D_i = D_j over supp ω, and the
    Newton-model estimate ½ rᵀJ⁻¹r of g(ω) - min g (None when not available).

    SLSQP on a flat objective stops while the D_i still differ at ~1e-8 relative; the
    suboptimality is quadratic in that difference, which the Frank-Wolfe gap (linear in it)
    overstates. J, the reduced Hessian of g, is formed once by finite differences.
    """
    supp = np.flatnonzero(omega > 1e-10)
    if supp.size < 2:
        return omega, None
    free, last = supp[:-1], supp[-1]

    def resid(w):
        d = model.moments(w).d
        return d[last] - d[free], float(np.max(np.abs(d[supp])))

    r, scale = resid(omega)
    if np.all(np.abs(r) <= 1e-14 * scale):
        return omega, 0.0
    h = 1e-6
    jac = np.empty((free.size, free.size))
    for col, k in enumerate(free):
        w = omega.copy()
        w[k], w[last] = w[k] + h, w[last] - h
        jac[:, col] = (resid(w)[0] - r) / h
    try:
        solve = lambda res: -np.linalg.solve(jac, res)   # noqa: E731
        step = solve(r)
    except np.linalg.LinAlgError:
        return omega, None
    for _ in range(steps):
        full = np.zeros_like(omega)
        full[free], full[last] = step, -step.sum()
        shrink = min([1.0] + [0.9 * omega[k] / -full[k] for k in supp if full[k] < 0])
        trial = omega + shrink * full
        r_new, _ = resid(trial)
        if np.max(np.abs(r_new)) >= np.max(np.abs(r)):
            break
        omega, r = trial, r_new
        step = solve(r)
        if np.all(np.abs(r) <= 1e-14 * scale):
            break
    model_gap = float(-r @ step)
    return omega, (0.5 * model_gap if model_gap >= 0 else None)


def _gap(m: _Moments, omega: np.ndarray) -> float:
    """Frank-Wolfe certificate: max_i D_i - ω·D >= g(ω) - min g."""
    d = np.where(np.isfinite(m.d), m.d, 0.0)
    return max(0.0, float(np.max(m.d) - np.dot(omega, d))) if m.d.size > 1 else 0.0


# ----------------------------------------------------------------------------- posted prices
def _lower_end(law) -> float:
    """The lower end of a law's support: ppf(0), or a tiny quantile when unbounded below.

    (scipy's beta ppf does not converge at 1e-300 and returns NaN, so ppf(0) comes first.)
    """
    with np.errstate(all="ignore"):
        for q in (0.0, 1e-300, 1e-15):
            v = float(law.ppf(q))
            if math.isfinite(v):
                return v
    raise ValueError("the law's lower quantiles are not finite")


def _posted(model: _Model) -> tuple[float, float]:
    """Best collective posted price in engine form: argmax (b - p) Π F_i(p), and its value.

    A scan in logarithms finds the best region; the first-order condition
    Σ f_i/F_i = 1/(b - p) is then solved by brentq (the price to ~1e-15, not the ~1e-8 a
    direct maximization of a flat function gives).
    """
    laws = [v.law for v in model.virtuals]
    b = model.b
    lo = max(_lower_end(law) for law in laws)
    hi = min(b, max(v.hi for v in model.virtuals))   # above every top type raising p only loses
    if not lo < b:
        return math.nan, 0.0

    def log_profit(p):
        p = np.atleast_1d(np.asarray(p, dtype=float))
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log(b - p) + sum(law.logcdf(p) for law in laws)
        return np.where(np.isnan(out), -np.inf, out)

    def foc(p):
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(sum(np.exp(np.log(law.pdf(p)) - law.logcdf(p)) for law in laws) - 1.0 / (b - p))

    t = np.unique(np.concatenate([np.linspace(0, 1, 4001), np.logspace(-12, 0, 200), 1 - np.logspace(-12, 0, 200)]))
    grid = lo + (hi - lo) * t[(t > 0) & (t <= 1)]
    grid = grid[grid < b]
    vals = log_profit(grid)
    k = int(np.argmax(vals))
    if not np.isfinite(vals[k]):
        return math.nan, 0.0
    p = float(grid[k])
    left, right = float(grid[max(k - 1, 0)]), float(grid[min(k + 1, grid.size - 1)])
    try:
        if left < right and foc(left) > 0 > foc(right):
            p = optimize.brentq(foc, left, right, xtol=1e-300, rtol=4 * np.finfo(float).eps)
    except (ValueError, ZeroDivisionError):
        pass
    v = float(log_profit(p)[0])
    if v < vals[k]:
        p, v = float(grid[k]), float(vals[k])
    return p, math.exp(v)


# ----------------------------------------------------------------------------- public API
@dataclass
class ContinuousResult:
    """The continuous-type optimum of an instance (see :func:`solve_continuous`).

    Attributes
    ----------
    status : str
        ``"optimal"``, or a message saying why the answer is less accurate than asked.
    value : float
        The designer's optimal expected profit g(ω*).
    omega : ndarray
        The optimal weights ω* (file order), on the simplex.
    posted_price : float
        The best collective posted price, per-share units (nan when no price trades).
    posted_value : float
        The designer's expected profit at that price.
    ratio : float
        value / posted_value (nan when the posted value is 0).
    value_error : float
        Estimated absolute error of ``value``: suboptimality of ω (Newton model or
        Frank-Wolfe gap) + change between two quadrature resolutions + estimated Bromwich
        tail + clamping bound (see the module docstring).
    trade_probability : float
        P(ω*·φ̄ <= b) on the buy side, P(ω*·φ̄ >= c) on the sell side.
    seconds : float
        Wall-clock solve time.
    names : list of str
    side : str
    """

    status: str
    value: float
    omega: np.ndarray
    posted_price: float
    posted_value: float
    ratio: float
    value_error: float
    trade_probability: float
    seconds: float
    names: list[str] = field(default_factory=list)
    side: str = "buy"

    def to_dict(self) -> dict:
        """JSON-ready dict (non-finite numbers become None)."""
        num = lambda x: float(x) if x is not None and math.isfinite(x) else None   # noqa: E731
        return {"status": self.status, "side": self.side, "value": num(self.value),
                "omega": [float(w) for w in self.omega],
                "posted_price": {"price": num(self.posted_price), "value": num(self.posted_value)},
                "ratio": num(self.ratio), "value_error": num(self.value_error),
                "trade_probability": num(self.trade_probability), "solve_seconds": float(self.seconds),
                "method": "continuous", "formulation": "continuous"}

    def summary(self) -> str:
        """A readable multi-line summary (value, ω, posted price and ratio, error estimate)."""
        rel = self.value_error / self.value if self.value > 0 else math.nan
        width = max([len(n) for n in self.names] + [1])
        cells = [f"{name:<{width}} {w:.8f}" for name, w in zip(self.names, self.omega)]
        per_line = 1 if len(cells) <= 10 else 4
        lines = [f"Continuous types, {self.side} side, {len(self.names)} agent(s): {self.status}",
                 f"  optimal value      {self.value:.10g}   (estimated error {self.value_error:.1e}, "
                 f"relative {rel:.1e})",
                 "  weights ω"]
        lines += ["    " + "   ".join(cells[k:k + per_line]) for k in range(0, len(cells), per_line)]
        if math.isfinite(self.posted_price):
            lines.append(f"  best posted price  {self.posted_price:.8g} per share, value {self.posted_value:.8g}; "
                         f"optimal/posted = {self.ratio:.6g}")
        else:
            lines.append("  best posted price  none (no price trades at a profit)")
        lines.append(f"  trade probability  {self.trade_probability:.6g}")
        lines.append(f"  solved in {self.seconds:.2f} s")
        return "\n".join(lines)


def solve_continuous(instance: Instance, *, rtol: float = 1e-9) -> ContinuousResult:
    """Optimal weights, value and best posted price for independent continuous types.

    Every agent must come from a scipy.stats law (:meth:`lpmech.Agent.from_distribution`):
    a continuous agent (no ``points``: :attr:`lpmech.Instance.is_continuous`), or a discretized
    one, whose grid (``points``) is ignored. See the module docstring for the method.

    Parameters
    ----------
    instance : Instance
        Independent types, default mechanism.
    rtol : float
        Target relative accuracy of the value. The status is ``"optimal"`` when
        ``value_error <= rtol * value``, and otherwise says how far off the estimate is.

    Returns
    -------
    ContinuousResult
        ``to_dict()`` carries ``"formulation": "continuous"``.

    Raises
    ------
    InstanceError
        When an agent has a grid but no law, types are correlated, or the mechanism is not
        the default one.

    Examples
    --------
    Two sellers with costs iid U[0, 1] and a buyer with value 1: ω = (1/2, 1/2), trade iff
    θ_1 + θ_2 <= 1, value 1/6, and the best posted price 2/3 earns 4/27.

    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent.from_distribution(n, "uniform", {}, points=5) for n in "ab"],
    ...                 buyer_value=1.0)
    >>> res = solve_continuous(inst)
    >>> round(res.value, 10), res.omega.round(8).tolist(), round(res.posted_price, 8), round(res.ratio, 8)
    (0.1666666667, [0.5, 0.5], 0.66666667, 1.125)
    """
    start = time.perf_counter()
    model = _Model.of(instance, tol=min(1e-10, 0.1 * rtol))
    omega = _optimize(model)
    omega, newton = _polish(model, omega) if instance.n > 2 else (omega, None)
    base = model.moments(omega)
    fine = model.moments(omega, level=1)
    kkt = _gap(fine, omega)
    unused = np.setdiff1d(np.arange(instance.n), np.flatnonzero(omega > 1e-10))
    inactive_ok = unused.size == 0 or np.max(fine.d[unused]) <= np.max(fine.d[omega > 1e-10])
    suboptimal = min(kkt, newton) if newton is not None and inactive_ok else kkt
    error = (abs(fine.value - base.value) + fine.tail * fine.value + suboptimal
             + model.clamp_error(omega))
    p, posted_value = _posted(model)
    value = fine.value
    if posted_value > 0:
        ratio = value / posted_value
    else:
        ratio = math.nan
    price = -p if instance.side == "sell" else p
    if error <= rtol * value or value == 0:
        status = "optimal"
    else:
        status = f"optimal within estimated relative error {error / value:.1e} (above rtol = {rtol:g})"
    return ContinuousResult(status=status, value=value, omega=omega, posted_price=price,
                            posted_value=posted_value, ratio=ratio, value_error=error,
                            trade_probability=fine.prob, seconds=time.perf_counter() - start,
                            names=list(instance.names), side=instance.side)


def dual_objective(instance: Instance, omega: Sequence[float]) -> tuple[float, np.ndarray]:
    """g(ω) = E[(b - ω·φ̄)_+] (sell side E[(ω·φ̄ - c)_+]) and its gradient in ω.

    The gradient is -E[φ̄_i 1{ω·φ̄ <= b}] on the buy side (sell side: +E[φ̄_i 1{ω·φ̄ >= c}]
    with the sell-side virtual values). For any ω, g(ω) bounds the optimal value from above.

    Examples
    --------
    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent.from_distribution(n, "uniform", {}, points=5) for n in "ab"],
    ...                 buyer_value=1.0)
    >>> g, grad = dual_objective(inst, [0.5, 0.5])
    >>> round(g, 12), grad.round(12).tolist()
    (0.166666666667, [-0.333333333333, -0.333333333333])
    """
    model = _Model.of(instance)
    omega = np.asarray(omega, dtype=float)
    if omega.shape != (instance.n,) or np.any(omega < 0) or abs(omega.sum() - 1) > 1e-9:
        raise InstanceError(f"must be {instance.n} nonnegative weights summing to 1", field="omega")
    m = model.moments(omega)
    grad = -m.d if instance.side == "buy" else m.d
    return m.value, grad


def continuous_posted_price(instance: Instance) -> tuple[float, float]:
    """The best collective posted price (per-share units) and its expected profit.

    Maximizes (b - p) Π_i F_i(p) (sell side (p - c) Π_i (1 - F_i(p))) in logarithms, so that
    tiny acceptance probabilities keep their relative accuracy.

    Examples
    --------
    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent.from_distribution("a", "uniform", {}, points=5)], buyer_value=1.0)
    >>> p, v = continuous_posted_price(inst)
    >>> round(p, 10), round(v, 10)
    (0.5, 0.25)
    """
    p, value = _posted(_Model.of(instance))
    return (-p if instance.side == "sell" else p), value


class VirtualCost:
    """One agent's continuous virtual cost (buy side) or value (sell side), raw and ironed.

    In the user's per-share units (also for ``types = "total"``): buy side
    φ(θ) = θ + F(θ)/f(θ), sell side φ(θ) = θ - (1 - F(θ))/f(θ). ``ironed`` is Myerson's
    ironed version (nondecreasing, constant on each of :attr:`intervals`).

    Examples
    --------
    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent.from_distribution("a", "uniform", {}, points=5)], buyer_value=1.0)
    >>> vc = virtual_costs(inst)[0]
    >>> vc.raw([0.25, 0.5]).tolist(), vc.intervals
    ([0.5, 1.0], [])
    """

    def __init__(self, virtual: _Virtual, side: str):
        self._v, self._sell = virtual, side == "sell"

    def _map(self, fn, theta):
        theta = np.asarray(theta, dtype=float)
        return -fn(-theta) if self._sell else fn(theta)

    def raw(self, theta) -> np.ndarray:
        """φ(θ) before ironing."""
        return self._map(self._v.law.phi, theta)

    def ironed(self, theta) -> np.ndarray:
        """φ̄(θ), constant on each ironing interval."""
        return self._map(self._v.bar, theta)

    __call__ = ironed

    @property
    def intervals(self) -> list[tuple[float, float, float]]:
        """Ironing intervals (θ_lo, θ_hi, level) in user units, increasing θ."""
        p = self._v.pools
        out = [(float(a), float(b), float(lev)) for a, b, lev in zip(p["a"], p["b"], p["level"])]
        if self._sell:
            out = [(-b, -a, -lev) for a, b, lev in reversed(out)]
        return out


def virtual_costs(instance: Instance) -> list[VirtualCost]:
    """The continuous virtual costs (values) of every agent, raw and ironed."""
    model = _Model.of(instance)
    return [VirtualCost(v, instance.side) for v in model.virtuals]
