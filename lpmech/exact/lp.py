"""Exact LP certificates from a simplex basis.

An LP ``maximize c·v  s.t.  lo <= A v <= hi,  l <= v <= u`` is held exactly (:class:`ExactLP`,
fmpq entries). HiGHS solves its float image (through :func:`lpmech.highs.make_highs` and
:func:`lpmech.highs.run`, rows scaled as everywhere in lpmech) and reports a basis; the basis
systems are then solved in rational arithmetic with python-flint's ``fmpq_mat.solve``:

* primal: the nonbasic columns sit at their bounds, the nonbasic rows at theirs, and
  ``A[N_r, B_c] v_B = bound_r − A[N_r, N_c] v_N`` gives the basic columns;
* dual: ``A[N_r, B_c]ᵀ y_N = c_B`` (y = 0 on the basic rows), reduced costs d = c − Aᵀy.

Weak duality holds for *any* y: c·v = y·(Av) + d·v <= Σ_r max_{s∈[lo_r, hi_r]} y_r s +
Σ_j max_{v_j∈[l_j, u_j]} d_j v_j, so :func:`dual_bound` is a valid upper bound whatever the
basis (infinite when a sign asks for a missing bound), and an exactly feasible v gives the lower
bound c·v. Equal bounds prove both optimal; a float basis that is not exactly optimal gives an
unproven certificate with the bounds it has.
"""

from __future__ import annotations

from dataclasses import dataclass

import flint
import highspy
import numpy as np
import scipy.sparse as sp

from ..highs import INF, make_highs, row_scaled, run
from .data import ONE, ZERO

__all__ = [
    "ExactLP",
    "BasisPoint",
    "float_basis",
    "basis_point",
    "dual_bound",
    "primal_violation",
    "prove_from_basis",
    "certify_lp",
]

#: Basis systems up to this size use flint's default solver; larger ones Dixon's p-adic lifting.
DIXON_MIN_SIZE = 60


@dataclass
class ExactLP:
    """``maximize c·v  s.t.  row_lo <= A v <= row_hi,  col_lo <= v <= col_hi`` in exact arithmetic.

    ``A`` is in coordinate form (``rows``, ``cols`` int arrays; ``vals`` an object array of
    fmpq). Bounds are lists of fmpq, ``None`` for an infinite bound; ``c`` an fmpq object array.
    """

    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    n_rows: int
    n_cols: int
    row_lo: list
    row_hi: list
    col_lo: list
    col_hi: list
    c: np.ndarray

    def float_matrix(self) -> sp.csr_matrix:
        return sp.csr_matrix(
            (np.array([float(v) for v in self.vals], dtype=float), (self.rows, self.cols)),
            shape=(self.n_rows, self.n_cols),
        )

    def activity(self, v: np.ndarray) -> np.ndarray:
        """A v exactly (fmpq object array)."""
        out = np.full(self.n_rows, ZERO, dtype=object)
        if self.vals.size:
            np.add.at(out, self.rows, self.vals * v[self.cols])
        return out


def _bound_array(bounds: list, default: float) -> np.ndarray:
    return np.array([default if b is None else float(b) for b in bounds], dtype=float)


def float_basis(lp: ExactLP, what: str, *, presolve: bool = True):
    """Solve the LP's float image with HiGHS; return (column statuses, row statuses, LPSolution).

    Rows are scaled to a largest |entry| of 1 (the basis does not depend on row scaling).

    Raises
    ------
    lpmech.errors.SolverError
        HiGHS did not report an optimum.
    """
    A = lp.float_matrix()
    A, factor = row_scaled(A)
    lo = _bound_array(lp.row_lo, -INF) * factor
    hi = _bound_array(lp.row_hi, INF) * factor
    c = -np.array([float(v) for v in lp.c], dtype=float)
    h = make_highs(c, A, lo, hi, _bound_array(lp.col_lo, -INF), _bound_array(lp.col_hi, INF))
    h.setOptionValue("solver", "simplex")
    if not presolve:
        h.setOptionValue("presolve", "off")
    sol = run(h, what)
    basis = h.getBasis()
    return list(basis.col_status), list(basis.row_status), sol


@dataclass
class BasisPoint:
    """The exact primal and dual of a basis (None where a system was singular or ill-formed)."""

    v: np.ndarray | None
    y: np.ndarray | None
    reason: str = ""


def _dense(lp: ExactLP, row_pos: dict, col_pos: dict, n: int, transpose: bool = False) -> flint.fmpq_mat:
    M = flint.fmpq_mat(n, n)
    rp = np.array([row_pos.get(int(r), -1) for r in range(lp.n_rows)])
    cp = np.array([col_pos.get(int(c), -1) for c in range(lp.n_cols)])
    ri, ci = rp[lp.rows], cp[lp.cols]
    keep = np.flatnonzero((ri >= 0) & (ci >= 0))
    for k in keep:
        if transpose:
            M[int(ci[k]), int(ri[k])] = lp.vals[k]
        else:
            M[int(ri[k]), int(ci[k])] = lp.vals[k]
    return M


