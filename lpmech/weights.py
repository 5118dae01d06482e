"""The agents' weights ω: g(ω), the whole set of minimizers, and a canonical member.

By LP duality the duals of the maximin rows minimize the convex piecewise-linear

    g(ω) = E[(b - ω·φ̄(θ))_+]   over the simplex

(docs/model.md, section 5; Haghpanah, Kuvalekar and Lipnowski 2021, 2024). On a finite grid the
minimizers can form a whole face (ties, docs/model.md, section 5.3), so an LP solver's ω is one vertex
among many. This module describes the face independently of the maximin LP:

* :func:`face_ranges`: for each agent, min and max of ω_i over the optimal face, described
  through an optimal allocation x*: ω is optimal iff (x*, ω) is a saddle point, i.e. x* is
  a best response to ω (x* = 1 where ω·φ̄ < b, 0 where ω·φ̄ > b, X*_i constant on the
  ironing intervals of every agent with ω_i > 0) and ω is a best response to x* (supp ω in
  argmin_i E[x*(b - φ_i)]). These are linear in ω: an LP with N columns, fast at any size.
  Of the rows only the maximal trading and minimal refusing profiles' are kept, without
  repeats (:func:`optimal_face`, Notes: the same face), and they join the LPs lazily, checked
  for all 2N LPs in one pass;
* :func:`weight_ranges`: the same ranges from the definition, {ω in Δ : g(ω) <= g* + tol}, an
  LP in (ω, s) with one hinge variable per profile: a slower, independent reference;
* :func:`canonical_weights`: the least-norm member of the face, a QP in N variables
  (:func:`lpmech.least_norm.least_norm_weights`: NNLS, HiGHS's QP as the fallback). The face is convex and invariant under every symmetry of the
  instance, so its least-norm point is symmetric: identical agents get identical weights.
  (A least-norm point of the *level set* g <= g* + tol would drift off the face by tol over
  the slope of g, which on grids can be tiny; the face description has no such drift.)

:class:`GFunction` holds g on a reduced profile set (the LP of :func:`weight_ranges`; it evaluates g
by :func:`g_value`, which is :class:`lpmech.structured.oracle.GOracle`): a profile with max_i φ̄_i <= b contributes b - ω·φ̄ for every
ω in the simplex (a linear term), one with min_i φ̄_i >= b contributes nothing; only the rest
need a variable, and profiles with equal φ̄ vectors are merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from .highs import INF, cold_simplex, make_highs, run
from .least_norm import least_norm_weights
from .profiles import along, outer_accumulate, outer_pmf
from .structured.oracle import DEFAULT_CHUNK, GOracle
from .structured.passes import DenseSource
from .tolerances import THIN_FACE_SHARE, TIE_RTOL, TRADE_TOL

__all__ = ["Face", "GFunction", "canonical_weights", "face_ranges", "g_value", "optimal_face", "weight_ranges"]


def _extremes(phi_bar) -> tuple[np.ndarray, np.ndarray]:
    """min_i φ̄_i(θ_i) and max_i φ̄_i(θ_i) over the profile grid."""
    return outer_accumulate(np.minimum, np.inf, phi_bar), outer_accumulate(np.maximum, -np.inf, phi_bar)


def g_value(omega, phi_bar, probs, b, *, pmf: np.ndarray | None = None, chunk: int = DEFAULT_CHUNK) -> float:
    """g(ω) = E[(b - ω·φ̄(θ))_+] for independent types on a grid.

    The one evaluation of g (:class:`lpmech.structured.oracle.GOracle`, which also gives the
    subgradient); a one-pass reference lives in the tests, not here.

    Parameters
    ----------
    omega : array_like, shape (N,)
        Weights (in the simplex for g's usual meaning; any finite vector is evaluated).
    phi_bar : list of ndarray, shapes (K_i,)
        Ironed virtual costs on each agent's grid, engine (buy-side, per-share) units.
    probs : list of ndarray, shapes (K_i,)
        Each agent's pmf.
    b : float
        The buyer's value in engine units.
    pmf : ndarray, optional
        Accepted for compatibility and ignored (the oracle never forms the K^N pmf).
    chunk : int
        Largest number of profiles in one temporary array.

    Returns
    -------
    float
        g(ω), in the units of b.
    """
    return GOracle(phi_bar, probs, b, chunk)(np.asarray(omega, dtype=float)).g


@dataclass
class GFunction:
    """g(ω) = const - lin·ω + Σ_a P_a (b - Φ_a·ω)_+ on the reduced profile set.

    The data of the LP in :func:`weight_ranges`; calling it evaluates g by :func:`g_value`
    (one definition of g).
    """

    b: float
    const: float  # b · P(always trade)
    lin: np.ndarray  # Σ over always-trade profiles of P φ̄
    Phi: np.ndarray  # (A, N) distinct φ̄ vectors of ambiguous profiles
    P: np.ndarray  # (A,) their probabilities
    phi_bar: list = field(default_factory=list, repr=False)
    probs: list = field(default_factory=list, repr=False)

    @classmethod
    def build(cls, phi_bar, probs, b) -> GFunction:
        n = len(phi_bar)
        pmf = outer_pmf(probs)
        lo, hi = _extremes(phi_bar)
        always = hi <= b
        ambiguous = (lo < b) & ~always
        const = float(b * pmf[always].sum())
        lin = np.array([float(np.sum(pmf * always * along(v, i, n))) for i, v in enumerate(phi_bar)])
        idx = np.nonzero(ambiguous)
        Phi = np.stack([phi_bar[i][idx[i]] for i in range(n)], axis=1) if idx[0].size else np.zeros((0, n))
        P = pmf[ambiguous]
        if Phi.shape[0]:
            Phi, inverse = np.unique(Phi, axis=0, return_inverse=True)
            P = np.bincount(inverse.ravel(), weights=P, minlength=Phi.shape[0])
        return cls(
            b=float(b),
            const=const,
            lin=lin,
            Phi=Phi,
            P=P,
            phi_bar=[np.asarray(v, dtype=float) for v in phi_bar],
            probs=[np.asarray(q, dtype=float) for q in probs],
        )

    def __call__(self, omega) -> float:
        return g_value(omega, self.phi_bar, self.probs, self.b)


class Face:
    """{ω in Δ : lower <= Phi ω <= upper, ω_i <= cap_i}; ``allowed`` = cap > 0.

    An agent outside argmin_i E[x(b - φ_i)] has cap 0 in exact arithmetic; with a budget of
    value it is budget / (N × its excess gain) (:func:`optimal_face`), so a weight of 1e-12 on
    an agent whose gain the tie LP left 0.1 above the minimum is not declared impossible.

    ``Phi`` holds the rows as constrained (each widened by its own tie band, see
    :func:`optimal_face`), ``exact`` the profiles' φ̄ vectors they come from (the ties
    exact·ω = b that :func:`canonical_weights` polishes onto). A face built by
    :func:`optimal_face` keeps, instead of ``exact``, ``at``: each row's profile as grid indices
    (shape (A, N), the smallest unsigned integer type that holds them), and forms ``exact`` (or
    some of its rows, :meth:`exact_rows`) on demand: at 10^8 profiles the face has ~10^7 rows.
    """

    def __init__(
        self,
        Phi: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        allowed: np.ndarray,
        b: float = 0.0,
        exact: np.ndarray | None = None,
        cap: np.ndarray | None = None,
        *,
        at: np.ndarray | None = None,
        vectors: list | None = None,
        n_up: int | None = None,
    ):
        self.Phi, self.lower, self.upper, self.allowed, self.b = Phi, lower, upper, allowed, b
        self.at, self._vectors = at, vectors
        self.n_up = n_up  # rows 0 .. n_up - 1 have only an upper bound, the others only a lower one
        self.band = 0.0  # the tie band the rows were widened by (index_rtol of optimal_face)
        self._exact = Phi if exact is None and at is None else exact
        self.cap = np.where(allowed, 1.0, 0.0) if cap is None else cap
        self._memo: dict = {}  # Phi @ reference, shared by face_ranges and canonical_weights

    def __repr__(self) -> str:
        return f"Face(rows={self.Phi.shape[0]}, n={self.allowed.size}, b={self.b!r}, cap={self.cap!r})"

    @property
    def exact(self) -> np.ndarray:
        """shape (A, N): the φ̄ vector of each row's profile."""
        return self._exact if self._exact is not None else self.exact_rows(slice(None))

    def exact_rows(self, rows) -> np.ndarray:
        """``exact[rows]`` without forming ``exact`` (``rows``: an index array or a slice)."""
        if self._exact is not None:
            return self._exact[rows]
        at = self.at[rows]
        n = len(self._vectors)
        return np.stack([v[at[:, i]] for i, v in enumerate(self._vectors)], axis=1).reshape(-1, n)


