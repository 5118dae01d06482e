"""lpmech.least_norm (NNLS least-distance program, HiGHS QP as the second path) against an
independent formulation: cvxpy with Clarabel. Also lpmech.highs.highs_thread, through which a
solve's HiGHS runs (this QP among them) share one worker thread.

The least-norm point of a polytope is unique (the objective is strictly convex), so two solvers
that solve the QP must agree on it to their accuracy, on any face: random ones, and degenerate
ones (a single point, duplicated and zero rows, ties at the minimizer, capped agents, wide
coefficients, an empty face).
"""

from __future__ import annotations

import numpy as np
import pytest

from lpmech import least_norm
from lpmech.errors import SolverError
from lpmech.least_norm import least_norm_weights

cp = pytest.importorskip("cvxpy")


def cvxpy_least_norm(Phi, lower, upper, cap):
    """The reference: the same QP written in cvxpy and solved by Clarabel to 1e-10."""
    n = cap.size
    w = cp.Variable(n, nonneg=True)
    cons = [cp.sum(w) == 1, w <= cap]
    up, lo = np.isfinite(upper), np.isfinite(lower)
    if up.any():
        cons.append(Phi[up] @ w <= upper[up])
    if lo.any():
        cons.append(Phi[lo] @ w >= lower[lo])
    prob = cp.Problem(cp.Minimize(cp.sum_squares(w)), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    if prob.status != cp.OPTIMAL:
        raise SolverError("reference", str(prob.status))
    out = np.clip(np.asarray(w.value, dtype=float), 0.0, None)
    return out / out.sum()


def _feasible(Phi, lower, upper, cap, w, rtol=1e-8):
    """Every constraint holds up to rtol times the magnitude of its terms."""
    size = 1.0 + np.abs(Phi) @ np.abs(w) + np.where(np.isfinite(upper), np.abs(upper), 0.0)
    size = size + np.where(np.isfinite(lower), np.abs(lower), 0.0)
    index = Phi @ w
    return (
        abs(w.sum() - 1.0) <= 1e-12
        and np.all(w >= 0.0)
        and np.all(w <= cap + 1e-9)
        and np.all(index <= np.where(np.isfinite(upper), upper, np.inf) + rtol * size)
        and np.all(index >= np.where(np.isfinite(lower), lower, -np.inf) - rtol * size)
    )


def _agree(Phi, lower, upper, cap, atol=1e-6, solver=least_norm_weights):
    got = solver(Phi, lower, upper, cap)
    ref = cvxpy_least_norm(Phi, lower, upper, cap)
    assert _feasible(Phi, lower, upper, cap, got), (got, ref)
    # both feasible: the unique minimizer is where they agree; HiGHS's is no worse than Clarabel's
    assert got @ got <= ref @ ref + 1e-8, (got, ref)
    np.testing.assert_allclose(got, ref, atol=atol)
    return got


def _random_face(rng, n, rows, *, ties=0.0, scale=1.0, one_sided=True):
    """Rows through a random ω0 of the simplex, each bound a random slack away (0 with prob. ties)."""
    w0 = rng.dirichlet(np.ones(n))
    Phi = rng.normal(size=(rows, n)) * scale
    slack = rng.exponential(0.05 * scale, size=rows) * (rng.random(rows) >= ties)
    index = Phi @ w0
    upper = index + slack
    lower = index - rng.exponential(0.05 * scale, size=rows) * (rng.random(rows) >= ties)
    if one_sided:  # as in lpmech.weights.Face: upper-only rows, then lower-only rows
        half = rows // 2
        upper[half:] = np.inf
        lower[:half] = -np.inf
    return Phi, lower, upper, np.ones(n)


@pytest.mark.parametrize("seed", range(12))
def test_random_faces_match_cvxpy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 6))
    _agree(*_random_face(rng, n, int(rng.integers(1, 40)), one_sided=bool(seed % 2)))


def _by_highs(Phi, lower, upper, cap):
    """The HiGHS QP alone (the path taken when the NNLS answer fails its check)."""
    import scipy.sparse as sp

    w = least_norm._highs_qp(sp.csr_matrix(Phi), np.asarray(lower, float), np.asarray(upper, float), cap)
    w = np.clip(w, 0.0, None)
    return w / w.sum()


@pytest.mark.parametrize("seed", range(6))
def test_highs_qp_path_matches_cvxpy(seed):
    rng = np.random.default_rng(200 + seed)
    Phi, lower, upper, cap = _random_face(rng, int(rng.integers(2, 5)), 20, one_sided=bool(seed % 2))
    _agree(Phi, lower, upper, cap, solver=_by_highs)


def test_face_of_uniform_pair_k64(monkeypatch):
    # the face on which HiGHS's QP cycled (126 rows, optimum (1/2, 1/2) interior by symmetry)
    import lpmech
    from benchmarks.core import uniform
    from lpmech import weights

    seen = []
    original = weights._least_norm

    def capture(face, rows):
        seen.append((face.Phi[rows], face.lower[rows], face.upper[rows], face.cap))
        return original(face, rows)

    monkeypatch.setattr(weights, "_least_norm", capture)
    lpmech.solve(uniform(2, 64), method="structured")
    assert seen
    for face in seen:
        np.testing.assert_allclose(_agree(*face), [0.5, 0.5], atol=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_degenerate_faces_with_ties_match_cvxpy(seed):
    # half the bounds pass exactly through ω0: many rows tight at once, often ω0 itself the face
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(2, 5))
    Phi, lower, upper, cap = _random_face(rng, n, 30, ties=0.5, one_sided=False)
    dup = rng.integers(0, 30, size=10)  # duplicated rows
    Phi, lower, upper = np.vstack([Phi, Phi[dup]]), np.concatenate([lower, lower[dup]]), np.concatenate([upper, upper[dup]])
    _agree(Phi, lower, upper, cap, atol=1e-5)


