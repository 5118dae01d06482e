"""The maximin path in exact arithmetic (docs/model.md, sections 3-6 and 12).

Both bounds come from the theorem. Any interim-monotone x with 0 <= x <= 1 is implementable,
so V(x) = min_i E[x(b − φ_i)] is a lower bound on the optimum; for any ω in the simplex,
g(ω) = E[(b − ω·φ̄)_+] is an upper bound (the ironing inequality, then 0 <= x <= 1). Computed
in rational arithmetic, V(x) = g(ω) proves both optimal.

From a float solution to an exact pair:

1. φ and φ̄ exactly: the discrete virtual costs, and the slopes of the greatest convex minorant
   of H against F (pool adjacent violators on exact weighted means).
2. An exact ω: at the float ω the profiles with |ω·φ̄ − b| small are the pieces of g that are
   active there (the tie set), and the agents with ω_i > 0 its support. The exact ω is the point
   nearest the float ω (a rational approximation of it, projected exactly) of the affine set
   where every tie equation ω·φ̄(θ) = b holds, Σω = 1 and ω_i = 0 off the support. Several tie
   tolerances are tried; the first ω that proves is kept. When none proves (the float ω can sit
   inside a piece of g whose exact slope is about 1e-17, which the float LP cannot see, or an
   agent needs an exact weight the float reads as 0), g is minimized over the simplex exactly by
   cutting planes from there (:func:`descend_omega`: pieces of g from deterministic best
   responses, an exact master LP in (ω, t)); its ω is optimal when g(ω) equals the master's t.
3. An exact x: 1 where ω·φ̄ < b, 0 where ω·φ̄ > b (exact signs); on the exact tie set, first the
   uniform mixture x = 1[ω·φ̄ < b] + λ·1[ω·φ̄ = b] with λ maximizing min_i E[x(b − φ_i)] (exactly,
   over the breakpoints), which is monotone and constant on ironing intervals; if that does not
   close the gap, the tie-completion LP (x free on the ties, pinned elsewhere) solved by HiGHS,
   its basis solved exactly (:mod:`lpmech.exact.lp`). After the descent, also the convex
   combination of the cuts' best responses with the master's dual weights.
4. Exact checks of x (interim monotone, in [0, 1]), V(x) and g(ω); transfers from the envelope
   formula (section 6) and the brute-force BIC/IR audit of (x, m) (:func:`lpmech.exact.audit.verify_exact`):
   every violation exactly 0, the audited profit exactly the value.

All of it runs in the engine form (sell side: types negated, grids reversed, b = −c) and is
mapped back exactly. Arrays over profiles are numpy object arrays of fmpq (vectorized; fmpq
arithmetic is C code).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from fractions import Fraction

import flint
import numpy as np

from ..profiles import along
from ..tolerances import CHECK_RTOL, TIE_RTOL, limit
from .audit import verify_exact
from .data import (
    EXACT_MAX_PROFILES,
    ONE,
    ZERO,
    Certificate,
    ExactData,
    ExactEngine,
    check_exact_size,
    exact_data,
    frac,
    q,
    qarray,
)
from .lp import ExactLP, certify_lp

__all__ = [
    "virtual_costs_exact",
    "iron_exact",
    "MaximinExact",
    "exact_transfers",
    "certify_maximin",
    "maximin_bounds",
    "exact_omega",
    "descend_omega",
    "simplex_point",
]

# These only steer the search for an exact pair; acceptance is exact (V(x) = g(ω)), never a tolerance.
#: Relative tie tolerances tried, in order, when reading the active pieces of g off a float ω
#: (TIE_RTOL first; the float ω is accurate to the LP's tolerances, 1e-9 relative).
OMEGA_TIE_RTOLS = (TIE_RTOL, 1e-7, 1e-11, 1e-5, 0.0)  # TODO(tolerances)
#: The float ω is first rounded to a rational with at most this denominator, then projected exactly.
OMEGA_DENOMINATOR = 10**12  # TODO(tolerances)
#: A float allocation's tie values are tried as rationals with at most this denominator.
HINT_DENOMINATOR = 1000  # TODO(tolerances)
#: ω_i at or below max(tie tolerance, this) is read as off the support.
SUPPORT_FLOOR = 1e-15  # TODO(tolerances)
#: Cutting planes (pieces of g) the exact descent of :func:`descend_omega` may add.
MAX_DESCENT_CUTS = 200
#: The first half-width of the box around the best ω in which :func:`descend_omega` cuts g.
DESCENT_RADIUS = Fraction(1, 1024)


def virtual_costs_exact(grid: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Discrete virtual costs φ(t_k) = t_k + (t_k − t_{k−1}) F_{k−1} / p_k, exactly (buy-side form).

    Parameters
    ----------
    grid : ndarray of fmpq, shape (K,)
        Increasing costs.
    probs : ndarray of fmpq, shape (K,)
        The pmf (summing to 1).

    Returns
    -------
    ndarray of fmpq, shape (K,)

    Examples
    --------
    >>> from lpmech.exact.data import qarray
    >>> [str(v) for v in virtual_costs_exact(qarray(["1/4", "3/4"]), qarray(["1/2", "1/2"]))]
    ['1/4', '5/4']
    """
    out = np.empty(grid.size, dtype=object)
    cdf = ZERO
    for k in range(grid.size):
        out[k] = grid[k] if k == 0 else grid[k] + (grid[k] - grid[k - 1]) * cdf / probs[k]
        cdf += probs[k]
    return out