def optimal_face(
    x: Any,
    phi_bar,
    b: float,
    gains: np.ndarray,
    interim_x,
    intervals,
    *,
    value_tol: float | np.ndarray,
    index_rtol: float = TIE_RTOL,
    uncertainty: float = 0.0,
    weight_budget: float = 0.0,
    x_tol: float = TRADE_TOL,
) -> Face:
    """The optimal weights as a polytope, from one optimal allocation ``x`` (see module notes).

    Parameters
    ----------
    x : ndarray, shape K_1 x ... x K_N, or an allocation source
        An optimal allocation (engine order): an array, or anything with ``block_x`` (an
        :class:`~lpmech.structured.passes.IndexRule`, a compact mechanism), read one window of
        rows of the first axis at a time (no K^N array).
    phi_bar : list of ndarray
        Ironed virtual costs per agent.
    b : float
        The buyer's value (engine form).
    gains : ndarray, shape (N,)
        E[x(b - φ_i)] per agent.
    interim_x : list of ndarray
        X_i per agent.
    intervals : list of list of (int, int)
        Each agent's ironing intervals (index pairs).
    value_tol : float or ndarray of shape (N,)
        Agent i may carry weight when its gain is within value_tol (or value_tol[i]) of the
        smallest (units of ``gains``; the caller takes it relative to the gains and their terms).
    weight_budget : float
        Any other agent may carry at most weight_budget / (N (its gain − the smallest)): ω
        then stays within weight_budget of complementary slackness in value (units of
        ``gains``; 0 for exact complementarity).
    index_rtol : float
        Each row ω·φ̄(θ) <= b (trade) or >= b (refusal) is relaxed by its own tie band,
        index_rtol × (|b| + ω·|φ̄(θ)|) (:func:`lpmech.tolerances.tie_band`): linear in ω, so the
        relaxed row is (φ̄ ∓ index_rtol |φ̄|)·ω <= / >= b ± index_rtol |b|. The core solvers'
        tie sets use the same band, so their ω lies in the face.
    uncertainty : float
        The core solver's allowance for ω's own error (:func:`lpmech.tolerances.tie_band`):
        each row's bound is relaxed by uncertainty × Σ_i |φ̄_i(θ_i)| as well.
    x_tol : float
        x > x_tol trades, x < 1 - x_tol refuses (unitless), at a profile whose φ̄_i are all of
        one size; the threshold is multiplied by (|b| + min_i |φ̄_i(θ_i)|) / (|b| + max_i |φ̄_i(θ_i)|).

    Returns
    -------
    Face
        Trade rows first (``face.n_up`` of them), then refusal rows; Phi stored column by column.

    Notes
    -----
    Only some profiles give rows, and the face is the same as with a row for every profile:

    * Order. φ̄_i is nondecreasing on agent i's grid (ironed), and so is each relaxed coefficient
      φ̄_i ∓ r |φ̄_i| (its slope is 1 ∓ r sign φ̄_i > 0 for r < 1). So θ <= θ' (componentwise on
      the grid) gives row(θ)·ω <= row(θ')·ω for every ω >= 0, in particular on the simplex.
    * Trade rows. If θ trades and some θ' >= θ, θ' != θ, trades too, the row of θ' implies that
      of θ: row(θ)·ω <= row(θ')·ω <= b + r|b| (both bounds are equal when ``uncertainty`` is 0).
      Every trading θ lies below a maximal trading profile (the grid is finite), and a trading
      profile with no trading +e_i neighbour is kept: the kept rows imply every trade row. When
      x is a best response (its trade set a down-set in the order of φ̄) the kept profiles are
      exactly the maximal elements.
    * Refusal rows, symmetrically: a refusing profile with a refusing −e_i neighbour is implied
      by it (row(θ − e_i)·ω <= row(θ)·ω, and the bound is >=), so only minimal ones are kept.
    * Pooled types (ironing) give equal φ̄_i on an interval, hence equal rows at profiles that
      differ only inside it; the rows repeated within the trade rows or within the refusal rows
      are dropped (:func:`_distinct_rows`): the same set.
    * Rows met by every ω in the simplex (max_i coefficient <= bound for a trade row, min_i >=
      bound for a refusal row) are dropped: they cut nothing.

    With ``uncertainty`` u > 0 a trade row's bound has u Σ_i |φ̄_i(θ_i)| added, which is not
    monotone in θ: a dropped row then holds up to u (Σ|φ̄(θ')| − Σ|φ̄(θ)|)_+, within the kept
    row's own allowance, and the face of the kept rows contains that of every row
    (tests/test_face.py checks both statements against every row of the grid).
    """
    n = len(phi_bar)
    excess = gains - gains.min()
    tol = np.broadcast_to(np.asarray(value_tol, dtype=float), excess.shape)
    cap = np.where(excess <= tol, 1.0, np.minimum(1.0, weight_budget / (n * np.where(excess > 0, excess, 1.0))))
    for i, ivs in enumerate(intervals):
        for lo, hi in ivs:
            if np.ptp(interim_x[i][lo : hi + 1]) > x_tol:
                cap[i] = 0.0
    allowed = cap > 0
    # x is unitless, but a trade probability of 1e-10 at a profile where some φ̄_i is 1e9 moves the
    # value as much as 0.1 elsewhere: the threshold shrinks by (|b| + min_i |φ̄_i|) / (|b| + max_i |φ̄_i|)
    # The threshold is at most x_tol, so it is computed only where x is within x_tol of 0 or 1
    # (the same floats, profile by profile, as on the whole grid).
    abs_bar = [np.abs(np.asarray(v, dtype=float)) for v in phi_bar]
    r = float(index_rtol)
    low_rows = [np.asarray(v, dtype=float) + r * np.abs(v) for v in phi_bar]  # refusal rows
    up_rows = [np.asarray(v, dtype=float) - r * np.abs(v) for v in phi_bar]  # trade rows
    shape = tuple(np.asarray(v).size for v in phi_bar)
    source = x if hasattr(x, "block_x") else DenseSource(np.asarray(x, dtype=float).reshape(shape))
    itype = _index_type(max(shape))
    trade_idx: list[np.ndarray] = []
    refuse_idx: list[np.ndarray] = []
    for r0, trades, refuses in _face_masks(source, shape, x_tol, abs_bar, b):
        # Rows that every ω in the simplex satisfies say nothing: min_i of a refusal row's
        # coefficients >= its bound, max_i of a trade row's <= its bound (tested on the rows kept).
        for mask, vecs, keep, out in (
            (refuses, low_rows, lambda c: c.min(axis=0) < b - r * abs(b), refuse_idx),
            (trades, up_rows, lambda c: c.max(axis=0) > b + r * abs(b), trade_idx),
        ):
            where = _where(mask)
            if where[0].size:
                where[0] = where[0] + r0
                ok = keep(np.array([v[k] for v, k in zip(vecs, where)]))
                out.append(np.stack([k[ok].astype(itype) for k in where]))  # (N, rows)
    trades, refuses = (
        _distinct_rows(np.concatenate(idx, axis=1).T if idx else np.zeros((0, n), dtype=itype), phi_bar)
        for idx in (trade_idx, refuse_idx)
    )
    del trade_idx, refuse_idx
    n_up, n_low = len(trades), len(refuses)
    # at.T contiguous: each agent's indices in one run (the gathers below read them in order)
    at = np.concatenate([trades.T, refuses.T], axis=1).reshape(n, -1).T
    del trades, refuses
    # the rows, written a block at a time (no second copy of a 10^7 x N array)
    # Phi is stored column by column (Phi.T contiguous): the row checks multiply it by a few ω at
    # a time, N x A, which BLAS does several times faster than A x N
    PhiT = np.empty((n, n_up + n_low))
    slack = np.zeros(n_up + n_low)
    for first, last, vecs in ((0, n_up, up_rows), (n_up, n_up + n_low, low_rows)):
        for s0 in range(first, last, _ROW_BLOCK):
            s1 = min(s0 + _ROW_BLOCK, last)
            blk = at.T[:, s0:s1]
            for i in range(n):
                PhiT[i, s0:s1] = vecs[i][blk[i]]
            if uncertainty:
                exact = np.stack([np.asarray(phi_bar[i], dtype=float)[blk[i]] for i in range(n)], axis=1)
                slack[s0:s1] = uncertainty * np.abs(exact).sum(axis=1)
    upper = np.concatenate([b + r * abs(b) + slack[:n_up], np.full(n_low, INF)])
    lower = np.concatenate([np.full(n_up, -INF), b - r * abs(b) - slack[n_up:]])
    vectors = [np.asarray(v, dtype=float) for v in phi_bar]
    face = Face(
        Phi=PhiT.T, lower=lower, upper=upper, allowed=allowed, b=float(b), cap=cap, at=at, vectors=vectors, n_up=n_up
    )
    face.band = r
    return face


