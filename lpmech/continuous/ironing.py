"""Myerson's ironing of a continuous virtual cost: φ̄ from the lower convex hull of H(q).

:class:`_Virtual` holds φ̄ for one agent (the derivative of the greatest convex minorant of
H(q) = ∫_0^q φ(F⁻¹(s)) ds), its ironing intervals (pools) and its kinks.

References
----------
R. B. Myerson, "Optimal auction design", Mathematics of Operations Research 6 (1981), section 6.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
from scipy import optimize

from .law import CLAMP_MASS, _Law


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
        self.shift = self.q_lo * (self.c - self.lo)  # = E[φ̄_clamped - φ̄ ; q < q_lo] >= 0
        top = float(self.bar(np.array([self.hi]))[0]) if np.isfinite(self.hi) else np.inf
        self.top = np.inf if np.isnan(top) else top
        self.mean = self.hi + self.shift if np.isfinite(self.hi) else np.inf

    # -- ironing -------------------------------------------------------------------------
    def _find_pools(self) -> dict[str, np.ndarray]:
        law = self.law
        q = np.unique(
            np.concatenate([np.linspace(0, 1, 4097)[1:-1], np.logspace(-15, -3, 49), 1 - np.logspace(-15, -3, 49)])
        )
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
        for i, j in pairwise(hull):
            if j <= i + 1:
                continue
            k = np.arange(i + 1, j)
            chord = ys[i] + (ys[j] - ys[i]) * (xs[k] - xs[i]) / (xs[j] - xs[i])
            if np.max(ys[k] - chord) > tol:
                pools.append(self._refine_pool(xs, ys, i, j))
        if not pools:
            return empty
        arr = np.array(pools)
        return {
            "a": arr[:, 0],
            "b": arr[:, 1],
            "qa": self.law.cdf(arr[:, 0]),
            "qb": np.where(arr[:, 1] >= self.hi, 1.0, self.law.cdf(arr[:, 1])),
            "level": arr[:, 2],
        }

    def _refine_pool(self, xs, ys, i, j) -> tuple[float, float, float]:
        """Exact ends (a, b) and level of one ironing interval, from its grid-hull guess."""
        law = self.law
        theta_of = lambda k: ys[k] / xs[k] if xs[k] > 0 else self.lo
        a0 = theta_of(i)
        top = j == xs.size - 1 and np.isfinite(self.hi)
        b0 = self.hi if top else theta_of(j)

        def level(a, b):
            qa = law.cdf(a)
            qb = 1.0 if b >= self.hi else law.cdf(b)
            return (b * qb - a * qa) / (qb - qa)

        if top:
            lo_k, hi_k = max(i - 1, 1), min(i + 1, xs.size - 2)
            f = lambda a: float(law.phi(a)) - level(a, self.hi)
            lo_t, hi_t = theta_of(lo_k), theta_of(hi_k)
            if lo_t < hi_t and f(lo_t) * f(hi_t) < 0:
                a0 = optimize.brentq(f, lo_t, hi_t, xtol=1e-15, rtol=1e-14)
            return a0, self.hi, level(a0, self.hi)

        def resid(x):
            lam = level(x[0], x[1])
            return [float(law.phi(x[0])) - lam, float(law.phi(x[1])) - lam]

        with np.errstate(all="ignore"):
            sol = optimize.root(resid, [a0, b0], method="hybr", options={"xtol": 1e-14})
        a, b = sol.x if sol.success else (a0, b0)
        near = lambda v, k: theta_of(max(k - 1, 1)) <= v <= theta_of(min(k + 1, xs.size - 1))
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
        to_theta = lambda z: self.lo + span * (np.expm1(kap * z) / math.expm1(kap))  # no overflow for wide spans
        z_lo, z_hi = np.zeros(lam.shape), np.ones(lam.shape)
        for _ in range(12):
            mid = 0.5 * (z_lo + z_hi)
            ok = self.bar(to_theta(mid)) <= lam
            z_lo, z_hi = np.where(ok, mid, z_lo), np.where(ok, z_hi, mid)
        t_lo, t_hi = to_theta(z_lo), to_theta(z_hi)
        f_lo, f_hi = self.bar(t_lo) - lam, self.bar(t_hi) - lam
        kept = np.zeros(lam.shape)  # +1: hi kept last time, -1: lo kept last time
        slow = np.zeros(lam.shape, dtype=bool)  # the last step did not halve the bracket
        for _ in range(80):
            width = t_hi - t_lo
            eps = 4 * np.finfo(float).eps  # round-off floors below
            if np.all(
                (width <= 1e-14 * np.abs(t_lo - self.lo) + eps * np.abs(t_lo) + 1e-300)
                | (np.abs(f_lo) <= 1e-14 * np.abs(lam - self.c) + eps * np.abs(lam) + 1e-300)
            ):
                break
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                t_fp = t_lo - f_lo * width / (f_hi - f_lo)
            t_fp = np.clip(t_fp, t_lo + 1e-3 * width, t_hi - 1e-3 * width)  # safeguard: shrink >= 0.1%
            t_new = np.where(np.isfinite(t_fp) & ~slow, t_fp, t_lo + 0.5 * width)
            f_new = self.bar(t_new) - lam
            ok = f_new <= 0
            f_hi = np.where(ok & (kept > 0), 0.5 * f_hi, f_hi)  # Illinois: halve a stale end
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