def iron_exact(phi: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Ironed virtual costs φ̄: slopes of the greatest convex minorant of H(F), exactly.

    Pool adjacent violators on exact p-weighted means: a block's mean is the slope of the
    minorant over the block's probability interval (docs/model.md, section 3).

    Parameters
    ----------
    phi, probs : ndarray of fmpq, shape (K,)

    Returns
    -------
    ndarray of fmpq, shape (K,)

    Examples
    --------
    >>> from lpmech.exact.data import qarray
    >>> [str(v) for v in iron_exact(qarray([1, 3, 2]), qarray(["1/5", "2/5", "2/5"]))]
    ['1', '5/2', '5/2']
    """
    blocks: list[list] = []  # [weight, weighted sum, count]
    for f, p in zip(phi, probs):
        blocks.append([p, p * f, 1])
        while len(blocks) > 1 and blocks[-2][1] * blocks[-1][0] > blocks[-1][1] * blocks[-2][0]:
            w, s, c = blocks.pop()
            blocks[-1][0] += w
            blocks[-1][1] += s
            blocks[-1][2] += c
    out = []
    for w, s, c in blocks:
        out.extend([s / w] * c)
    return np.array(out, dtype=object)


def _indicator(mask: np.ndarray) -> np.ndarray:
    """1[mask] as an fmpq object array of the mask's shape (ONE where it holds, ZERO elsewhere)."""
    out = np.full(mask.shape, ZERO, dtype=object)
    out[mask] = ONE
    return out


def _sum_others(arr: np.ndarray, i: int) -> np.ndarray:
    axes = tuple(j for j in range(arr.ndim) if j != i)
    out = arr.sum(axis=axes) if axes else arr
    return np.asarray(out, dtype=object)


class MaximinExact:
    """The exact quantities of one instance's maximin problem (engine form).

    Parameters
    ----------
    data : ExactData
        Independent types.

    Attributes
    ----------
    engine : ExactEngine
    phi, phi_bar : list of ndarray of fmpq
        Raw and ironed virtual costs per agent.
    pmf : ndarray of fmpq, shape K_1 x ... x K_N

    Notes
    -----
    Every number here is a python-flint ``fmpq`` (compare with :func:`lpmech.exact.data.frac`
    of it: an fmpq never equals a Fraction or a float).
    """

    def __init__(self, data: ExactData):
        if not data.independent:
            raise ValueError("the maximin path needs independent types")
        self.data = data
        self.engine: ExactEngine = data.engine()
        e = self.engine
        self.n = e.n
        self.b = e.b
        self.phi = [virtual_costs_exact(t, p) for t, p in zip(e.grids, e.probs)]
        self.phi_bar = [iron_exact(f, p) for f, p in zip(self.phi, e.probs)]
        pmf = np.array(ONE, dtype=object).reshape(())
        for p in e.probs:
            pmf = np.multiply.outer(pmf, p)
        self.pmf = pmf
        self.phi_bar_float = [np.array([float(v) for v in f]) for f in self.phi_bar]

    # ------------------------------------------------------------------ the two bounds
    def index(self, omega: Sequence) -> np.ndarray:
        """ω·φ̄(θ) − b over the profiles (fmpq object array)."""
        out = np.full(self.engine.shape, -self.b, dtype=object)
        for i, (w, f) in enumerate(zip(omega, self.phi_bar)):
            if w != 0:
                out = out + along(w * f, i, self.n)
        return out

    def g(self, omega: Sequence, index: np.ndarray | None = None):
        """g(ω) = E[(b − ω·φ̄)_+] exactly."""
        idx = self.index(omega) if index is None else index
        neg = idx < ZERO
        return (self.pmf[neg] * -idx[neg]).sum() if neg.any() else ZERO

    def marginals(self, x: np.ndarray) -> list[np.ndarray]:
        """Σ_{θ: θ_i = t} P(θ) x(θ) for each agent (= p_i(t) X_i(t))."""
        mass = self.pmf * x
        return [_sum_others(mass, i) for i in range(self.n)]

    def gains(self, x: np.ndarray, marginals: list[np.ndarray] | None = None) -> list:
        """E[x(b − φ_i)] for each agent (the maximin rows), exactly."""
        marg = self.marginals(x) if marginals is None else marginals
        return [sum(((self.b - f) * m for f, m in zip(phi, mg)), ZERO) for phi, mg in zip(self.phi, marg)]

    def ironed_gains(self, x: np.ndarray) -> list:
        """E[x(b − φ̄_i)] for each agent, exactly: g(ω) >= Σ_i ω_i E[x(b − φ̄_i)] for every ω in
        the simplex and every x in [0, 1], with equality when x is a best response to ω."""
        marg = self.marginals(x)
        return [sum(((self.b - f) * m for f, m in zip(fb, mg)), ZERO) for fb, mg in zip(self.phi_bar, marg)]

    def best_responses(self, omega: Sequence) -> list[np.ndarray]:
        """The deterministic best responses 1[ω·φ̄ < b] and (if there are ties) 1[ω·φ̄ <= b].

        Each is interim monotone and constant on every agent's ironing intervals (an agent with
        ω_i > 0 enters through φ̄_i, one with ω_i = 0 not at all), so its gains with φ and φ̄ agree.
        """
        idx = self.index(omega)
        less = idx < ZERO
        out = [_indicator(less)]
        tie = idx == ZERO
        if tie.any():
            out.append(_indicator(less | tie))
        return out

    def interim(self, x: np.ndarray, marginals: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """X_i(t) = E[x | θ_i = t] for each agent, exactly."""
        marg = self.marginals(x) if marginals is None else marginals
        return [mg / p for mg, p in zip(marg, self.engine.probs)]

    def evaluate(self, x: np.ndarray) -> dict:
        """Exact checks of an allocation (engine form): bounds, monotonicity, V(x), per-agent gains."""
        marg = self.marginals(x)
        X = self.interim(x, marg)
        gains = self.gains(x, marg)
        below = max((-v for v in x.ravel() if v < 0), default=ZERO)
        above = max((v - 1 for v in x.ravel() if v > 1), default=ZERO)
        mono = ZERO
        for Xi in X:
            for k in range(Xi.size - 1):
                mono = max(mono, Xi[k + 1] - Xi[k])  # engine form: X_i decreasing in cost
        return {
            "V": min(gains),
            "gains": gains,
            "X": X,
            "bound_violation": max(below, above),
            "monotonicity_violation": mono,
        }

    # ------------------------------------------------------------------ x from ω
    def allocation(self, omega: Sequence, hint: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
        """An exact x for an exact ω: signs off the tie set, the best completion on it.

        Returns (x, info) with info["tie_profiles"] and info["completion"] ("none", "hint",
        "mixture", "lp").
        """
        idx = self.index(omega)
        less = idx < ZERO
        tie = idx == ZERO
        x = _indicator(less)
        n_tie = int(tie.sum())
        info = {"tie_profiles": n_tie, "completion": "none"}
        if not n_tie:
            return x, info
        g = self.g(omega, idx)
        best_x, best_v = x, min(self.gains(x))
        if hint is not None:
            xh = x.copy()
            xh[tie] = hint[tie]
            v = self.evaluate(xh)
            if v["bound_violation"] == 0 and v["monotonicity_violation"] == 0:
                if v["V"] == g:
                    info["completion"] = "hint"
                    return xh, info
                if v["V"] > best_v:
                    best_x, best_v = xh, v["V"]
        # the uniform mixture over the tie set
        base = self.gains(x)
        tie_x = _indicator(tie)
        slope = self.gains(tie_x)
        lam = _best_mixture(base, slope)
        xm = x.copy()
        xm[tie] = lam
        vm = min(a + lam * d for a, d in zip(base, slope))
        if vm == g:
            info["completion"] = "mixture"
            return xm, info
        if vm > best_v:
            best_x, best_v = xm, vm
        # the tie-completion LP, its basis solved exactly
        xl = self._completion_lp(x, tie)
        if xl is not None:
            ev = self.evaluate(xl)
            if ev["bound_violation"] == 0 and ev["monotonicity_violation"] == 0 and ev["V"] >= best_v:
                info["completion"] = "lp"
                return xl, info
        info["completion"] = "mixture"
        return best_x, info

    def _completion_lp(self, x: np.ndarray, tie: np.ndarray) -> np.ndarray | None:
        """max z: z <= E[x(b − φ_i)], X_i monotone, x free in [0, 1] on ``tie``, pinned elsewhere."""
        n = self.n
        cells = np.argwhere(tie)  # (nT, N) profile indices
        n_t = cells.shape[0]
        z = n_t
        pin_marg = self.marginals(x)
        pin_gain = self.gains(x, pin_marg)
        probs = self.engine.probs
        pmf_t = self.pmf[tie]
        rows, cols, vals = [], [], []
        row_lo: list[flint.fmpq | None] = []
        row_hi: list[flint.fmpq | None] = []
        for i in range(n):
            coef = pmf_t * (self.b - self.phi[i][cells[:, i]])
            nz = np.flatnonzero(coef != ZERO)
            rows += [len(row_lo)] * (nz.size + 1)
            cols += [*nz.tolist(), z]
            vals += [*(-coef[nz]), ONE]
            row_lo.append(None)
            row_hi.append(pin_gain[i])
        for i in range(n):
            p = probs[i]
            X_pin = pin_marg[i] / p
            other = pmf_t / p[cells[:, i]]  # P_{-i}(θ_{-i}) of each tie profile
            ki = p.size
            touched = set(cells[:, i].tolist())
            for k in range(ki - 1):
                if k not in touched and k + 1 not in touched:
                    continue
                r = len(row_lo)
                up = np.flatnonzero(cells[:, i] == k)
                dn = np.flatnonzero(cells[:, i] == k + 1)
                rows += [r] * (up.size + dn.size)
                cols += up.tolist() + dn.tolist()
                vals += list(other[up]) + list(-other[dn])
                row_lo.append(X_pin[k + 1] - X_pin[k])
                row_hi.append(None)
        c = np.full(n_t + 1, ZERO, dtype=object)
        c[z] = ONE
        lp = ExactLP(
            np.array(rows, dtype=np.int64),
            np.array(cols, dtype=np.int64),
            np.array(vals, dtype=object),
            len(row_lo),
            n_t + 1,
            row_lo,
            row_hi,
            [ZERO] * n_t + [None],
            [ONE] * n_t + [None],
            c,
        )
        v = certify_lp(lp, "maximin LP completing x on the exact tie set")[2]
        if v is None:
            return None
        out = x.copy()
        vt = v[:n_t]
        if any(a < 0 or a > 1 for a in vt):
            return None
        out[tie] = vt
        return out


def _best_mixture(base: list, slope: list):
    """λ in [0, 1] maximizing min_i (base_i + λ slope_i), exactly (over the breakpoints)."""
    cands = {ZERO, ONE}
    for i in range(len(base)):
        for j in range(i + 1, len(base)):
            if slope[i] != slope[j]:
                lam = (base[j] - base[i]) / (slope[i] - slope[j])
                if ZERO < lam < ONE:
                    cands.add(lam)
    return max(sorted(cands), key=lambda lam: min(a + lam * d for a, d in zip(base, slope)))


def exact_omega(mx: MaximinExact, omega_float: Sequence[float], tie_rtol: float) -> list | None:
    """The exact ω nearest the float ω on which the float ω's active pieces of g hold exactly.

    Equations: ω·φ̄(θ) = b on the profiles tied at the float ω (relative tolerance ``tie_rtol``
    of |b| + Σ_i ω_i |φ̄_i(θ_i)|), Σω = 1, ω_i = 0 off the support (ω_i <= tie_rtol). The
    solution nearest the rounded float ω is taken (exact projection onto the equations' affine
    set). Returns None when the equations are inconsistent or ω leaves the simplex.
    """
    n = mx.n
    w = np.clip(np.asarray(omega_float, dtype=float), 0.0, None)
    if not w.sum() > 0:
        return None
    w = w / w.sum()
    eqs: list[list] = [[ONE] * n + [ONE]]
    for i in range(n):
        if w[i] <= max(tie_rtol, SUPPORT_FLOOR):
            eqs.append([ONE if j == i else ZERO for j in range(n)] + [ZERO])
    if tie_rtol > 0:
        idx = np.full(mx.engine.shape, -float(mx.b))
        mag = np.full(mx.engine.shape, abs(float(mx.b)))
        for i, f in enumerate(mx.phi_bar_float):
            idx = idx + w[i] * along(f, i, n)
            mag = mag + w[i] * along(np.abs(f), i, n)
        tied = np.argwhere(np.abs(idx) <= tie_rtol * mag)
        if tied.shape[0]:
            # distinct equations: distinct vectors (φ̄_1(θ_1), ..., φ̄_N(θ_N)) over the tie set
            level = []
            for f in mx.phi_bar:
                ids: dict[tuple[int, int], int] = {}
                first: list[int] = []
                lv = np.empty(f.size, dtype=np.int64)
                for k, v in enumerate(f):
                    key = (int(v.p), int(v.q))
                    if key not in ids:
                        ids[key] = len(first)
                        first.append(k)
                    lv[k] = ids[key]
                level.append((lv, first))
            keys = np.stack([level[i][0][tied[:, i]] for i in range(n)], axis=1)
            uniq = np.unique(keys, axis=0)
            if uniq.shape[0] > 50 * n:  # enough to span: a random sample keeps the rank
                uniq = uniq[np.random.default_rng(0).choice(uniq.shape[0], 50 * n, replace=False)]
            for row in uniq:
                eqs.append([mx.phi_bar[i][level[i][1][row[i]]] for i in range(n)] + [mx.b])
    M = flint.fmpq_mat(len(eqs), n + 1, [v for row in eqs for v in row])
    R, rank = M.rref()
    rows = []
    for r in range(rank):
        coeffs = [R[r, j] for j in range(n)]
        if all(c == 0 for c in coeffs):
            return None  # 0 = nonzero: inconsistent
        rows.append((coeffs, R[r, n]))
    w0 = [q(Fraction(float(v)).limit_denominator(OMEGA_DENOMINATOR)) for v in w]
    k = len(rows)
    A = flint.fmpq_mat(k, n, [c for coeffs, _ in rows for c in coeffs])
    resid = flint.fmpq_mat(k, 1, [rhs - sum((c * v for c, v in zip(coeffs, w0)), ZERO) for coeffs, rhs in rows])
    try:
        zvec = (A * A.transpose()).solve(resid)
    except ZeroDivisionError:
        return None
    corr = A.transpose() * zvec
    omega = [w0[i] + corr[i, 0] for i in range(n)]
    if any(v < 0 for v in omega) or sum(omega, ZERO) != 1:
        return None
    return omega


def simplex_point(omega_float: Sequence[float]) -> list | None:
    """The float ω as an exact point of the simplex: clipped at 0, rounded to rationals with
    denominators at most :data:`OMEGA_DENOMINATOR`, the largest entry absorbing the rest."""
    w = np.clip(np.asarray(omega_float, dtype=float), 0.0, None)
    if not w.sum() > 0:
        return None
    w = w / w.sum()
    out = [q(Fraction(float(v)).limit_denominator(OMEGA_DENOMINATOR)) for v in w]
    top = int(np.argmax(w))
    out[top] = ONE - sum((v for i, v in enumerate(out) if i != top), ZERO)
    return out if all(v >= 0 for v in out) else None


def descend_omega(
    mx: MaximinExact,
    seeds: Sequence[Sequence],
    *,
    max_cuts: int = MAX_DESCENT_CUTS,
    radius=DESCENT_RADIUS,
    stop_below=None,
):
    """Minimize g over the simplex exactly, by cutting planes from the seeds (Kelley's method in a box).

    Each deterministic best response x^k to some ω^k gives a piece of g: g(ω) >= Σ_i ω_i G̃_i(x^k)
    with G̃_i(x) = E[x(b − φ̄_i)], equal at ω^k. The master LP min t, t >= every cut, ω in the
    simplex and in a box of half-width δ around the best ω so far, is solved exactly (HiGHS's
    basis, then :func:`lpmech.exact.lp.certify_lp`). When g(ω) > t the best response at ω adds a
    cut; when g(ω) = t, ω minimizes g on the box, and if no box side (other than 0 or 1) holds ω
    it minimizes g on the whole simplex (g is convex) and is returned; otherwise the box is
    re-centred at ω and widened (δ × 4, up to the whole simplex). Finite: g has finitely many pieces.

    This is the way to an exact optimum when the float ω sits inside a piece of g whose exact
    slope is not zero (the float LP cannot see a slope of 1e-17): the exact optimal face is then
    a kink of g that no profile near the float ω ties at.

    Parameters
    ----------
    mx : MaximinExact
    seeds : sequence of sequences of fmpq, each of length N
        Exact points of the simplex (None entries are skipped); the box starts at the seed with
        the least g.
    max_cuts : int
        Cuts (pieces of g) allowed before giving up.
    radius : number
        The box's first half-width δ (an exact rational).
    stop_below : number, optional
        Give up (return None) as soon as some ω has g(ω) below this: the caller only wants the
        optimum when it is this close to its seed.

    Returns
    -------
    (omega, mu, xs) or None
        The exact optimal ω; the master's dual weights μ on the cuts (None if unavailable) and
        the cuts' allocations xs: Σ_k μ_k x^k is then an optimal x (a convex combination of
        monotone allocations constant on the ironing intervals, with min_i of its gains = t).
        None when the cut budget ends, a master LP is not proven, or g went below ``stop_below``.
    """
    n = mx.n
    floor = None if stop_below is None else q(stop_below)
    xs: list[np.ndarray] = []
    cuts: list[list] = []
    seen: set = set()

    def add(omega):
        for x in mx.best_responses(omega):
            gains = mx.ironed_gains(x)
            key = tuple((int(v.p), int(v.q)) for v in gains)
            if key not in seen:
                seen.add(key)
                xs.append(x)
                cuts.append(gains)

    center, g_center = None, None
    for omega in seeds:
        if omega is None:
            continue
        add(omega)
        g = mx.g(omega)
        if g_center is None or g < g_center:
            center, g_center = list(omega), g
    delta = q(radius)
    while cuts and len(cuts) <= max_cuts:
        k = len(cuts)
        lo = [max(ZERO, c - delta) for c in center]
        hi = [min(ONE, c + delta) for c in center]
        entries = []  # (row, column, value)
        for r, gains in enumerate(cuts):  # Σ_i G̃_i^r ω_i − t <= 0
            entries += [(r, i, gains[i]) for i in range(n) if gains[i] != 0] + [(r, n, -ONE)]
        entries += [(k, i, ONE) for i in range(n)]  # Σ_i ω_i = 1
        rows, cols, vals = zip(*entries)
        c = np.array([ZERO] * n + [-ONE], dtype=object)
        lp = ExactLP(
            np.array(rows, dtype=np.int64),
            np.array(cols, dtype=np.int64),
            np.array(vals, dtype=object),
            k + 1,
            n + 1,
            [None] * k + [ONE],
            [ZERO] * k + [ONE],
            [*lo, None],
            [*hi, None],
            c,
        )
        lower, upper, v, y, _, _ = certify_lp(lp, "maximin master LP over the pieces of g")
        if lower is None or upper is None or lower != upper:
            return None
        omega = [v[i] for i in range(n)]
        t = -lower
        g = mx.g(omega)
        if floor is not None and g < floor:
            return None
        if g == t:
            boxed = any((w == a and a != 0) or (w == b and b != 1) for w, a, b in zip(omega, lo, hi))
            if not boxed:
                mu = None
                if y is not None:
                    mu = [abs(y[r]) for r in range(k)]
                    total = sum(mu, ZERO)
                    mu = [m / total for m in mu] if total != 0 else None
                return omega, mu, xs
            center, g_center, delta = omega, g, delta * 4
            continue
        if g < g_center:
            center, g_center, delta = omega, g, delta * 2
        before = len(cuts)
        add(omega)
        if len(cuts) == before:
            return None
    return None


def exact_transfers(mx: MaximinExact, X: list[np.ndarray]) -> tuple[np.ndarray, dict]:
    """m(θ) from the envelope formula (docs/model.md, section 6), exactly, engine form.

    U_i(t_K) = 0, U_i(t_k) = U_i(t_{k+1}) + (t_{k+1} − t_k) X_i(t_{k+1}); M_i⁰ = t X_i + U_i;
    T = max_i E[M_i⁰]; M_i = M_i⁰ + T − E[M_i⁰]; m(θ) = Σ_i M_i(θ_i) − (N − 1) T.
    """
    e = mx.engine
    M0 = []
    for t, Xi in zip(e.grids, X):
        k = t.size
        U = [ZERO] * k
        for j in range(k - 2, -1, -1):
            U[j] = U[j + 1] + (t[j + 1] - t[j]) * Xi[j + 1]
        M0.append(t * Xi + np.array(U, dtype=object))
    expected = [sum((p * m for p, m in zip(e.probs[i], M0[i])), ZERO) for i in range(mx.n)]
    T = max(expected)
    M = [m0 + (T - ex) for m0, ex in zip(M0, expected)]
    m = np.full(e.shape, -(mx.n - 1) * T, dtype=object)
    for i, Mi in enumerate(M):
        m = m + along(Mi, i, mx.n)
    return m, {"constant": T, "binding_agent": int(expected.index(T))}


def _pair_certificate(
    mx: MaximinExact, omega: list, x: np.ndarray, *, audit: bool, start: float, info: dict | None = None
) -> Certificate:
    """Bounds, checks and (optionally) the transfer audit of an exact pair (ω, x) in engine form."""
    checks: dict = {}
    reason = ""
    if any(w < 0 for w in omega) or sum(omega, ZERO) != 1:
        reason = "ω is not in the simplex"
        upper = None
    else:
        upper = mx.g(omega)
    ev = mx.evaluate(x)
    checks["bound_violation"] = frac(ev["bound_violation"])
    checks["monotonicity_violation"] = frac(ev["monotonicity_violation"])
    checks["gains"] = [str(frac(v)) for v in ev["gains"]]
    lower = None
    if ev["bound_violation"] != 0:
        reason = reason or f"x leaves [0, 1] by {ev['bound_violation']}"
    elif ev["monotonicity_violation"] != 0:
        reason = reason or f"x is not interim monotone (by {ev['monotonicity_violation']})"
    else:
        lower = ev["V"]
    e = mx.engine
    x_user = m_user = None
    if info:
        checks.update(info)
    if audit and lower is not None:
        m, _ = exact_transfers(mx, ev["X"])
        x_user = e.to_user(x)
        m_user = e.to_user(m, negate=True)
        res = verify_exact(mx.data, x_user, m_user)
        checks["max_ic_violation"] = res.max_ic_violation
        checks["max_ir_violation"] = res.max_ir_violation
        checks["audit_profit"] = res.profit
        if res.max_ic_violation != 0 or res.max_ir_violation != 0:
            reason = reason or (
                f"the exact audit finds IC violation {res.max_ic_violation}, IR violation {res.max_ir_violation}"
            )
        elif res.profit != frac(lower):
            reason = reason or f"the audited profit {res.profit} differs from V(x) = {frac(lower)}"
    cert = Certificate.from_bounds(
        None if lower is None else frac(lower),
        None if upper is None else frac(upper),
        seconds=time.perf_counter() - start,
        formulation="maximin",
        reason=reason,
        omega=tuple(frac(w) for w in omega),
        checks=checks,
    )
    if x_user is not None:
        cert.allocation = np.vectorize(frac, otypes=[object])(x_user)
        cert.transfer = np.vectorize(frac, otypes=[object])(m_user)
    return cert


def maximin_bounds(instance, omega: Sequence, x, *, audit: bool = True) -> Certificate:
    """Check an exact pair (ω, x) of the maximin problem: V(x) <= optimum <= g(ω), equal is a proof.

    Parameters
    ----------
    instance : lpmech.Instance or ExactData
        Independent types, default mechanism.
    omega : sequence of numbers, length N
        Weights, taken exactly (Fractions, ints, decimal strings; floats at their binary value).
    x : array_like, shape K_1 x ... x K_N
        Trade probabilities in the file's grid order, taken exactly.
    audit : bool
        Also build the transfers of section 6 and audit (x, m) by brute force, exactly.

    Returns
    -------
    Certificate
        Proven iff ω is in the simplex, x is in [0, 1] and interim monotone, V(x) = g(ω) (and
        the audit finds no violation and the profit V(x)).
    """
    start = time.perf_counter()
    data = instance if isinstance(instance, ExactData) else exact_data(instance)
    check_exact_size(data.n_profiles, EXACT_MAX_PROFILES, "maximin LP", data.source)
    mx = MaximinExact(data)
    w = [q(v) for v in omega]
    xe = mx.engine.from_user(qarray(x))
    if xe.shape != mx.engine.shape:
        raise ValueError(f"x must have shape {mx.engine.shape}, got {xe.shape}")
    return _pair_certificate(mx, w, xe, audit=audit, start=start)


def certify_maximin(instance, omega: Sequence[float], *, x=None, audit: bool = True) -> Certificate:
    """Prove the maximin optimum exactly from a float solution (computes; never raises on failure).

    Parameters
    ----------
    instance : lpmech.Instance or ExactData
        Independent types, the default mechanism (Bayesian IC, interim IR, every agent a veto).
    omega : sequence of float, length N
        The float weights (e.g. ``SolveResult.omega``).
    x : array_like, optional
        A float allocation (file order); its tie-set values, rounded to small rationals, are
        tried first as the completion on the exact tie set.
    audit : bool
        Build the exact transfers and audit (x, m) by brute force (default True).

    Returns
    -------
    Certificate
        ``proven`` with the exact value, or not proven with the best exact bounds found.

    Raises
    ------
    lpmech.errors.InstanceError
        Above :data:`~lpmech.exact.data.EXACT_MAX_PROFILES` profiles (the limit is named).
    """
    start = time.perf_counter()
    data = instance if isinstance(instance, ExactData) else exact_data(instance)
    check_exact_size(data.n_profiles, EXACT_MAX_PROFILES, "maximin LP", data.source)
    mx = MaximinExact(data)
    hint = None
    if x is not None:
        xf = np.asarray(x, dtype=float)

        def rounded(v):
            return q(Fraction(min(max(float(v), 0.0), 1.0)).limit_denominator(HINT_DENOMINATOR))

        hint = mx.engine.from_user(np.vectorize(rounded, otypes=[object])(xf))
    best = None
    lowers, uppers = [], []
    tried = set()
    for rtol in OMEGA_TIE_RTOLS:
        omega_x = exact_omega(mx, omega, rtol)
        if omega_x is None:
            continue
        key = tuple((int(v.p), int(v.q)) for v in omega_x)
        if key in tried:
            continue
        tried.add(key)
        xe, info = mx.allocation(omega_x, hint)
        info = {"tie_profiles": info["tie_profiles"], "tie_completion": info["completion"], "tie_rtol": rtol}
        cert = _pair_certificate(mx, omega_x, xe, audit=False, start=start, info=info)
        if cert.proven:
            return _pair_certificate(mx, omega_x, xe, audit=audit, start=start, info=info)
        lowers += [cert.lower] if cert.lower is not None else []
        uppers += [cert.upper] if cert.upper is not None else []
        if best is None or (cert.gap is not None and (best.gap is None or cert.gap < best.gap)):
            best = cert
    # No ω read off the float ties proves: the float ω may sit inside a piece of g whose exact slope
    # is not 0 (a slope the float LP cannot see). Minimize g exactly from there, by cutting planes.
    # The descent repairs the float solution, it does not replace it: its optimum is used only when
    # g at the float ω is within the float cross-check tolerance of it (else the float ω is wrong).
    descent_reason = ""
    start_omega = simplex_point(omega)
    found = None
    if start_omega is not None:
        g_start = mx.g(start_omega)
        terms = abs(float(mx.b)) + sum(
            float(w) * float(sum((p * abs(f) for p, f in zip(pr, fb)), ZERO))
            for w, pr, fb in zip(start_omega, mx.engine.probs, mx.phi_bar)
        )
        slack = limit(float(g_start), terms, rtol=CHECK_RTOL)
        seeds = [start_omega] + [[q(Fraction(a, b)) for a, b in key] for key in tried]
        found = descend_omega(mx, seeds, stop_below=Fraction(float(g_start)) - Fraction(slack))
        if found is None:
            descent_reason = (
                "the float ω is not optimal (g is lower elsewhere by more than the float "
                "tolerance), or the exact descent ran out of cuts"
            )
        else:
            g_min = mx.g(found[0])
            if float(g_start - g_min) > slack:
                descent_reason = (
                    f"the float ω is not optimal: g(ω) exceeds the exact optimum "
                    f"{frac(g_min)} by {float(g_start - g_min):.3g}"
                )
                found = None
    if found is not None:
        omega_x, mu, xs = found
        key = tuple((int(v.p), int(v.q)) for v in omega_x)
        candidates = []
        if key not in tried:
            xe, info = mx.allocation(omega_x, hint)
            candidates.append(
                (xe, {"tie_profiles": info["tie_profiles"], "tie_completion": info["completion"], "omega": "descent"})
            )
        if mu is not None:
            xm = sum((m * x for m, x in zip(mu, xs) if m != 0), np.full(mx.engine.shape, ZERO, dtype=object))
            candidates.append((xm, {"tie_completion": "cuts", "omega": "descent", "cuts": len(xs)}))
        for xe, info in candidates:
            cert = _pair_certificate(mx, omega_x, xe, audit=False, start=start, info=info)
            if cert.proven:
                return _pair_certificate(mx, omega_x, xe, audit=audit, start=start, info=info)
            lowers += [cert.lower] if cert.lower is not None else []
            uppers += [cert.upper] if cert.upper is not None else []
            if best is None or (cert.gap is not None and (best.gap is None or cert.gap < best.gap)):
                best = cert
    if best is None:
        return Certificate.from_bounds(
            None,
            None,
            seconds=time.perf_counter() - start,
            formulation="maximin",
            reason=descent_reason or "no exact ω in the simplex matches the float ω's active pieces of g",
        )
    # every lower bound and every upper bound found is valid: report the tightest pair
    lower, upper = max(lowers, default=None), min(uppers, default=None)
    return Certificate.from_bounds(
        lower,
        upper,
        seconds=time.perf_counter() - start,
        formulation="maximin",
        reason=descent_reason or best.reason or "the exact bounds differ",
        omega=best.omega,
        checks=best.checks,
    )
