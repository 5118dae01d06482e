"""The least-norm point of a polytope of weights, without cvxpy.

The canonical ω of :func:`lpmech.weights.canonical_weights` is the point of the optimal face of
least Euclidean norm:

    min ||ω||²  s.t.  lower <= Φ ω <= upper,  Σ ω = 1,  0 <= ω <= cap.

N (the number of agents) is small and the rows may be many. It is solved as a least-distance
program (Lawson and Hanson, *Solving Least Squares Problems*, 1974, ch. 23): with the
constraints written G ω >= h, the least-norm ω is read off the residual of the nonnegative
least-squares problem min ||[Gᵀ; hᵀ] u − e_{N+1}||, u >= 0 (:func:`scipy.optimize.nnls`, an
exact active-set method over N + 1 equations: ~0.1 ms for a few hundred rows). Its answer is
checked against every row; when the check fails or the NNLS reports the polytope empty, HiGHS's
active-set QP solver (Hessian 2I) solves the same problem through :mod:`lpmech.highs`
(silent, in lpmech's HiGHS thread, HiGHS's status on failure). HiGHS's QP is not the first
choice: measured on the optimal face of uniform N = 2, K = 64 (126 rows, optimum interior) it
cycled from a degenerate start (status "Iteration limit reached", endless without a limit).
The caller polishes the answer onto its ties (:func:`lpmech.weights._polish`), as it did
the interior-point answer of cvxpy (Clarabel, ~1e-8).
"""

from __future__ import annotations

import highspy
import numpy as np
import scipy.sparse as sp
from scipy.optimize import nnls

from .errors import SolverError
from .highs import INF, make_highs, row_scaled, run
from .tolerances import LEAST_NORM_ROW_RTOL

__all__ = ["least_norm_weights"]

#: Rows may exceed their bounds by ROW_RTOL of their terms' magnitude (lpmech.tolerances).
ROW_RTOL = LEAST_NORM_ROW_RTOL
#: HiGHS QP iterations allowed per constraint (bounds a cycling active-set run).
QP_ITERATIONS_PER_ROW = 50


def least_norm_weights(Phi, lower, upper, cap) -> np.ndarray:
    """The ω of least Euclidean norm with ``lower <= Phi ω <= upper``, ``Σ ω = 1``, ``0 <= ω <= cap``.

    Parameters
    ----------
    Phi : ndarray or sparse matrix, shape (A, N)
        One row per constraint (e.g. a profile's ironed virtual costs φ̄(t), in the engine's
        units); A may be 0.
    lower, upper : ndarray, shape (A,)
        Row bounds; ``-inf`` / ``inf`` (or HiGHS's infinity) for none.
    cap : ndarray, shape (N,)
        Upper bounds on the weights, in [0, 1] (0: the agent may get no weight).

    Returns
    -------
    ndarray, shape (N,)
        The minimizer, clipped at 0 and rescaled to sum to 1; every row holds within
        :data:`ROW_RTOL` of its terms' magnitude (NNLS answer) or within HiGHS's feasibility
        tolerance, 1e-9 on rows scaled by :func:`lpmech.highs.row_scaled` (QP answer).

    Raises
    ------
    SolverError
        The NNLS found no feasible point and HiGHS did not report an optimal solution (e.g.
        "Infeasible": the polytope is empty); HiGHS's status is in the message.
    ValueError
        The shapes of ``Phi``, ``lower``, ``upper`` and ``cap`` do not match.

    Examples
    --------
    >>> import numpy as np
    >>> least_norm_weights(np.array([[1.0, -1.0]]), np.array([0.2]), np.array([np.inf]),
    ...                    np.ones(2)).round(9).tolist()
    [0.6, 0.4]
    """
    cap = np.asarray(cap, dtype=float).ravel()
    n = cap.size
    Phi = sp.csr_matrix(Phi, dtype=float)
    if Phi.shape[1] != n:
        raise ValueError(f"Phi has {Phi.shape[1]} columns for {n} weights")
    lower = np.asarray(lower, dtype=float).ravel()
    upper = np.asarray(upper, dtype=float).ravel()
    if not lower.size == upper.size == Phi.shape[0]:
        raise ValueError(f"{Phi.shape[0]} rows, {lower.size} lower and {upper.size} upper bounds")
    cap = np.clip(cap, 0.0, 1.0)
    lower = np.where(lower > -INF, lower, -np.inf)
    upper = np.where(upper < INF, upper, np.inf)
    omega = _least_distance(Phi, lower, upper, cap)
    if omega is None or not _feasible(Phi, lower, upper, cap, omega):
        omega = _highs_qp(Phi, lower, upper, cap)
    omega = np.clip(omega, 0.0, None)
    total = omega.sum()
    if not total > 0:
        raise SolverError("least-norm weights", "zero solution")
    return omega / total