def _solve(M: flint.fmpq_mat, rhs: list) -> list | None:
    n = M.nrows()
    if n == 0:
        return []
    b = flint.fmpq_mat(n, 1, rhs)
    try:
        # algorithm is positional-only in python-flint's stubs (the dependency floor, 0.9, has it)
        X = M.solve(b, "dixon" if n >= DIXON_MIN_SIZE else None)
    except ZeroDivisionError:
        return None
    return [X[i, 0] for i in range(n)]


def basis_point(lp: ExactLP, col_status: list, row_status: list) -> BasisPoint:
    """Solve the primal and dual basis systems of a HiGHS basis exactly.

    Parameters
    ----------
    lp : ExactLP
    col_status, row_status : list of highspy.HighsBasisStatus
        One per column and per row (``h.getBasis()``).

    Returns
    -------
    BasisPoint
        ``v`` (n_cols fmpq) and ``y`` (n_rows fmpq, 0 on basic rows), or None with a reason.
    """
    basic = highspy.HighsBasisStatus.kBasic
    b_cols = [j for j, s in enumerate(col_status) if s == basic]
    n_rows_nb = [r for r, s in enumerate(row_status) if s != basic]
    if len(b_cols) != len(n_rows_nb):
        return BasisPoint(
            None, None, f"the basis is not square ({len(b_cols)} basic columns, {len(n_rows_nb)} nonbasic rows)"
        )
    v = np.full(lp.n_cols, ZERO, dtype=object)
    for j, s in enumerate(col_status):
        if s == basic:
            continue
        lo, hi = lp.col_lo[j], lp.col_hi[j]
        if s == highspy.HighsBasisStatus.kUpper and hi is not None:
            v[j] = hi
        elif lo is not None and (s == highspy.HighsBasisStatus.kLower or hi is None):
            v[j] = lo
        elif hi is not None and lo is None:
            v[j] = hi
        elif lo is not None and hi is not None and s != highspy.HighsBasisStatus.kZero:
            v[j] = lo
        else:
            v[j] = ZERO  # a free nonbasic column
    row_pos = {r: k for k, r in enumerate(n_rows_nb)}
    col_pos = {j: k for k, j in enumerate(b_cols)}
    n = len(b_cols)
    # right-hand side: the nonbasic rows at their bounds minus the nonbasic columns' part
    at_bound = []
    for r in n_rows_nb:
        lo, hi = lp.row_lo[r], lp.row_hi[r]
        s = row_status[r]
        if s == highspy.HighsBasisStatus.kUpper and hi is not None:
            at_bound.append(hi)
        elif lo is not None and (s != highspy.HighsBasisStatus.kUpper or hi is None):
            at_bound.append(lo)
        elif hi is not None:
            at_bound.append(hi)
        else:
            return BasisPoint(None, None, f"row {r} is nonbasic but has no finite bound")
    rhs = np.array(at_bound, dtype=object)
    nb_part = np.full(lp.n_rows, ZERO, dtype=object)
    nonbasic_col = np.ones(lp.n_cols, dtype=bool)
    nonbasic_col[b_cols] = False
    sel = nonbasic_col[lp.cols]
    if sel.any():
        np.add.at(nb_part, lp.rows[sel], lp.vals[sel] * v[lp.cols[sel]])
    rhs = rhs - nb_part[n_rows_nb] if n else rhs
    M = _dense(lp, row_pos, col_pos, n)
    xb = _solve(M, list(rhs))
    if xb is None:
        return BasisPoint(None, None, "the basis matrix is singular in exact arithmetic")
    for j, val in zip(b_cols, xb):
        v[j] = val
    yb = _solve(M.transpose(), [lp.c[j] for j in b_cols])
    y = np.full(lp.n_rows, ZERO, dtype=object)
    if yb is None:
        return BasisPoint(v, None, "the basis matrix is singular in exact arithmetic")
    for r, val in zip(n_rows_nb, yb):
        y[r] = val
    return BasisPoint(v, y)


def primal_violation(lp: ExactLP, v: np.ndarray):
    """The largest exact violation of a row or column bound by ``v`` (0 when feasible)."""
    worst = ZERO
    act = lp.activity(v)
    for vals, los, his in ((act, lp.row_lo, lp.row_hi), (v, lp.col_lo, lp.col_hi)):
        for a, lo, hi in zip(vals, los, his):
            if lo is not None and lo - a > worst:
                worst = lo - a
            if hi is not None and a - hi > worst:
                worst = a - hi
    return worst


