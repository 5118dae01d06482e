"""A thin layer over highspy: pass a sparse LP, run it, and report HiGHS's own status.

Every LP in lpmech goes through :func:`make_highs` / :func:`run`, so options, tolerances
and failure reporting are the same everywhere. A model status other than *Optimal* raises
:class:`SolverError` carrying HiGHS's status string; it is never turned into an answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from .errors import SolverError

__all__ = ["SolverError", "LPSolution", "make_highs", "run", "row_scaled", "dropped_entries", "INF"]

INF = highspy.kHighsInf

#: Feasibility tolerances used for every LP (HiGHS's defaults are 1e-7).
FEAS_TOL = 1e-9
#: HiGHS drops matrix entries below ``small_matrix_value`` (default 1e-9) when the model is
#: passed; 1e-12 is the smallest it accepts. Callers scale rows so that what is dropped is
#: negligible, and :func:`dropped_entries` reports how much was.
SMALL_MATRIX_VALUE = 1e-12


@dataclass
class LPSolution:
    x: np.ndarray
    row_dual: np.ndarray
    objective: float
    status: str
    seconds: float
    iterations: int


def make_highs(c: np.ndarray, A: sp.spmatrix, row_lo: np.ndarray, row_hi: np.ndarray,
               col_lo: np.ndarray, col_hi: np.ndarray, *, threads: int | None = None) -> highspy.Highs:
    """A Highs object holding ``min c·x  s.t.  row_lo <= A x <= row_hi, col_lo <= x <= col_hi``."""
    A = sp.csc_matrix(A)
    A.sort_indices()
    lp = highspy.HighsLp()
    lp.num_col_ = A.shape[1]
    lp.num_row_ = A.shape[0]
    lp.col_cost_ = np.asarray(c, dtype=float)
    lp.col_lower_ = np.asarray(col_lo, dtype=float)
    lp.col_upper_ = np.asarray(col_hi, dtype=float)
    lp.row_lower_ = np.asarray(row_lo, dtype=float)
    lp.row_upper_ = np.asarray(row_hi, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    lp.a_matrix_.num_col_ = A.shape[1]
    lp.a_matrix_.num_row_ = A.shape[0]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("primal_feasibility_tolerance", FEAS_TOL)
    h.setOptionValue("dual_feasibility_tolerance", FEAS_TOL)
    h.setOptionValue("small_matrix_value", SMALL_MATRIX_VALUE)   # before passModel: it filters on entry
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    status = h.passModel(lp)
    if status == highspy.HighsStatus.kError:
        raise SolverError("passing the model to HiGHS", "model rejected")
    return h


def dropped_entries(A: sp.spmatrix) -> int:
    """How many entries of ``A`` HiGHS drops as too small when the model is passed
    (|a| <= ``small_matrix_value``, its rule)."""
    return int(np.count_nonzero(np.abs(sp.csc_matrix(A).data) <= SMALL_MATRIX_VALUE))


def row_scaled(A: sp.spmatrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """A with every row divided by its largest |entry| (rows of zeros kept), and the factors."""
    A = sp.csr_matrix(A)
    big = np.zeros(A.shape[0])
    np.maximum.at(big, np.repeat(np.arange(A.shape[0]), np.diff(A.indptr)), np.abs(A.data))
    factor = np.where(big > 0, 1.0 / np.where(big > 0, big, 1.0), 1.0)
    return sp.csr_matrix(sp.diags(factor) @ A), factor


def run(h: highspy.Highs, what: str) -> LPSolution:
    """Run HiGHS; raise :class:`SolverError` unless the model status is Optimal."""
    h.run()
    model_status = h.getModelStatus()
    status = h.modelStatusToString(model_status)
    if model_status != highspy.HighsModelStatus.kOptimal:
        raise SolverError(what, status)
    sol = h.getSolution()
    info = h.getInfo()
    return LPSolution(x=np.asarray(sol.col_value), row_dual=np.asarray(sol.row_dual),
                      objective=float(info.objective_function_value), status=status,
                      seconds=float(h.getRunTime()),
                      iterations=int(info.simplex_iteration_count + max(info.ipm_iteration_count, 0)))
