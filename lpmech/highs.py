"""A thin layer over highspy: pass a sparse LP, run it, and report HiGHS's own status.

Every LP in lpmech goes through :func:`make_highs` / :func:`run`, so options, tolerances,
the one retry (``run(h, what, retry=...)``, e.g. :func:`cold_simplex`) and failure reporting
are the same everywhere; :func:`row_scaled` is the one row scaling. A model status other than *Optimal* raises
:class:`SolverError` carrying HiGHS's status string; it is never turned into an answer.

lpmech leaves no process-wide trace of HiGHS:

- **No output.** HiGHS prints a licence banner on C stdout when the first ``Highs`` object of a
  process is made, before any option can turn output off. :func:`new_highs` makes every
  ``Highs`` object of lpmech's; the first one is made with file descriptor 1 pointed at
  ``os.devnull`` (restored at once), and every one gets ``output_flag = False``.
- **No thread pool.** HiGHS keeps one task scheduler per thread, sized by the ``threads``
  option of the first run in that thread; a later run there asking for another size fails
  (model status "Not Set"). :func:`run` therefore runs HiGHS in a short-lived thread of its
  own and destroys that thread's scheduler before returning, so the caller's thread (and
  scipy's ``linprog``, cvxpy, or the user's own highspy models in it) never sees lpmech's.
  Inside :func:`highs_thread` the runs of the calling thread share one worker thread instead
  (creating and destroying a scheduler per run cost ~1-7 ms, measured: several times a small
  LP's run), whose scheduler is destroyed when the block exits.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp

from .errors import SolverError

__all__ = [
    "INF",
    "LPSolution",
    "SolverError",
    "cold_simplex",
    "dropped_entries",
    "highs_thread",
    "in_own_thread",
    "make_highs",
    "new_highs",
    "row_scaled",
    "run",
]

INF = highspy.kHighsInf

#: Feasibility tolerances used for every LP (HiGHS's defaults are 1e-7).
FEAS_TOL = 1e-9
#: HiGHS drops matrix entries below ``small_matrix_value`` (default 1e-9) when the model is
#: passed; 1e-12 is the smallest it accepts. Callers scale rows so that what is dropped is
#: negligible, and :func:`dropped_entries` reports how much was.
SMALL_MATRIX_VALUE = 1e-12


@dataclass
class LPSolution:
    """What :func:`run` returns.

    Attributes
    ----------
    x : ndarray, shape (n,)
        The primal point (column values).
    row_dual : ndarray, shape (m,)
        HiGHS's row duals (its sign convention, rows as passed).
    objective : float
        The objective value c·x.
    status : str
        HiGHS's model status string (``"Optimal"``).
    seconds : float
        HiGHS's run time.
    iterations : int
        Simplex plus interior-point iterations.
    """

    x: np.ndarray
    row_dual: np.ndarray
    objective: float
    status: str
    seconds: float
    iterations: int


_first_made = False
_first_lock = threading.Lock()


def _flush_c_stdio() -> None:
    """Flush the C library's stdio buffers (what HiGHS printed goes out before fd 1 moves back)."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library handle (e.g. Windows): nothing buffered to us
        pass


def _with_stdout_silenced(make):
    """Call ``make()`` with file descriptor 1 pointed at ``os.devnull``; restore it in any case."""
    for stream in (sys.stdout, sys.__stdout__):
        try:
            stream.flush()  # what Python wrote before must not be lost
        except (AttributeError, OSError, ValueError):
            pass
    try:
        saved = os.dup(1)
    except OSError:  # no standard output at all: nothing to protect
        return make()
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
        finally:
            os.close(null)
        try:
            return make()
        finally:
            _flush_c_stdio()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def new_highs() -> highspy.Highs:
    """A new, silent ``highspy.Highs`` object (``output_flag`` off).

    HiGHS prints a licence banner on the C-level standard output when the first ``Highs``
    object of a process is made; lpmech makes its first one with file descriptor 1 pointed at
    ``os.devnull`` and restores it at once (the banner is printed once per process, so later
    objects are made normally). Any other Python thread writing to file descriptor 1 during
    that first construction loses what it writes.

    Returns
    -------
    highspy.Highs
    """
    global _first_made
    with _first_lock:
        if _first_made:
            h = highspy.Highs()
        else:
            h = _with_stdout_silenced(highspy.Highs)
            _first_made = True
    h.setOptionValue("output_flag", False)
    return h