def dual_bound(lp: ExactLP, y: np.ndarray):
    """The weak-duality upper bound on c·v of any feasible v, from row multipliers y (None if infinite)."""
    d = lp.c.copy()
    if lp.vals.size:
        np.subtract.at(d, lp.cols, lp.vals * y[lp.rows])
    total = ZERO
    for coefs, los, his in ((y, lp.row_lo, lp.row_hi), (d, lp.col_lo, lp.col_hi)):
        for a, lo, hi in zip(coefs, los, his):
            if a > 0:
                if hi is None:
                    return None
                total += a * hi
            elif a < 0:
                if lo is None:
                    return None
                total += a * lo
    return total


def objective(lp: ExactLP, v: np.ndarray):
    """c·v exactly."""
    return sum((a * b for a, b in zip(lp.c, v) if a != 0), ZERO)


#: Exact simplex pivots tried when HiGHS's basis is not exactly optimal (Bland's rule, so no cycling).
MAX_REPAIR_PIVOTS = 40

_BASIC = highspy.HighsBasisStatus.kBasic
_LOWER = highspy.HighsBasisStatus.kLower
_UPPER = highspy.HighsBasisStatus.kUpper


def _reduced_costs(lp: ExactLP, y: np.ndarray) -> np.ndarray:
    d = lp.c.copy()
    if lp.vals.size:
        np.subtract.at(d, lp.cols, lp.vals * y[lp.rows])
    return d


def _pivot(lp: ExactLP, cs: list, rs: list, pt: BasisPoint) -> tuple[list, list] | None:
    """One exact simplex pivot from a basis that is primal or dual feasible but not both.

    Variables are the columns (index j) and the rows' activities (index n_cols + r). Primal
    feasible: a primal simplex step (Bland: the first improving nonbasic variable enters, the
    first blocking variable leaves). Dual feasible: a dual simplex step (the first infeasible
    basic variable leaves at its violated bound, the entering variable by the dual ratio test,
    first index on ties). Returns the new statuses, or None when no step applies.
    """
    nc = lp.n_cols
    v, y = pt.v, pt.y
    act = lp.activity(v)
    d = _reduced_costs(lp, y)
    lo = list(lp.col_lo) + list(lp.row_lo)
    hi = list(lp.col_hi) + list(lp.row_hi)
    val = list(v) + list(act)
    st = list(cs) + list(rs)
    rate = list(d) + list(y)
    nvar = len(st)
    b_cols = [j for j in range(nc) if cs[j] == _BASIC]
    nb_rows = [r for r in range(lp.n_rows) if rs[r] != _BASIC]
    row_pos = {r: k for k, r in enumerate(nb_rows)}
    col_pos = {j: k for k, j in enumerate(b_cols)}
    M = _dense(lp, row_pos, col_pos, len(b_cols))

    def can_up(k):
        return st[k] != _BASIC and (hi[k] is None or val[k] < hi[k])

    def can_down(k):
        return st[k] != _BASIC and (lo[k] is None or val[k] > lo[k])

    p_bad = [
        k
        for k in range(nvar)
        if st[k] == _BASIC and ((lo[k] is not None and val[k] < lo[k]) or (hi[k] is not None and val[k] > hi[k]))
    ]
    d_bad = [k for k in range(nvar) if (rate[k] > 0 and can_up(k)) or (rate[k] < 0 and can_down(k))]
    new_cs, new_rs = list(cs), list(rs)

    def set_status(k, status):
        if k < nc:
            new_cs[k] = status
        else:
            new_rs[k - nc] = status

    if not p_bad and d_bad:  # primal simplex step
        q = d_bad[0]
        sigma = 1 if rate[q] > 0 else -1
        dv = np.full(nc, ZERO, dtype=object)
        if q < nc:
            dv[q] = ONE
            rhs = [ZERO] * len(nb_rows)
            for r, c, a in zip(lp.rows, lp.cols, lp.vals):
                if c == q and r in row_pos:
                    rhs[row_pos[r]] -= a
        else:
            rhs = [ONE if r == q - nc else ZERO for r in nb_rows]
        sol = _solve(M, rhs)
        if sol is None:
            return None
        for j, a in zip(b_cols, sol):
            dv[j] = a
        delta = list(dv) + list(lp.activity(dv))
        best, leave, bound = None, None, None
        cand = [k for k in range(nvar) if st[k] == _BASIC and delta[k] != 0] + [q]
        for k in cand:
            move = sigma * (delta[k] if k != q else ONE)
            if move > 0 and hi[k] is not None:
                t, b = (hi[k] - val[k]) / move, _UPPER
            elif move < 0 and lo[k] is not None:
                t, b = (val[k] - lo[k]) / -move, _LOWER
            else:
                continue
            if best is None or t < best or (t == best and k < leave):
                best, leave, bound = t, k, b
        if leave is None:
            return None  # unbounded direction
        if leave != q:
            set_status(q, _BASIC)
        set_status(leave, bound)
        return new_cs, new_rs
    if p_bad and not d_bad:  # dual simplex step
        p = p_bad[0]
        up = lo[p] is not None and val[p] < lo[p]  # p must rise to its lower bound
        base: dict[int, flint.fmpq] = {}  # row p's entries in nonbasic columns
        if p < nc:
            rhs = [ONE if j == p else ZERO for j in b_cols]
        else:
            rhs = [ZERO] * len(b_cols)
            for r, c, a in zip(lp.rows, lp.cols, lp.vals):
                if r == p - nc:
                    if c in col_pos:
                        rhs[col_pos[c]] += a
                    else:
                        base[c] = base.get(c, ZERO) + a
        w = _solve(M.transpose(), rhs)
        if w is None:
            return None
        wfull = np.full(lp.n_rows, ZERO, dtype=object)
        for r, a in zip(nb_rows, w):
            wfull[r] = a
        alpha_col = np.full(nc, ZERO, dtype=object)
        for c, a in base.items():
            alpha_col[c] = a
        if lp.vals.size:
            np.subtract.at(alpha_col, lp.cols, lp.vals * wfull[lp.rows])
        alpha = list(alpha_col) + list(wfull)
        best, enter = None, None
        for k in range(nvar):
            if st[k] == _BASIC or alpha[k] == 0 or (lo[k] is not None and hi[k] is not None and lo[k] == hi[k]):
                continue
            need = alpha[k] if up else -alpha[k]  # p moves by need per unit increase of k
            if not ((need > 0 and can_up(k)) or (need < 0 and can_down(k))):
                continue
            t = abs(rate[k]) / abs(alpha[k])
            if best is None or t < best:
                best, enter = t, k
        if enter is None:
            return None  # the LP is infeasible
        set_status(enter, _BASIC)
        set_status(p, _LOWER if up else _UPPER)
        return new_cs, new_rs
    return None


