"""The maximin LP over allocation rules (docs/model.md, sections 4 and 5).

For independent types and interim-monotone x, the designer's best profit is
V(x) = min_i E[x(θ)(b - φ_i(θ_i))] (Haghpanah, Kuvalekar and Lipnowski, "Buying from a
Group", 2024; "Selling to a Group", EC 2021). The LP

    maximize z  over x in [0,1]^Θ, z
    z <= Σ_θ P(θ) x(θ) (b - φ_i(θ_i))        (i = 1..N; duals ω_i >= 0, Σ ω_i = 1)
    X_i(t_k) >= X_i(t_{k+1})                  (interim monotonicity)

is assembled as one scipy.sparse matrix (Kronecker products, no loop over profiles) and
solved with HiGHS. It uses the raw virtual costs φ: the monotonicity rows do the ironing,
and the duals ω minimize g(ω) = E[(b - ω·φ̄)_+] with the ironed φ̄.

Large grids are solved by *sifting* (Bixby, Gregory, Lustig, Marsten and Shanno, "Very
large-scale linear programming: a case study in combining interior point and simplex
methods", Operations Research 40, 1992): the LP has a few thousand rows but up to millions of
boxed columns, and at an optimum almost every x(θ) sits at 0 or 1. HiGHS solves the LP over a
working set of columns with every other column pinned at a bound (moved to the right-hand
side); the reduced costs of all pinned columns are then computed from the duals in one sparse
product, and the columns whose bound is not dual feasible join the working set. The loop ends
when every column prices out, which is the optimality certificate of the full LP (primal
feasible, dual feasible, complementary). The first guess is the same LP on a coarsened grid
(about 20,000 profiles, solved directly): its ω pins x at 1 where ω·φ̄ is below b, the columns
nearest that boundary are free, and on an ironing interval the columns that differ only in
that agent's type are freed together (the monotonicity rows bind across it). Any guess gives
the same optimum; a good one saves rounds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp

from .highs import (
    FEAS_TOL,
    INF,
    LPSolution,
    SolverError,
    dropped_entries,
    make_highs,
    row_scaled,
    run,
)
from .instance import EngineProblem
from .profiles import along, interim_operator, weighted_sum
from .structured.ties import pinned_part, tie_lp, unpooled
from .virtual import iron, ironing_intervals, virtual_costs

__all__ = ["SIFT_MIN_COLUMNS", "STRATEGIES", "MaximinLP", "MaximinSolution"]

#: How the LP is handed to HiGHS: all columns at once, or sifting over a working set.
STRATEGIES = ("auto", "direct", "sifting")
#: ``strategy="auto"`` sifts above this many columns (HiGHS's dual simplex slows down sharply on
#: millions of boxed columns: N = 2, K = 1000 takes 70-100 s in one call).
SIFT_MIN_COLUMNS = 100_000
#: The first working set: this fraction of the columns nearest the guessed boundary ...
SIFT_START_FRACTION = 0.02
#: ... but at least this many times the number of rows.
SIFT_START_ROWS = 4
#: The first guess of ω comes from the LP on a grid coarsened to about this many profiles.
SIFT_COARSE_COLUMNS = 20_000
#: Give up (SolverError) after this many pricing rounds.
SIFT_MAX_ROUNDS = 100


@dataclass
class MaximinSolution:
    """The LP's primal x (engine order, N-d), its value z, and ω from the duals."""

    x: np.ndarray
    value: float
    omega: np.ndarray
    status: str
    seconds: float
    iterations: int
    #: "direct" or "sifting"; pricing rounds (1 for direct); columns HiGHS saw in the last round
    strategy: str = "direct"
    rounds: int = 1
    working_columns: int = 0
    #: the largest reduced-cost violation of a column at a bound, over every column, relative to
    #: the magnitude of the terms of that reduced cost and of the objective (the certificate;
    #: below the dual feasibility tolerance at an optimum, :meth:`MaximinLP._relative_violations`)
    dual_infeasibility: float = 0.0
    #: HiGHS's row duals (scaled rows), from which ω and the certificate come
    row_dual: np.ndarray | None = field(default=None, repr=False)