#: A worker thread's scheduler state: none yet, made by a run of unknown ``threads``, or the
#: ``threads`` option of the run that made it (0: HiGHS's default size).
_UNKNOWN = object()
_local = threading.local()  # .worker: the calling thread's _Worker inside highs_thread()


class _Worker:
    """One thread running the HiGHS jobs handed to it, in order, one at a time.

    HiGHS refuses a run whose ``threads`` option (other than 0, "any") differs from the size
    of the thread's scheduler (model status "Not Set"); the worker destroys its scheduler
    before such a run, and before and after a job whose option it cannot see
    (:func:`in_own_thread` with any callable), so each job finds what a fresh thread would.
    """

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.sized: Any = None  # None, _UNKNOWN or the `threads` option that sized the scheduler
        self.thread = threading.Thread(target=self._loop, name="lpmech-highs", daemon=True)
        self.thread.start()

    def _reset(self) -> None:
        if self.sized is not None:
            highspy.Highs.resetThreadScheduler(True)
            self.sized = None

    def _loop(self) -> None:
        try:
            while True:
                job = self.jobs.get()
                if job is None:
                    return
                func, args, kwargs, threads, box, done = job
                try:
                    if threads is None or (threads != 0 and self.sized not in (None, threads)):
                        self._reset()
                    if self.sized is None:
                        self.sized = _UNKNOWN if threads is None else threads
                    box["value"] = func(*args, **kwargs)
                except BaseException as err:  # noqa: BLE001 (handed to the caller)
                    box["error"] = err
                finally:
                    if threads is None:
                        self._reset()
                    done.set()
        finally:
            highspy.Highs.resetThreadScheduler(True)

    def call(self, func, args, kwargs, threads):
        box: dict = {}
        done = threading.Event()
        self.jobs.put((func, args, kwargs, threads, box, done))
        done.wait()
        if "error" in box:
            raise box["error"]
        return box["value"]

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()


@contextmanager
def highs_thread() -> Iterator[None]:
    """Run every HiGHS job of the calling thread inside the block in one worker thread.

    Without it, each :func:`run` (and :func:`in_own_thread`) starts a thread, whose HiGHS task
    scheduler is made and destroyed with it. Inside the block they go, in order, to one
    worker thread, which destroys its scheduler before a run asking for another size (and
    around jobs whose size it cannot see) and when the block exits: afterwards the caller's
    thread and HiGHS's scheduler state are as they were (no scheduler in the caller's thread,
    none left by lpmech). Re-entrant: a nested block uses the outer one's worker. Other
    threads are not affected (the worker is the calling thread's).

    Yields
    ------
    None

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> with highs_thread():
    ...     h = make_highs(-np.ones(2), sp.csr_matrix(np.ones((1, 2))), [-INF], [1.0], np.zeros(2), np.ones(2))
    ...     run(h, "example").objective
    -1.0
    """
    if getattr(_local, "worker", None) is not None:
        yield
        return
    worker = _Worker()
    _local.worker = worker
    try:
        yield
    finally:
        _local.worker = None
        worker.close()


def in_own_thread(func, *args, **kwargs):
    """Call ``func(*args, **kwargs)`` in a new thread and return (or raise) what it does.

    HiGHS sizes one task scheduler per thread at its first run there; running it in a thread
    of its own, whose scheduler is destroyed before the thread ends, leaves the caller's
    thread as it was. Use it for anything that runs HiGHS, e.g. a cvxpy solve with
    ``solver="HIGHS"``. Inside :func:`highs_thread` the call goes to the block's worker
    thread instead (which destroys its scheduler before and after such a call).

    Parameters
    ----------
    func : callable
        What to run.
    *args, **kwargs
        Passed to ``func``.

    Returns
    -------
    object
        ``func``'s return value.

    Raises
    ------
    BaseException
        Whatever ``func`` raises, re-raised in the calling thread.
    """
    return _dispatch(func, args, kwargs, None)