def prove_from_basis(lp: ExactLP, cs: list, rs: list, *, max_pivots: int = MAX_REPAIR_PIVOTS):
    """Exact bounds from a basis, repaired by up to ``max_pivots`` exact simplex pivots.

    Parameters
    ----------
    lp : ExactLP
    cs, rs : list of highspy.HighsBasisStatus
        Column and row statuses (kBasic, kLower, kUpper, kZero for a free nonbasic column).

    Returns
    -------
    (lower, upper, v, y, reason, pivots)
        ``lower`` = c·v if v is exactly feasible, ``upper`` the dual bound (fmpq or None), the
        exact basis point of the last basis, the reason when a part failed, and the number of
        pivots made; the best (largest lower bound) basis seen is returned when none proves.
    """
    best = None
    for pivots in range(max_pivots + 1):
        pt = basis_point(lp, cs, rs)
        lower = upper = None
        reason = pt.reason
        if pt.v is not None:
            viol = primal_violation(lp, pt.v)
            if viol == 0:
                lower = objective(lp, pt.v)
            else:
                reason = reason or (
                    f"the basic solution violates a constraint by {float(viol):.3g} in exact arithmetic"
                )
        if pt.y is not None:
            upper = dual_bound(lp, pt.y)
            if upper is None:
                reason = reason or "the basis's duals have a sign that asks for an infinite bound"
        out = (lower, upper, pt.v, pt.y, reason, pivots)
        if lower is not None and upper is not None and lower == upper:
            return out
        if best is None or (lower is not None and (best[0] is None or lower > best[0])):
            best = out
        if pt.v is None or pt.y is None:
            break
        step = _pivot(lp, cs, rs, pt)
        if step is None:
            break
        cs, rs = step
    return best


def certify_lp(lp: ExactLP, what: str, *, max_pivots: int = MAX_REPAIR_PIVOTS):
    """Float solve (HiGHS), then :func:`prove_from_basis` from its basis.

    If that does not prove, HiGHS is run again with presolve off and the same is tried.

    Returns
    -------
    (lower, upper, v, y, reason, pivots)
        As :func:`prove_from_basis`.

    Raises
    ------
    lpmech.errors.SolverError
        HiGHS does not report an optimum.
    """
    best = None
    for presolve in (True, False):
        cs, rs, _ = float_basis(lp, what, presolve=presolve)
        out = prove_from_basis(lp, cs, rs, max_pivots=max_pivots)
        if out[0] is not None and out[0] == out[1]:
            return out
        if best is None or (out[0] is not None and (best[0] is None or out[0] > best[0])):
            best = out
    return best