class MaximinLP:
    """The maximin LP of one engine problem, kept so that it can be re-solved with fixed columns.

    Parameters
    ----------
    problem : EngineProblem
        Buy-side form with independent types.
    phi : list of ndarray
        Raw (unironed) virtual costs on each agent's grid.
    """

    def __init__(self, problem: EngineProblem, phi: list[np.ndarray]):
        if problem.probs is None:
            raise ValueError("the maximin LP needs independent types")
        self.problem = problem
        self.shape = problem.shape
        n = problem.n
        pmf = problem.joint_pmf().ravel()
        n_prof = pmf.size
        # Maximin rows: z - Σ P(θ) (b - φ_i(θ_i)) x(θ) <= 0.
        gains = np.stack([(pmf.reshape(self.shape) * (problem.b - along(phi[i], i, n))).ravel() for i in range(n)])
        top = sp.hstack([sp.csr_matrix(-gains), sp.csr_matrix(np.ones((n, 1)))], format="csr")
        # Monotonicity rows: X_i(t_k) - X_i(t_{k+1}) >= 0.
        blocks = []
        for i, p in enumerate(problem.probs):
            k = p.size
            if k < 2:
                continue
            diff = sp.diags([np.ones(k - 1), -np.ones(k - 1)], [0, 1], shape=(k - 1, k))
            blocks.append(interim_operator(problem.probs, i, left=diff))
        if blocks:
            mono = sp.vstack(blocks, format="csr")
            mono = sp.hstack([mono, sp.csr_matrix((mono.shape[0], 1))], format="csr")
            A = sp.vstack([top, mono], format="csc")
        else:
            A = top.tocsc()
        n_mono = A.shape[0] - n
        # Rows scaled to a largest |entry| of 1: entries like P(θ)(b - φ_i) are tiny on large grids
        # and HiGHS drops entries below its small_matrix_value. Right-hand sides are 0, so only the
        # duals change: ω_i = -(scaled dual_i) x factor_i.
        A, self._row_factor = row_scaled(A)
        A = A.tocsc()
        self.n_rows = A.shape[0]
        self.n_cols = n_prof + 1
        self.nnz = A.nnz
        c = np.zeros(n_prof + 1)
        c[-1] = -1.0
        row_lo = np.concatenate([np.full(n, -INF), np.zeros(n_mono)])
        row_hi = np.concatenate([np.zeros(n), np.full(n_mono, INF)])
        self._A, self._c, self._row_lo, self._row_hi = A, c, row_lo, row_hi
        self._AT = A[:, :-1].T.tocsr()  # for pricing: reduced costs d = -Aᵀy
        self._absAT = abs(self._AT)  # ... and the magnitudes of their terms, |A|ᵀ|y|
        self.dropped = dropped_entries(A)  # the row scaling keeps this 0
        self._phi = phi
        self._highs = None

    @property
    def highs(self):
        """The whole LP as one highspy.Highs model (built on first use)."""
        if self._highs is None:
            self._highs = self._model(np.ones(self.n_cols - 1, dtype=bool), None)[0]
        return self._highs

    def _model(self, free: np.ndarray, pinned: np.ndarray | None):
        """HiGHS on the profile columns where ``free``, then z; the others fixed at ``pinned``
        (moved to the right-hand side). Returns the model, its columns and the shift."""
        cols = np.concatenate([np.flatnonzero(free), [self.n_cols - 1]])
        shift = np.zeros(self.n_rows) if pinned is None else self._A[:, :-1] @ np.where(free, 0.0, pinned)
        n_free = cols.size - 1
        h = make_highs(
            self._c[cols],
            self._A[:, cols],
            self._row_lo - shift,
            self._row_hi - shift,
            np.concatenate([np.zeros(n_free), [-INF]]),
            np.concatenate([np.ones(n_free), [INF]]),
        )
        return h, cols, shift

    def solve(
        self,
        what: str = "maximin LP",
        *,
        strategy: str = "auto",
        start_fraction: float = SIFT_START_FRACTION,
        coarse_profiles: int = SIFT_COARSE_COLUMNS,
    ) -> MaximinSolution:
        """Solve the LP; ω are the negated duals of the maximin rows (HiGHS's sign convention).

        Parameters
        ----------
        strategy : {"auto", "direct", "sifting"}
            ``"direct"``: one HiGHS call on every column; ``"sifting"``: HiGHS on a working set,
            priced against every column until all price out (module docstring); ``"auto"``:
            sifting above :data:`SIFT_MIN_COLUMNS` columns. Both end with the same certificate
            (:attr:`MaximinSolution.dual_infeasibility`, over every column).
        start_fraction : float
            Sifting only: the share of the columns in the first working set.
        coarse_profiles : int
            Sifting only: the size of the coarse grid whose LP gives the first guess.
        """
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r} (available: {', '.join(STRATEGIES)})")
        if strategy == "auto":
            strategy = "sifting" if self.n_cols > SIFT_MIN_COLUMNS else "direct"
        if strategy == "direct":
            t0 = time.perf_counter()
            sol: LPSolution = run(self.highs, what)
            x = sol.x[:-1]
            out = self._solution(sol, x, seconds=time.perf_counter() - t0)
            out.working_columns = self.n_cols
        else:
            out = self._sift(what, start_fraction, coarse_profiles)
        out.dual_infeasibility = self._dual_infeasibility(out.x.ravel(), out.row_dual)
        if not out.dual_infeasibility <= 10 * FEAS_TOL:
            raise SolverError(
                what,
                f"Optimal as reported, but a column fails to price out "
                f"(reduced-cost violation {out.dual_infeasibility:.3g})",
            )
        return out

    def _sift(self, what: str, start_fraction: float, coarse_profiles: int) -> MaximinSolution:
        t0 = time.perf_counter()
        p = self.problem
        n_prof = self.n_cols - 1
        # the guess: ω of the LP on a coarse grid, and x = 1[ω·φ̄ <= b] as the pins (monotone in
        # every coordinate, so the restricted LP is feasible in every round)
        phi_bar = [iron(f, q) for f, q in zip(self._phi, p.probs)]
        omega0 = self._coarse_omega(coarse_profiles)
        index = (weighted_sum(omega0, phi_bar) - p.b).ravel()
        pinned = (index <= 0).astype(float)
        m0 = min(n_prof, max(int(start_fraction * n_prof), SIFT_START_ROWS * self.n_rows, 1))
        free = np.zeros(n_prof, dtype=bool)
        free[np.argpartition(np.abs(index), m0 - 1)[:m0] if m0 < n_prof else slice(None)] = True
        blocks = [ironing_intervals(f, fb) for f, fb in zip(self._phi, phi_bar)]
        free = self._close(free, blocks)
        # one HiGHS model over the working set, grown in place: each round's columns enter
        # nonbasic at their pinned bound, so the last basis stays primal feasible (warm start)
        h, model_cols, shift = self._model(free, pinned)
        rows = np.arange(self.n_rows, dtype=np.int32)
        iterations = 0
        cap = max(m0, 1)  # columns added per round, most violated first
        for rounds in range(1, SIFT_MAX_ROUNDS + 1):
            sol = run(h, what)
            iterations += sol.iterations
            # a pinned column violates if its bound is not dual feasible: at 0 with d < 0, at 1 with d > 0
            current = pinned.copy()
            prof = model_cols < n_prof
            current[model_cols[prof]] = sol.x[prof]
            viol = self._relative_violations(np.where(free, current, pinned), sol.row_dual, pinned=~free)
            new = np.flatnonzero(~free & (viol > FEAS_TOL))
            if new.size > cap:  # the most violated columns first
                new = new[np.argpartition(-viol[new], cap - 1)[:cap]]
            if not new.size:
                x = np.where(free, 0.0, pinned)
                prof = model_cols < n_prof  # z sits after the first working set
                x[model_cols[prof]] = sol.x[prof]
                out = self._solution(sol, x, seconds=time.perf_counter() - t0, z=float(sol.x[~prof][0]))
                out.iterations, out.strategy, out.rounds = iterations, "sifting", rounds
                out.working_columns = int(free.sum()) + 1
                return out
            grown = free.copy()
            grown[new] = True
            new = np.flatnonzero(self._close(grown, blocks) & ~free)
            free[new] = True
            basis = h.getBasis()
            sub = self._A[:, new]
            h.addCols(
                new.size,
                np.zeros(new.size),
                np.zeros(new.size),
                np.ones(new.size),
                sub.nnz,
                sub.indptr[:-1].astype(np.int32),
                sub.indices.astype(np.int32),
                sub.data.astype(float),
            )
            shift -= sub @ pinned[new]
            h.changeRowsBounds(self.n_rows, rows, self._row_lo - shift, self._row_hi - shift)
            basis.col_status = list(basis.col_status) + [
                highspy.HighsBasisStatus.kUpper if v > 0.5 else highspy.HighsBasisStatus.kLower for v in pinned[new]
            ]
            h.setBasis(basis)
            model_cols = np.concatenate([model_cols, new])
        raise SolverError(
            what,
            f"sifting did not converge in {SIFT_MAX_ROUNDS} rounds "
            f"({int(free.sum())} of {n_prof} columns in the working set)",
        )

    def _close(self, free: np.ndarray, blocks: list[list[tuple[int, int]]]) -> np.ndarray:
        """``free`` (flat) grown so that, on each ironing interval of each agent, a profile is free
        with all the profiles that differ from it only in that agent's type within the interval.

        The monotonicity rows bind across an ironing interval, so those columns move together:
        pinning some of them holds back the rest, and sifting would advance one type per round.
        """
        out = free.reshape(self.shape)
        for i, agent_blocks in enumerate(blocks):
            for lo, hi in agent_blocks:
                sl = tuple(slice(lo, hi + 1) if j == i else slice(None) for j in range(out.ndim))
                out[sl] |= out[sl].any(axis=i, keepdims=True)
        return out.ravel()

    def _coarse_omega(self, profiles: int) -> np.ndarray:
        """ω of the same LP on a coarsened grid (contiguous cells merged, types at their means)."""
        p = self.problem
        kc = max(2, int(profiles ** (1.0 / p.n)))
        grids, probs = [], []
        for g, q in zip(p.grids, p.probs):
            if g.size > kc:
                starts = np.unique(np.linspace(0, g.size, kc + 1).astype(int)[:-1])
                q_c = np.add.reduceat(q, starts)
                g, q = np.add.reduceat(q * g, starts) / q_c, q_c
            grids.append(g)
            probs.append(q)
        coarse = EngineProblem(tuple(grids), tuple(probs), None, p.b, p.flip)
        sol = MaximinLP(coarse, [virtual_costs(g, q) for g, q in zip(grids, probs)]).solve(
            "maximin LP on the coarse grid (sifting's first guess)", strategy="direct"
        )
        w = np.clip(sol.omega, 0.0, None)
        return w / w.sum() if w.sum() > 0 else np.full(p.n, 1.0 / p.n)

    def solve_completion(self, fixed: np.ndarray, what: str = "maximin LP on the free profiles") -> MaximinSolution:
        """The same LP with x pinned where ``fixed`` (N-d) is not NaN: a small LP over the free columns.

        The pinned columns move to the right-hand side, so the model that HiGHS sees has only
        the free profiles (e.g. the tie set of x_ω) and z. It is built and solved by the one
        tie-completion LP, :func:`lpmech.structured.ties.tie_lp`, without pooling; the pins
        must be interim monotone (x_ω is), since monotonicity rows without a free column are
        left out. This is not the full LP's optimum unless the pins are optimal, so no
        certificate is attached (``dual_infeasibility`` is NaN).

        Parameters
        ----------
        fixed : ndarray, shape (K_1, ..., K_N)
            x in [0, 1] where pinned, NaN where free.
        what : str
            The LP's name in a :class:`SolverError`.

        Returns
        -------
        MaximinSolution
            ``x`` the pins completed; ``value`` the restricted LP's z; ``omega`` its duals.

        Raises
        ------
        SolverError
            HiGHS did not solve the restricted LP.
        """
        t0 = time.perf_counter()
        part = pinned_part(self.problem, fixed)
        x = part.x.copy()
        sol = None
        if part.ties.size:
            reps, intervals = unpooled(self.problem)
            sol = tie_lp(self.problem, self._phi, part, reps, intervals, what=what)
            x[part.ties] = sol.x
        gains = [float(m @ (self.problem.b - f)) for m, f in zip(pinned_part(self.problem, x).mass, self._phi)]
        return MaximinSolution(
            x=np.clip(x, 0.0, 1.0).reshape(self.shape),
            value=sol.value if sol else min(gains),
            omega=sol.omega if sol else np.full(self.problem.n, np.nan),
            status=sol.status if sol else "Optimal",
            seconds=time.perf_counter() - t0,
            iterations=sol.iterations if sol else 0,
            working_columns=int(part.ties.size) + 1,
            dual_infeasibility=float("nan"),
        )

    def _relative_violations(self, x: np.ndarray, row_dual: np.ndarray, pinned: np.ndarray | None = None) -> np.ndarray:
        """Per profile column: how far its reduced cost d_j = -(Aᵀy)_j is from dual feasible given
        where x_j sits (at 0 it must be >= 0, at 1 <= 0, strictly between = 0), divided by the
        magnitude of the terms involved, (|A|ᵀ|y|)_j + Σ_k x_k (|A|ᵀ|y|)_k: the column's own terms and
        the objective's, which is what a move of x_j by at most 1 could change. Row scaling leaves
        both unchanged and both scale with the units, so the measure does neither.

        ``pinned``: columns held at their bound x_j (sifting), whose violation is one-sided.
        """
        d = -(self._AT @ row_dual)
        size = self._absAT @ np.abs(row_dual)
        floor = float(size @ np.abs(x))
        at_hi, at_lo = x >= 1.0 - FEAS_TOL, x <= FEAS_TOL
        viol = np.where(at_lo & ~at_hi, -d, np.where(at_hi & ~at_lo, d, np.abs(d)))
        if pinned is not None:
            viol = np.where(pinned, np.where(x > 0.5, d, -d), viol)
        return viol / np.maximum(size + floor, 1e-300)

    def _dual_infeasibility(self, x: np.ndarray, row_dual: np.ndarray) -> float:
        """max over profile columns of the relative reduced-cost violation (0 at an optimum)."""
        return float(max(np.max(self._relative_violations(x, row_dual), initial=0.0), 0.0))

    def _solution(self, sol: LPSolution, x: np.ndarray, seconds: float, z: float | None = None) -> MaximinSolution:
        n = self.problem.n
        return MaximinSolution(
            x=np.clip(x, 0.0, 1.0).reshape(self.shape),
            value=float(sol.x[-1]) if z is None else z,
            omega=-sol.row_dual[:n] * self._row_factor[:n],
            status=sol.status,
            seconds=seconds,
            iterations=sol.iterations,
            row_dual=sol.row_dual,
        )