def _dispatch(func, args, kwargs, threads):
    """``func(*args, **kwargs)`` in the block's worker (:func:`highs_thread`) or a new thread;
    ``threads``: the HiGHS ``threads`` option of the run (None: unknown)."""
    worker = getattr(_local, "worker", None)
    if worker is not None:
        return worker.call(func, args, kwargs, threads)
    box: dict = {}

    def target():
        try:
            box["value"] = func(*args, **kwargs)
        except BaseException as err:  # noqa: BLE001 (handed to the caller below)
            box["error"] = err
        finally:
            highspy.Highs.resetThreadScheduler(True)

    worker = threading.Thread(target=target, name="lpmech-highs", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def make_highs(
    c: np.ndarray,
    A: sp.spmatrix,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
    col_lo: np.ndarray,
    col_hi: np.ndarray,
    *,
    threads: int | None = None,
) -> highspy.Highs:
    """A Highs object holding ``min c·x  s.t.  row_lo <= A x <= row_hi, col_lo <= x <= col_hi``.

    Parameters
    ----------
    c : ndarray, shape (n,)
        Column costs.
    A : sparse matrix, shape (m, n)
    row_lo, row_hi : ndarray, shape (m,)
        Row bounds (``±INF`` for none).
    col_lo, col_hi : ndarray, shape (n,)
        Column bounds.
    threads : int, optional
        HiGHS's thread count for this model (default: HiGHS's own).

    Returns
    -------
    highspy.Highs
        Silent (no console output), ready for :func:`run`.

    Raises
    ------
    SolverError
        HiGHS rejected the model (``passModel`` returned an error).
    """
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
    h = new_highs()
    h.setOptionValue("primal_feasibility_tolerance", FEAS_TOL)
    h.setOptionValue("dual_feasibility_tolerance", FEAS_TOL)
    h.setOptionValue("small_matrix_value", SMALL_MATRIX_VALUE)  # before passModel: it filters on entry
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    status = h.passModel(lp)
    if status == highspy.HighsStatus.kError:
        raise SolverError("passing the model to HiGHS", "model rejected")
    return h


def dropped_entries(A: sp.spmatrix) -> int:
    """How many entries of ``A`` HiGHS drops as too small when the model is passed
    (|a| <= ``small_matrix_value``, its rule).

    Parameters
    ----------
    A : sparse matrix

    Returns
    -------
    int
    """
    return int(np.count_nonzero(np.abs(sp.csc_matrix(A).data) <= SMALL_MATRIX_VALUE))


#: Row scaling centres a row's entries on 1 over at most this range: entries below
#: 1/ROW_SCALE_RANGE of the row's largest are left out of the centring (they are cancellation
#: noise such as b − φ_i ≈ 0 or negligible terms), so no scaled entry exceeds sqrt(ROW_SCALE_RANGE) (about 316).
#: Measured: without the cap, rows holding 1e-17 rounding residues were blown up to 1e8 and
#: HiGHS returned wrong vertices on tie-heavy grids; with no centring (divide by the largest),
#: one type 1e9 times the others shrank the rest of its row below the feasibility tolerance.
ROW_SCALE_RANGE = 1e5


def row_scaled(A: sp.spmatrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """A with every row divided by the geometric mean of its largest |entry| and its smallest
    one (the smallest taken at least 1/ROW_SCALE_RANGE of the largest).

    Parameters
    ----------
    A : sparse matrix, shape (m, n)

    Returns
    -------
    (scipy.sparse.csr_matrix, ndarray of shape (m,))
        The scaled matrix and the factors (rows of zeros kept, factor 1).

    Centring each
    row's entries on 1 keeps both ends of a wide row away from HiGHS's limits: the smallest
    entries stay above ``small_matrix_value``, and a row holding a huge coefficient (one type
    far out, or a tiny probability in a virtual cost) is not shrunk until HiGHS's absolute
    feasibility tolerance swallows the rest of it, which dividing by the largest entry did (a
    row z <= E[x(b − φ_i)] with one entry of 1e9 held to 1e-9 after scaling is held to 1 in
    the value's units). Scaling a row changes no primal solution; the duals of row r are
    ``factor[r]`` times the original row's.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> B, f = row_scaled(sp.csr_matrix(np.array([[1e-4, 1.0], [0.0, 0.0]])))
    >>> B.toarray().round(6).tolist(), f.tolist()
    ([[0.01, 100.0], [0.0, 0.0]], [100.0, 1.0])
    """
    A = sp.csr_matrix(A)
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    mags = np.abs(A.data)
    big = np.zeros(A.shape[0])
    small = np.full(A.shape[0], np.inf)
    live = mags > 0
    np.maximum.at(big, rows[live], mags[live])
    np.minimum.at(small, rows[live], mags[live])
    has = big > 0
    factor = np.ones(A.shape[0])
    factor[has] = 1.0 / np.sqrt(big[has] * np.maximum(small[has], big[has] / ROW_SCALE_RANGE))
    return sp.csr_matrix(sp.diags(factor) @ A), factor


def _threads_option(h: highspy.Highs) -> int | None:
    """``h``'s ``threads`` option (highspy returns it alone or as (status, value)); None: unreadable."""
    got: Any = h.getOptionValue("threads")
    if isinstance(got, tuple):
        status, got = got
        if status != highspy.HighsStatus.kOk:
            return None
    return int(got)


def _run_once(h: highspy.Highs, what: str) -> LPSolution:
    _dispatch(h.run, (), {}, _threads_option(h))
    model_status = h.getModelStatus()
    status = h.modelStatusToString(model_status)
    if model_status != highspy.HighsModelStatus.kOptimal:
        raise SolverError(what, status)
    sol = h.getSolution()
    info = h.getInfo()
    return LPSolution(
        x=np.asarray(sol.col_value),
        row_dual=np.asarray(sol.row_dual),
        objective=float(info.objective_function_value),
        status=status,
        seconds=float(h.getRunTime()),
        iterations=int(info.simplex_iteration_count + max(info.ipm_iteration_count, 0)),
    )


def run(h: highspy.Highs, what: str, *, retry: Callable[[], tuple[highspy.Highs, str]] | None = None) -> LPSolution:
    """Run HiGHS (in a thread of its own: see :func:`in_own_thread`), retrying once if asked.

    The one place lpmech calls ``Highs.run``.

    Parameters
    ----------
    h : highspy.Highs
        The model (from :func:`make_highs`).
    what : str
        What the LP is, for the error message.
    retry : callable, optional
        Called once, with no arguments, when HiGHS does not report Optimal; returns the model
        to run instead and its description: the same model with other options
        (:func:`cold_simplex`), or one built afresh. Its failure is the one raised.

    Returns
    -------
    LPSolution
        Primal point, row duals, objective, HiGHS's status string, seconds, iterations.

    Raises
    ------
    SolverError
        HiGHS's model status was not Optimal (after the retry, if any); the status is in the
        message.
    """
    try:
        return _run_once(h, what)
    except SolverError:
        if retry is None:
            raise
        h2, what2 = retry()
        return _run_once(h2, what2)


def cold_simplex(h: highspy.Highs, what: str) -> Callable[[], tuple[highspy.Highs, str]]:
    """A ``retry`` for :func:`run`: the same model solved again from scratch by simplex.

    A warm start after rows are added can stall numerically (HiGHS reports "Unknown"); a cold
    simplex solve of the same LP usually succeeds. Leaves ``h`` set to simplex.

    Parameters
    ----------
    h : highspy.Highs
        The model that failed.
    what : str
        Its description, for the error message of a second failure.

    Returns
    -------
    callable
        No arguments; clears ``h``'s solver state, selects simplex and returns ``(h, what)``.
    """

    def again():
        h.clearSolver()
        h.setOptionValue("solver", "simplex")
        return h, what

    return again