#: Rows written at a time (a block of Phi stays a few MB).
_ROW_BLOCK = 2**17
#: Rows each unsettled range LP adds per round (the most violated).
_MOST_PER_LP = 500
#: Rounds of row generation in which a row outside the range LPs counts as violated beyond
#: floating-point noise (or the LP's own error, :func:`_own_error`). On a thin face (a tie layer
#: of a fine grid: ~10^7 rows all within one tie band of binding, the face ~1e-9 wide) the cuts
#: then come in ever smaller steps; after these rounds a row counts as violated only beyond
#: _THIN_FACE_SHARE of its own tie band (the rows are the ties widened by one band, so ω stays
#: within 1.5 bands of them). Faces with room converge well within these rounds (3 at N = 7,
#: K = 10, b = 1), so their ranges are unchanged.
_STRICT_ROUNDS = 8
_THIN_FACE_SHARE = THIN_FACE_SHARE  # lpmech.tolerances
#: Rows checked at a time: the products of a block with up to 2N weight vectors stay in cache.
_CHECK_BLOCK = 2**13


def _index_type(k: int):
    """The smallest unsigned integer type holding the grid indices 0 .. k - 1."""
    for t in (np.uint8, np.uint16, np.uint32):
        if k - 1 <= np.iinfo(t).max:
            return t
    return np.int64