def _least_distance(Phi: sp.csr_matrix, lower, upper, cap) -> np.ndarray | None:
    """Lawson and Hanson's least-distance program by NNLS; None when it finds no feasible point."""
    n = cap.size
    up, lo = np.isfinite(upper), np.isfinite(lower)
    dense = Phi.toarray()
    eye = np.eye(n)
    G = np.vstack([-dense[up], dense[lo], np.ones((1, n)), -np.ones((1, n)), eye, -eye])
    h = np.concatenate([-upper[up], lower[lo], [1.0, -1.0], np.zeros(n), -cap])
    scale = np.maximum(np.abs(G).max(axis=1), np.abs(h))  # each row G_a ω >= h_a to unit size
    scale[scale == 0] = 1.0
    G, h = G / scale[:, None], h / scale
    E = np.vstack([G.T, h[None, :]])
    f = np.zeros(n + 1)
    f[-1] = 1.0
    try:
        u, _ = nnls(E, f, maxiter=max(50 * E.shape[1], 1000))
    except RuntimeError:  # iteration limit
        return None
    r = E @ u - f
    if not abs(r[-1]) > 1e-12:  # residual without a last component: the constraints are inconsistent
        return None
    return -r[:n] / r[-1]


def _feasible(Phi: sp.csr_matrix, lower, upper, cap, w) -> bool:
    """Every row, bound and Σ ω = 1 holds within ROW_RTOL of its terms' magnitude."""
    if not np.all(np.isfinite(w)):
        return False
    index = Phi @ w
    size = np.abs(Phi) @ np.abs(w)
    slack_hi = ROW_RTOL * (size + np.where(np.isfinite(upper), np.abs(upper), 0.0))
    slack_lo = ROW_RTOL * (size + np.where(np.isfinite(lower), np.abs(lower), 0.0))
    return bool(
        np.all(index <= upper + slack_hi)
        and np.all(index >= lower - slack_lo)
        and np.all(w >= -ROW_RTOL)
        and np.all(w <= cap + ROW_RTOL)
        and abs(w.sum() - 1.0) <= ROW_RTOL * np.abs(w).sum()
    )


def _highs_qp(Phi: sp.csr_matrix, lower, upper, cap) -> np.ndarray:
    """The same QP by HiGHS's active-set solver (rows scaled by :func:`lpmech.highs.row_scaled`)."""
    n = cap.size
    scaled, factor = row_scaled(Phi)  # factors > 0: bounds scale with their rows
    row_lo = np.where(np.isfinite(lower), lower * factor, -INF)
    row_hi = np.where(np.isfinite(upper), upper * factor, INF)
    A = sp.vstack([scaled, sp.csr_matrix(np.ones((1, n)))], format="csc")
    h = make_highs(
        np.zeros(n),
        A,
        np.concatenate([row_lo, [1.0]]),
        np.concatenate([row_hi, [1.0]]),
        np.zeros(n),
        cap,
        threads=1,  # the active-set QP is serial; one thread as the face's range LPs
    )
    h.setOptionValue("qp_iteration_limit", int(QP_ITERATIONS_PER_ROW * (A.shape[0] + n) + 1000))
    # Hessian 2I (lower triangle, column-wise): the objective ½ ω'(2I)ω = ||ω||².
    status = h.passHessian(  # type: ignore[call-overload]
        n,
        n,
        highspy.HessianFormat.kTriangular,
        np.arange(n + 1, dtype=np.int32),
        np.arange(n, dtype=np.int32),
        np.full(n, 2.0),
    )
    if status == highspy.HighsStatus.kError:
        raise SolverError("least-norm weights (HiGHS QP)", "Hessian rejected")
    return np.asarray(run(h, "least-norm weights (HiGHS QP)").x, dtype=float)