def test_single_point_face():
    # ω1 - ω2 = 0.2 and ω2 - ω3 = 0.1 with Σ ω = 1: the one point (0.5, 0.3, 0.2) (hand-solved)
    Phi = np.array([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]])
    target = np.array([0.2, 0.1])
    got = _agree(Phi, target, target, np.ones(3))
    np.testing.assert_allclose(got, [0.5, 0.3, 0.2], atol=1e-9)


def test_uniform_is_the_answer_when_feasible_and_zero_rows_are_ignored():
    Phi = np.vstack([np.zeros((3, 4)), np.array([[1.0, 1.0, -1.0, -1.0]])])
    lower = np.array([-1.0, -1.0, 0.0, -0.5])
    upper = np.array([1.0, np.inf, 0.0, 0.5])
    got = _agree(Phi, lower, upper, np.ones(4))
    np.testing.assert_allclose(got, np.full(4, 0.25), atol=1e-12)


def test_caps_and_excluded_agents():
    # agent 3 excluded (cap 0), agent 1 capped at 0.2 and held at least there: the rest, 0.8,
    # split evenly between agents 0 and 2 -> (0.4, 0.2, 0.4, 0) (hand-solved)
    cap = np.array([1.0, 0.2, 1.0, 0.0])
    Phi = np.array([[0.0, -1.0, 0.0, 0.0]])  # ω1 >= 0.2 (as -ω1 <= -0.2)
    got = _agree(Phi, np.array([-np.inf]), np.array([-0.2]), cap)
    np.testing.assert_allclose(got, [0.4, 0.2, 0.4, 0.0], atol=1e-9)


def test_wide_coefficients_match_cvxpy():
    # one row holding 1e6 next to 1 (a type far out): the row scaling keeps the small side
    rng = np.random.default_rng(7)
    Phi, lower, upper, cap = _random_face(rng, 3, 12)
    Phi[0] = [1e6, 1.0, -1.0]
    w0 = np.array([1e-7, 0.6, 0.4 - 1e-7])
    upper[0], lower[0] = Phi[0] @ w0, -np.inf
    keep = (Phi @ w0 <= upper + 1e-12) & (Phi @ w0 >= lower - 1e-12)
    _agree(Phi[keep], lower[keep], upper[keep], cap, atol=1e-6)


def test_one_agent_and_no_rows():
    np.testing.assert_array_equal(least_norm_weights(np.zeros((0, 1)), [], [], [1.0]), [1.0])
    np.testing.assert_allclose(least_norm_weights(np.zeros((0, 3)), [], [], np.ones(3)), np.full(3, 1 / 3))


def test_empty_face_raises_with_highs_status():
    Phi = np.array([[1.0, 0.0], [1.0, 0.0]])
    with pytest.raises(SolverError, match="Infeasible"):
        least_norm_weights(Phi, np.array([0.7, -np.inf]), np.array([np.inf, 0.3]), np.ones(2))
    with pytest.raises(SolverError):
        cvxpy_least_norm(Phi, np.array([0.7, -np.inf]), np.array([np.inf, 0.3]), np.ones(2))


def test_shape_mismatch_is_a_value_error():
    with pytest.raises(ValueError):
        least_norm_weights(np.ones((2, 3)), np.zeros(2), np.ones(2), np.ones(2))
    with pytest.raises(ValueError):
        least_norm_weights(np.ones((2, 2)), np.zeros(1), np.ones(2), np.ones(2))


def test_highs_thread_runs_models_of_every_thread_count_and_leaves_no_scheduler():
    # HiGHS refuses a run whose `threads` differs from the size of its thread's scheduler
    # ("Not Set"); the shared worker must reset it between such runs, and leave nothing behind
    import threading

    import highspy
    import scipy.sparse as sp

    from lpmech.highs import INF, highs_thread, make_highs, run

    def model(threads):
        A = sp.csr_matrix(np.ones((1, 2)))
        return make_highs(-np.ones(2), A, [-INF], [1.0], np.zeros(2), np.ones(2), threads=threads)

    workers = set()
    with highs_thread():
        for threads in (None, 1, 2, None, 1):
            assert run(model(threads), f"threads={threads}").objective == pytest.approx(-1.0)
        workers = {t.ident for t in threading.enumerate() if t.name == "lpmech-highs"}
        assert len(workers) == 1  # one worker for every run
    assert not any(t.name == "lpmech-highs" for t in threading.enumerate())

    def user_model():  # the caller's thread afterwards: a 1-thread model of the user's own
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        h.addVar(0.0, 1.0)
        h.changeColCost(0, -1.0)
        h.run()
        out = h.modelStatusToString(h.getModelStatus())
        highspy.Highs.resetThreadScheduler(True)
        return out

    box = []
    t = threading.Thread(target=lambda: box.append(user_model()))
    t.start()
    t.join()
    assert box == ["Optimal"]