def _distinct_rows(at: np.ndarray, phi_bar) -> np.ndarray:
    """``at`` without the profiles whose φ̄ vector equals an earlier one's (pooled types), order kept.

    Ironing pools neighbouring types: their φ̄_i are equal, so profiles differing only inside a
    pooled interval give the same row. φ̄_i is nondecreasing, so equal values are contiguous and
    the class of a type is the number of strict increases of φ̄_i below it; two profiles give the
    same row iff their classes agree on every axis. Without pooled types ``at`` is returned as is.
    """
    cls = [np.concatenate([[0], np.cumsum(np.diff(np.asarray(v, dtype=float)) != 0)]) for v in phi_bar]
    if len(at) < 2 or all(int(c[-1]) == c.size - 1 for c in cls):
        return at
    sizes = [int(c[-1]) + 1 for c in cls]
    if float(np.prod(np.array(sizes, dtype=float))) < 2.0**62:
        code = np.zeros(len(at), dtype=np.int64)
        for i, c in enumerate(cls):
            code = code * sizes[i] + c[at[:, i]]
        _, first = np.unique(code, return_index=True)
    else:
        _, first = np.unique(np.stack([c[at[:, i]] for i, c in enumerate(cls)], axis=1), axis=0, return_index=True)
    return at if first.size == len(at) else at[np.sort(first)]


