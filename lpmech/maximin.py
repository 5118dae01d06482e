"""The maximin LP over allocation rules (theory.md, sections 4 and 5).

For independent types and interim-monotone x, the designer's best profit is
V(x) = min_i E[x(θ)(b - φ_i(θ_i))] (Haghpanah, Kuvalekar and Lipnowski, "Buying from a
Group", 2024; "Selling to a Group", EC 2021). The LP

    maximize z  over x in [0,1]^Θ, z
    z <= Σ_θ P(θ) x(θ) (b - φ_i(θ_i))        (i = 1..N; duals ω_i >= 0, Σ ω_i = 1)
    X_i(t_k) >= X_i(t_{k+1})                  (interim monotonicity)

is assembled as one scipy.sparse matrix (Kronecker products, no loop over profiles) and
solved with HiGHS. It uses the raw virtual costs φ: the monotonicity rows do the ironing,
and the duals ω minimize g(ω) = E[(b - ω·φ̄)_+] with the ironed φ̄.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .highs import INF, LPSolution, dropped_entries, make_highs, row_scaled, run
from .instance import EngineProblem
from .profiles import along, interim_operator

__all__ = ["MaximinLP", "MaximinSolution"]


@dataclass
class MaximinSolution:
    """The LP's primal x (engine order, N-d), its value z, and ω from the duals."""

    x: np.ndarray
    value: float
    omega: np.ndarray
    status: str
    seconds: float
    iterations: int


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
        gains = np.stack([(pmf.reshape(self.shape) * (problem.b - along(phi[i], i, n))).ravel()
                          for i in range(n)])
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
        col_lo = np.concatenate([np.zeros(n_prof), [-INF]])
        col_hi = np.concatenate([np.ones(n_prof), [INF]])
        self.highs = make_highs(c, A, row_lo, row_hi, col_lo, col_hi)
        self.dropped = dropped_entries(self.highs, A.nnz)

    def solve(self, what: str = "maximin LP") -> MaximinSolution:
        """Solve the LP; ω are the negated duals of the maximin rows (HiGHS's sign convention)."""
        sol: LPSolution = run(self.highs, what)
        return self._solution(sol, sol.x[:-1])

    def solve_completion(self, fixed: np.ndarray, what: str = "maximin LP on the free profiles") -> MaximinSolution:
        """The same LP with x pinned where ``fixed`` (N-d) is not NaN: a small LP over the free columns.

        The pinned columns move to the right-hand side, so the model that HiGHS sees has only
        the free profiles (e.g. the tie set of x_ω) and z.
        """
        f = np.asarray(fixed, dtype=float).ravel()
        free = np.isnan(f)
        pinned_value = np.where(free, 0.0, f)
        shift = self._A[:, :-1] @ pinned_value
        cols = np.concatenate([np.flatnonzero(free), [self.n_cols - 1]])
        n_free = cols.size - 1
        h = make_highs(self._c[cols], self._A[:, cols], self._row_lo - shift, self._row_hi - shift,
                       np.concatenate([np.zeros(n_free), [-INF]]), np.concatenate([np.ones(n_free), [INF]]))
        sol: LPSolution = run(h, what)
        x = pinned_value.copy()
        x[free] = sol.x[:-1]
        return self._solution(sol, x)

    def _solution(self, sol: LPSolution, x: np.ndarray) -> MaximinSolution:
        n = self.problem.n
        return MaximinSolution(x=np.clip(x, 0.0, 1.0).reshape(self.shape), value=float(sol.x[-1]),
                               omega=-sol.row_dual[:n] * self._row_factor[:n], status=sol.status,
                               seconds=sol.seconds, iterations=sol.iterations)