def _face_masks(source, shape: tuple, x_tol: float, abs_bar, b: float):
    """The trade and refusal profiles of :func:`optimal_face`, in windows of rows of the first axis.

    Yields (r0, trades, refuses): boolean arrays over the rows r0, r0 + 1, ... of the first axis
    (the other axes whole), True where x trades (refuses) and no successor (predecessor) along
    any axis trades (refuses). x is read from ``source`` (``block_x``) once per row, with one row
    more on each side of a window for the neighbours along the first axis: no K^N array.
    """
    from .profiles import PASS_CHUNK, Block, Grid, product

    k0, rest = shape[0], tuple(shape[1:])
    row = product(rest)
    per = max(1, PASS_CHUNK // max(row, 1))
    # x is read in blocks of the pass's size (their temporaries stay in cache), a row of the first
    # axis being `lead` block rows of `fine`
    fine = Grid([np.ones(k) for k in shape], min(PASS_CHUNK, max(row, 1)))
    lead = fine.lead_total // k0 if fine.d else 1

    def x_rows(a, z):
        if z <= a:
            return np.zeros((0, *rest))
        if not fine.d:  # the whole grid is one block (one row of the first axis)
            return np.asarray(source.block_x(Block(fine, 0, 1)), dtype=float).reshape((z - a, *rest))
        parts = [
            np.asarray(source.block_x(Block(fine, r, min(r + fine.rows_per_block, z * lead))), dtype=float).reshape(-1)
            for r in range(a * lead, z * lead, fine.rows_per_block)
        ]
        return np.concatenate(parts).reshape((z - a, *rest))

    def threshold(where):
        lowest = np.min([v[k] for v, k in zip(abs_bar, where)], axis=0)
        highest = np.max([v[k] for v, k in zip(abs_bar, where)], axis=0)
        return x_tol * (abs(b) + lowest) / np.maximum(abs(b) + highest, 1e-300)

    def masks(a, z):
        """x > threshold (trades) and x < 1 − threshold (refuses) on rows a .. z − 1."""
        x = x_rows(a, z)
        trades = x > x_tol  # needs ω·φ̄ <= b
        near = _where((x > 0.0) & ~trades)
        if near[0].size:
            trades[tuple(near)] = x[tuple(near)] > threshold([near[0] + a, *near[1:]])
        refuses = x < 1.0 - x_tol  # needs ω·φ̄ >= b
        near = _where((x < 1.0) & ~refuses)
        if near[0].size:
            refuses[tuple(near)] = x[tuple(near)] < 1.0 - threshold([near[0] + a, *near[1:]])
        return trades, refuses

    empty = np.zeros((0, *rest), dtype=bool)
    cached, c0 = (empty, empty), 0  # the masks of rows c0 .. c0 + len(cached[0]) - 1
    for r0 in range(0, k0, per):
        r1 = min(r0 + per, k0)
        w0, w1 = max(r0 - 1, 0), min(r1 + 1, k0)
        c1 = c0 + len(cached[0])
        new = masks(max(c1, w0), w1)  # each row's masks once
        trades, refuses = (np.concatenate([old[max(w0 - c0, 0) :], fresh]) for old, fresh in zip(cached, new))
        cached, c0 = (trades[r1 - 1 - w0 :], refuses[r1 - 1 - w0 :]), r1 - 1
        # φ̄ is nondecreasing along every axis and ω >= 0: a refusal row is implied by the row of a
        # predecessor along any axis that refuses too, a trade row by a successor that trades.
        # Along the first axis the neighbours are the window's rows next to the interior ones.
        lo, hi = r0 - w0, r1 - w0
        pred = (
            refuses[lo - 1 : hi - 1]
            if r0 > 0
            else np.concatenate([empty[:0], np.zeros((1, *rest), bool), refuses[lo : hi - 1]])
        )
        succ = trades[lo + 1 : hi + 1] if r1 < k0 else np.concatenate([trades[lo + 1 : hi], np.zeros((1, *rest), bool)])
        ref, tra = refuses[lo:hi], trades[lo:hi]
        yield r0, tra & ~succ & ~_any_neighbour(tra, +1, first=1), ref & ~pred & ~_any_neighbour(ref, -1, first=1)


def _where(mask: np.ndarray) -> list[np.ndarray]:
    """np.nonzero of an N-d mask (the same arrays, C order), by one flat scan (N-d nonzero is several times slower)."""
    flat = np.flatnonzero(mask) if mask.any() else np.zeros(0, dtype=np.intp)
    return list(np.unravel_index(flat, mask.shape))


def _any_neighbour(mask: np.ndarray, step: int, first: int = 0) -> np.ndarray:
    """True where the neighbour one grid step away (−1: predecessor, +1: successor) along some axis
    (from axis ``first`` on) is True."""
    out = np.zeros_like(mask)
    for ax in range(first, mask.ndim):
        if mask.shape[ax] < 2:
            continue
        src = [slice(None)] * mask.ndim
        dst = [slice(None)] * mask.ndim
        if step < 0:
            src[ax], dst[ax] = slice(None, -1), slice(1, None)
        else:
            src[ax], dst[ax] = slice(1, None), slice(None, -1)
        out[tuple(dst)] |= mask[tuple(src)]
    return out


def face_ranges(face: Face, reference: np.ndarray | None = None) -> np.ndarray:
    """[[lo, hi], ...]: the range of each ω_i over the optimal face (2N LPs with N columns).

    Rows are generated lazily: the LPs start from the rows nearest to binding at ``reference``
    (an optimal ω, e.g. the LP's). In each round every LP not yet settled is solved on the
    current rows, all their solutions are checked against all rows in one pass
    (:func:`_violations`), and the rows some solution violates are added. An LP whose solution
    violates no row is settled: its solution is feasible for the whole face and optimal for a
    relaxation of it, hence optimal. The answer is the same as with all rows at once.

    Parameters
    ----------
    face : Face
        The optimal face (:func:`optimal_face`).
    reference : ndarray, shape (N,), optional
        An optimal ω to start the row generation from.

    Returns
    -------
    ndarray, shape (N, 2)
        ``[lo, hi]`` of each ω_i (unitless, in [0, 1]).

    Raises
    ------
    SolverError
        HiGHS did not solve one of the range LPs (the face is empty: no ω has x as a best
        response).
    """
    n = face.allowed.size
    if n == 1:
        return np.array([[1.0, 1.0]])
    out = np.empty((n, 2))
    active = _initial_rows(face, reference)
    in_active = np.zeros(face.Phi.shape[0], dtype=bool)
    in_active[active] = True
    columns = np.arange(n, dtype=np.int32)
    pending = [(i, j) for i in range(n) for j in range(2)]
    rounds = 0
    # one HiGHS model: only the cost changes between LPs, and the rows a round adds are added to
    # it (HiGHS keeps its basis, so the next solve starts warm)
    A = sp.vstack([sp.csr_matrix(face.Phi[active]), sp.csr_matrix(np.ones((1, n)))], format="csc")
    h = make_highs(
        np.zeros(n),
        A,
        np.concatenate([face.lower[active], [1.0]]),
        np.concatenate([face.upper[active], [1.0]]),
        np.zeros(n),
        face.cap,
    )
    h.setOptionValue("threads", 1)  # a tiny LP: one thread halves HiGHS's start-up per run
    while pending:
        W = np.empty((n, len(pending)))
        for c, (i, j) in enumerate(pending):
            cost = np.zeros(n)
            cost[i] = 1.0 if j == 0 else -1.0
            h.changeColsCost(n, columns, cost)
            what = f"range of weight {i + 1} over the optimal face"
            W[:, c] = run(h, what, retry=cold_simplex(h, what)).x
        rtol = _own_error(face, W, active)
        rounds += 1
        if rounds > _STRICT_ROUNDS:  # a thin face: see _STRICT_ROUNDS
            rtol = np.maximum(rtol, _THIN_FACE_SHARE * face.band)
        more = _violations(face, W, in_active, most=_MOST_PER_LP, rtol=rtol)
        left = []
        for c, (i, j) in enumerate(pending):
            if more[c].size:
                left.append((i, j))
            else:
                out[i, j] = W[i, c]
        pending = left
        new = np.unique(np.concatenate(more))
        new = new[~in_active[new]]
        if new.size:
            in_active[new] = True
            active = np.flatnonzero(in_active)
            sub = sp.csr_matrix(face.Phi[new])
            h.addRows(
                new.size,
                face.lower[new],
                face.upper[new],
                sub.nnz,
                sub.indptr[:-1].astype(np.int32),
                sub.indices.astype(np.int32),
                sub.data.astype(float),
            )
    return np.clip(out, 0.0, 1.0)


def _own_error(face: Face, W: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each column w of ``W`` (LP solutions), how far w violates the LP's own ``rows``, relative to
    each row's terms |bound| + |Phi_a|·|w|; at least 1e-12 (floating-point noise).

    HiGHS satisfies the rows it holds only to its feasibility tolerance. A row it does not hold
    counts as violated (and joins the LP) only beyond that same error: otherwise, on a thin face
    (all rows nearly tight, as on a tie layer of a fine grid), the rows outside would be found
    violated by the LP's error round after round until every row had joined.
    """
    Phi = face.Phi[rows]
    upper, lower = face.upper[rows], face.lower[rows]
    index = Phi @ W
    excess = np.maximum(index - upper[:, None], lower[:, None] - index)
    size = np.abs(np.where(np.isfinite(upper), upper, lower))[:, None] + np.abs(Phi) @ np.abs(W)
    worst = np.max(excess / np.maximum(size, 1e-300), axis=0, initial=0.0)
    return np.maximum(worst, 1e-12)


def _index_at(face: Face, reference: np.ndarray) -> np.ndarray:
    """Phi @ reference, computed once per face and reference (face_ranges and canonical_weights)."""
    key = np.asarray(reference, dtype=float).tobytes()
    if face._memo.get("reference") != key:
        face._memo.update(reference=key, index=face.Phi @ np.asarray(reference, dtype=float))
    return face._memo["index"]


def _initial_rows(face: Face, reference: np.ndarray | None, count: int = 200) -> np.ndarray:
    """The ``count`` rows nearest to binding at ``reference`` (all rows when there are few): the rows
    the range LPs and the canonical QP start from (measured: 200 rows take 1.5-4 times less time
    than 2000 at 10^6-10^7 profiles; violated rows are added until none is)."""
    rows = face.Phi.shape[0]
    if reference is None or rows <= count:
        return np.arange(rows)
    index = _index_at(face, reference)
    slack = np.minimum(face.upper - index, index - face.lower)
    return np.sort(np.argpartition(slack, count)[:count])


def _violations(
    face: Face, W: np.ndarray, skip: np.ndarray, most: int = 2000, rtol: np.ndarray | float = 1e-12
) -> list[np.ndarray]:
    """For each column w of ``W``, the rows outside ``skip`` that w violates beyond floating-point noise.

    Noise is ``rtol`` (1e-12, or one per column) times the magnitude of each row's own terms,
    |bound| + |Phi_a|·|w|. One pass
    over the rows serves every column (a block of rows times W at a time); the noise is formed
    only where a row is violated at all (it is >= 0). At most ``most`` rows per column, the most
    violated.

    Parameters
    ----------
    face : Face
    W : ndarray, shape (N, m)
        m candidate weight vectors.
    skip : ndarray of bool, shape (A,)
        Rows not to report (those already in the LP).
    most : int
    rtol : float or ndarray of shape (m,)
        Relative size of a violation that counts (unitless).

    Returns
    -------
    list of m ndarrays of row indices (sorted)
    """
    W = np.asarray(W, dtype=float).reshape(face.allowed.size, -1)
    m = W.shape[1]
    Wt, absW = W.T.copy(), np.abs(W)
    rtol = np.broadcast_to(np.asarray(rtol, dtype=float), (m,))
    PhiT = face.Phi.T  # (N, A), contiguous for a face from optimal_face: m x N times N x A is fast
    total = face.Phi.shape[0]
    # a face from optimal_face holds its trade rows (upper bounds) first, then its refusal rows
    split = int(face.n_up) if face.n_up is not None else total
    blocks = [(s0, min(s0 + _CHECK_BLOCK, split)) for s0 in range(0, split, _CHECK_BLOCK)]
    blocks += [(s0, min(s0 + _CHECK_BLOCK, total)) for s0 in range(split, total, _CHECK_BLOCK)]
    found: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(m)]
    buf = np.empty((m, min(_CHECK_BLOCK, max(total, 1))))
    for s0, s1 in blocks:
        block, upper, lower = PhiT[:, s0:s1], face.upper[s0:s1], face.lower[s0:s1]
        excess = np.matmul(Wt, block, out=buf[:, : s1 - s0])  # ω·row, then its excess over the bound, in place
        if face.n_up is None:
            np.maximum(excess - upper, lower - excess, out=excess)
            bound = np.abs(np.where(np.isfinite(upper), upper, lower))
        elif s0 < split:
            excess -= upper
            bound = np.abs(upper)
        else:
            np.subtract(lower, excess, out=excess)
            bound = np.abs(lower)
        excess[:, skip[s0:s1]] = -np.inf
        for col in np.flatnonzero((excess > 0.0).any(axis=1)):
            e = excess[col]
            positive = np.flatnonzero(e > 0.0)
            # the `most` largest excesses first; the noise of all only if none of those is past it
            for rows in (
                (positive[np.argpartition(-e[positive], most)[:most]], positive)
                if positive.size > most
                else (positive,)
            ):
                ex = e[rows]
                noise = rtol[col] * (bound[rows] + np.abs(block[:, rows]).T @ absW[:, col])
                bad = ex > noise
                if bad.any():
                    break
            if bad.any():
                rows, ex = rows[bad], ex[bad]
                if rows.size > most:
                    keep = np.argpartition(-ex, most)[:most]
                    rows, ex = rows[keep], ex[keep]
                found[col].append((s0 + rows, ex))
    out = []
    for rows_found in found:
        if not rows_found:
            out.append(np.zeros(0, dtype=np.intp))
            continue
        bad = np.concatenate([r for r, _ in rows_found])
        ex = np.concatenate([e for _, e in rows_found])
        if bad.size > most:
            bad = bad[np.argpartition(-ex, most)[:most]]
        out.append(np.sort(bad))
    return out


def _violated(face: Face, w: np.ndarray, active: np.ndarray, most: int = 2000) -> np.ndarray:
    """Indices of rows (outside ``active``) that ``w`` violates beyond floating-point noise (:func:`_violations`)."""
    skip = np.zeros(face.Phi.shape[0], dtype=bool)
    skip[active] = True
    return _violations(face, np.asarray(w, dtype=float)[:, None], skip, most)[0]


def weight_ranges(gf: GFunction, g_star: float, tol: float) -> np.ndarray:
    """[[lo, hi], ...]: the range of each ω_i over {ω in Δ : g(ω) <= g_star + tol}.

    Parameters
    ----------
    gf : GFunction
        g on the reduced profile set.
    g_star : float
        The minimum of g (money, engine units).
    tol : float
        How far above ``g_star`` counts as optimal (same units).

    Returns
    -------
    ndarray, shape (N, 2)
        ``[lo, hi]`` of each ω_i.

    Raises
    ------
    SolverError
        HiGHS did not solve one of the 2N range LPs.
    """
    n = gf.lin.size
    if n == 1:
        return np.array([[1.0, 1.0]])
    a = gf.P.size
    # Columns: ω (n), s (a). Rows: s_a + Φ_a·ω >= b ; Σ P s - lin·ω <= g* + tol - const ; Σ ω = 1.
    hinge = sp.hstack([sp.csr_matrix(gf.Phi), sp.identity(a, format="csr")], format="csr")
    level = sp.csr_matrix(np.concatenate([-gf.lin, gf.P])[None, :])
    simplex = sp.csr_matrix(np.concatenate([np.ones(n), np.zeros(a)])[None, :])
    A = sp.vstack([hinge, level, simplex], format="csc")
    row_lo = np.concatenate([np.full(a, gf.b), [-INF, 1.0]])
    row_hi = np.concatenate([np.full(a, INF), [g_star + tol - gf.const, 1.0]])
    col_lo = np.zeros(n + a)
    col_hi = np.concatenate([np.ones(n), np.full(a, INF)])
    h = make_highs(np.zeros(n + a), A, row_lo, row_hi, col_lo, col_hi)
    out = np.empty((n, 2))
    idx = np.arange(n + a, dtype=np.int32)
    for i in range(n):
        for j, sense in enumerate((1.0, -1.0)):
            cost = np.zeros(n + a)
            cost[i] = sense
            h.changeColsCost(n + a, idx, cost)
            out[i, j] = run(h, f"range of weight {i + 1} over the level set of g").x[i]
    return np.clip(out, 0.0, 1.0)


def canonical_weights(face: Face, reference: np.ndarray | None = None) -> np.ndarray:
    """The least-norm ω of the optimal face, a small QP (:func:`lpmech.least_norm.least_norm_weights`).

    The face is convex and mapped to itself by every symmetry of the instance, so its
    least-norm point is symmetric: identical agents get identical canonical weights. Rows are
    generated lazily from ``reference`` as in :func:`face_ranges`.

    Parameters
    ----------
    face : Face
        The optimal face (:func:`optimal_face`).
    reference : ndarray, shape (N,), optional
        An optimal ω to start the row generation from.

    Returns
    -------
    ndarray, shape (N,)
        The canonical ω: nonnegative, summing to 1.

    Raises
    ------
    SolverError
        The QP was not solved (the face is empty, or HiGHS's QP failed: its status).
    """
    n = face.allowed.size
    if n == 1:
        return np.array([1.0])
    active = _initial_rows(face, reference)
    in_active = np.zeros(face.Phi.shape[0], dtype=bool)
    in_active[active] = True
    while True:
        w = _polish(face, active, _least_norm(face, active))
        more = _violations(face, w[:, None], in_active)[0]
        if more.size == 0:
            # every row outside ``active`` holds within its noise: only active rows can move w
            return w if reference is None else _pulled_inside(face, w, np.asarray(reference, dtype=float), active)
        in_active[more] = True
        active = np.flatnonzero(in_active)


def _pulled_inside(face: Face, w: np.ndarray, reference: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """``w`` moved toward ``reference`` (a member of the face) just far enough to satisfy every row.

    The QP is solved to about 1e-8, and a row holding a coefficient of 1e9 (a type far out)
    turns that into a violation of 10: such a w is not in the face, and g at it is not the
    optimum. Rows are linear, so the least t in [0, 1] with (1 - t) w + t reference feasible is
    found row by row; w itself (t = 0) whenever it satisfies them all. ``rows``: the only rows
    w may violate beyond noise (the others checked already); None: all.
    """
    if reference.sum() <= 0:
        return w
    pick: Any = slice(None) if rows is None else rows
    Phi, upper, lower = face.Phi[pick], face.upper[pick], face.lower[pick]
    ref = np.clip(reference, 0.0, None)
    ref = np.minimum(ref / ref.sum(), face.cap)
    step = ref - w
    index, move = Phi @ w, Phi @ step
    noise = 1e-12 * (np.abs(np.where(np.isfinite(upper), upper, lower)) + np.abs(Phi) @ np.abs(w))
    t = 0.0
    for excess, rate in ((index - upper, -move), (lower - index, move)):
        bad = (excess > noise) & (rate > 0)
        if bad.any():
            t = max(t, float(np.max(excess[bad] / rate[bad])))
    out = (1.0 - min(t, 1.0)) * w + min(t, 1.0) * ref
    out = np.clip(out, 0.0, None)
    return out / out.sum()


def _polish(face: Face, rows: np.ndarray, w: np.ndarray, active_tol: float = 1e-7) -> np.ndarray:
    """Refine an interior-point solution to the exact least-norm point of its active set.

    Rows within ``active_tol`` of binding (relative to the magnitude of the row's terms,
    |b| + |φ̄_a|·w) are made ties (φ̄_a·ω = b), coordinates near 0 are fixed at 0, and the
    least-norm solution of these equalities with Σω = 1 is computed by least squares. It
    replaces ``w`` only if it satisfies every row in ``rows`` and ω >= 0 (otherwise the
    interior-point answer, accurate to ~1e-8, is kept).
    """
    n = w.size
    Phi, exact = face.Phi[rows], face.exact_rows(rows)
    size = abs(face.b) + np.abs(exact) @ np.abs(w)
    index = exact @ w
    tight = np.abs(index - face.b) <= active_tol * size
    free = (w > active_tol) & face.allowed
    if not free.any():
        return w
    # least-norm solution over the free coordinates (the others are fixed at 0)
    E = np.vstack([exact[tight][:, free], np.ones((1, int(free.sum())))])
    t = np.concatenate([np.full(int(tight.sum()), face.b), [1.0]])
    sol, *_ = np.linalg.lstsq(E, t, rcond=None)
    polished = np.zeros(n)
    polished[free] = sol
    index = Phi @ polished
    slack = 1e-12 * (abs(face.b) + np.abs(Phi) @ np.abs(polished))
    ok = (
        np.all(polished >= -1e-15)
        and np.all(polished <= face.cap + 1e-15)
        and abs(polished.sum() - 1.0) <= 1e-12
        and np.all(index <= face.upper[rows] + slack)
        and np.all(index >= face.lower[rows] - slack)
    )
    if not ok:
        return w
    polished = np.clip(polished, 0.0, None)
    return polished / polished.sum()


def _least_norm(face: Face, rows: np.ndarray) -> np.ndarray:
    """The least-norm ω over the face's ``rows`` (:func:`lpmech.least_norm.least_norm_weights`)."""
    return least_norm_weights(face.Phi[rows], face.lower[rows], face.upper[rows], face.cap)
