"""The optimal face of ω (lpmech.weights): its reduced rows describe the face of every row.

optimal_face keeps, of the profiles that trade, only the maximal ones (no +e_i neighbour trades)
and, of those that refuse, only the minimal ones, and drops repeated rows of pooled (ironed)
types. The references here build the face from every profile's row and solve it without row
generation: the 2N range LPs with scipy's linprog over all rows, the least-norm point with a
cvxpy QP over all rows. The row check of the range LPs (_violations) is held to a brute-force
check of every row.
"""

import cvxpy as cp
import numpy as np
import pytest
import scipy.optimize
from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st

import lpmech
from lpmech import solver
from lpmech.weights import Face, _violations, canonical_weights, face_ranges, optimal_face


def every_row(x, phi_bar, b, rtol, x_tol, uncertainty=0.0):
    """(Phi, lower, upper): the row of every profile that trades / refuses, no reduction (whole grid)."""
    n = len(phi_bar)
    grids = np.meshgrid(*[np.arange(len(v)) for v in phi_bar], indexing="ij")
    at = np.stack([g.ravel() for g in grids], axis=1)
    exact = np.stack([phi_bar[i][at[:, i]] for i in range(n)], axis=1)
    absx = np.abs(exact)
    threshold = x_tol * (abs(b) + absx.min(axis=1)) / np.maximum(abs(b) + absx.max(axis=1), 1e-300)
    xs = np.asarray(x, dtype=float).ravel()
    trade, refuse = xs > threshold, xs < 1.0 - threshold
    slack = uncertainty * absx.sum(axis=1)
    Phi = np.vstack([exact[trade] - rtol * absx[trade], exact[refuse] + rtol * absx[refuse]])
    upper = np.concatenate([b + rtol * abs(b) + slack[trade], np.full(refuse.sum(), np.inf)])
    lower = np.concatenate([np.full(trade.sum(), -np.inf), b - rtol * abs(b) - slack[refuse]])
    return Phi, lower, upper


def reference_ranges(Phi, lower, upper, cap):
    """min and max of each ω_i over {ω in Δ, ω <= cap, lower <= Phi ω <= upper}: linprog, all rows."""
    n = Phi.shape[1]
    up, lo = np.isfinite(upper), np.isfinite(lower)
    A_ub = np.vstack([Phi[up], -Phi[lo]])
    b_ub = np.concatenate([upper[up], -lower[lo]])
    out = np.empty((n, 2))
    for i in range(n):
        for j, sense in enumerate((1.0, -1.0)):
            c = np.zeros(n)
            c[i] = sense
            res = scipy.optimize.linprog(
                c, A_ub=A_ub, b_ub=b_ub, A_eq=np.ones((1, n)), b_eq=[1.0], bounds=list(zip(np.zeros(n), cap))
            )
            assert res.status == 0, res.message
            out[i, j] = res.x[i]
    return out


def reference_least_norm(Phi, lower, upper, cap):
    """The least-norm ω of the same set: a cvxpy QP over all rows."""
    n = Phi.shape[1]
    w = cp.Variable(n, nonneg=True)
    up, lo = np.isfinite(upper), np.isfinite(lower)
    cons = [cp.sum(w) == 1, w <= cap]
    if up.any():
        cons.append(Phi[up] @ w <= upper[up])
    if lo.any():
        cons.append(Phi[lo] @ w >= lower[lo])
    cp.Problem(cp.Minimize(cp.sum_squares(w)), cons).solve(solver=cp.CLARABEL)
    return np.asarray(w.value)


def best_response(rng, phi_bar, b, omega):
    """x = 1 where ω·φ̄ < b, 0 where > b, and a random share (0, 1, 1/2 or any) at the ties."""
    index = best_response_index(omega, phi_bar)
    x = (index < b).astype(float)
    tie = index == b
    x[tie] = rng.choice([0.0, 1.0, 0.5, float(rng.random())], size=int(tie.sum()))
    return x


@st.composite
def pooled_faces(draw):
    """φ̄ on small integer lattices with repeated values (pooled types), b at a tie of ω = 1/N or
    between, and x a best response to ω = 1/N with random shares at the ties."""
    seed = draw(st.integers(0, 2**32 - 1))
    shape = draw(st.lists(st.integers(1, 5), min_size=2, max_size=3))
    rng = np.random.default_rng(seed)
    scale = float(10.0 ** rng.integers(-1, 2)) * (1 if rng.random() < 0.7 else -1)
    phi_bar = [np.sort(rng.integers(-2, 4, size=k).astype(float) * scale) for k in shape]
    n = len(shape)
    omega = np.full(n, 1.0 / n)
    index = best_response_index(omega, phi_bar)
    b = float(rng.choice(index.ravel())) if rng.random() < 0.8 else float(np.median(index)) + 0.01 * abs(scale)
    return rng, phi_bar, b, omega


def best_response_index(omega, phi_bar):
    """ω·φ̄ over the whole grid (the same floats in every use)."""
    index = omega[0] * phi_bar[0]
    for w, v in zip(omega[1:], phi_bar[1:]):
        index = np.add.outer(index, w * v)
    return np.asarray(index, dtype=float)


def face_of(x, phi_bar, b, rtol=1e-9, x_tol=1e-9, uncertainty=0.0):
    n = len(phi_bar)
    return optimal_face(
        x,
        phi_bar,
        b,
        np.zeros(n),
        [np.zeros(len(v)) for v in phi_bar],
        [[] for _ in phi_bar],
        value_tol=0.0,
        index_rtol=rtol,
        uncertainty=uncertainty,
        x_tol=x_tol,
    )


def assert_same_face(face, x, phi_bar, b, reference, rtol=1e-9, x_tol=1e-9):
    Phi, lower, upper = every_row(x, phi_bar, b, rtol, x_tol)
    # every kept row is one of the rows of the whole grid
    assert face.Phi.shape[0] <= Phi.shape[0]
    assert face_ranges(face, reference) == pytest.approx(reference_ranges(Phi, lower, upper, face.cap), abs=1e-7)
    # the canonical ω is in the face of every row, and no member of it has a smaller norm (the
    # QP's point, accurate to ~1e-8, may sit just outside a thin face: compared by norm)
    w = canonical_weights(face, reference)
    index = Phi @ w
    size = 1e-9 * (np.abs(np.where(np.isfinite(upper), upper, lower)) + np.abs(Phi) @ w)
    assert np.all(index <= upper + size) and np.all(index >= lower - size)
    ref = reference_least_norm(Phi, lower, upper, face.cap)
    assert w @ w <= ref @ ref + 1e-7


@settings(max_examples=examples(200, 30), deadline=None)
@given(case=pooled_faces())
def test_reduced_rows_give_the_face_of_every_row(case):
    rng, phi_bar, b, omega = case
    x = best_response(rng, phi_bar, b, omega)
    face = face_of(x, phi_bar, b)
    assert_same_face(face, x, phi_bar, b, omega)
    # pooled types: no two kept rows of one kind come from profiles with the same φ̄ vector
    exact = face.exact
    for part in (exact[: face.n_up], exact[face.n_up :]):
        assert np.unique(part, axis=0).shape[0] == part.shape[0]


@settings(max_examples=examples(100, 15), deadline=None)
@given(case=pooled_faces(), u=st.sampled_from([1e-9, 1e-6, 1e-3]))
def test_with_an_uncertainty_the_reduced_face_contains_the_face_of_every_row(case, u):
    """With ω's own allowance u Σ|φ̄| in the bounds a dropped row is implied only up to that
    allowance: the face of the kept rows contains the face of every row."""
    rng, phi_bar, b, omega = case
    x = best_response(rng, phi_bar, b, omega)
    face = face_of(x, phi_bar, b, uncertainty=u)
    Phi, lower, upper = every_row(x, phi_bar, b, 1e-9, 1e-9, uncertainty=u)
    got, ref = face_ranges(face, omega), reference_ranges(Phi, lower, upper, face.cap)
    assert np.all(got[:, 0] <= ref[:, 0] + 1e-9) and np.all(got[:, 1] >= ref[:, 1] - 1e-9)


def lattice_instance(rng, n, k, side):
    """Integer grids and random pmfs: ties of ω·φ̄ with b, and ironing (non-monotone virtual costs)."""
    agents = []
    for i in range(n):
        grid = np.sort(rng.choice(np.arange(1, 3 * k + 1), size=k, replace=False)).astype(float)
        probs = rng.dirichlet(np.full(k, 0.7))
        agents.append(lpmech.Agent(f"a{i}", grid, probs / probs.sum()))
    value = float(rng.integers(2, 3 * k + 2))
    if side == "buy":
        return lpmech.Instance("buy", agents, buyer_value=value)
    return lpmech.Instance("sell", agents, seller_cost=value / 3)


@settings(max_examples=examples(60, 12), deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 3),
    k=st.integers(2, 5),
    side=st.sampled_from(["buy", "sell"]),
    method=st.sampled_from(["lp", "structured"]),
)
def test_solve_face_equals_the_face_of_every_row(seed, n, k, side, method):
    """The face lpmech.solve builds (buy and sell, ties and ironing) against every row of its x."""
    rng = np.random.default_rng(seed)
    inst = lattice_instance(rng, n, k, side)
    seen = {}

    def spy(x, phi_bar, b, *args, **kw):
        face = optimal_face(x, phi_bar, b, *args, **kw)
        seen.update(x=x, phi_bar=phi_bar, b=b, kw=kw, face=face)
        return face

    original = solver.optimal_face
    solver.optimal_face = spy
    try:
        res = lpmech.solve(inst, method=method)
    finally:
        solver.optimal_face = original
    x = seen["x"].dense() if hasattr(seen["x"], "dense") else seen["x"]
    kw, face = seen["kw"], seen["face"]
    if kw.get("uncertainty", 0.0):
        pytest.skip("the core solver reported an uncertainty of ω (covered above)")
    Phi, lower, upper = every_row(x, seen["phi_bar"], seen["b"], kw["index_rtol"], 1e-9)
    omega = np.clip(np.asarray(res.omega, dtype=float), 0, None)
    ref = reference_ranges(Phi, lower, upper, face.cap)
    assert face_ranges(face, omega / omega.sum()) == pytest.approx(ref, abs=1e-8)
    assert res.omega_range == pytest.approx(ref, abs=1e-7)


@settings(max_examples=examples(100, 20), deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 6), most=st.sampled_from([1, 3, 1000]))
def test_violations_match_a_check_of_every_row(seed, m, most):
    """The blocked, batched row check against every row checked one weight vector at a time."""
    rng = np.random.default_rng(seed)
    rows, n = int(rng.integers(1, 40)), int(rng.integers(1, 5))
    Phi = rng.normal(size=(rows, n)) * 10.0 ** rng.integers(-3, 4, size=(rows, 1))
    n_up = int(rng.integers(0, rows + 1))
    bound = rng.normal(size=rows)
    upper = np.where(np.arange(rows) < n_up, bound, np.inf)
    lower = np.where(np.arange(rows) < n_up, -np.inf, bound)
    W = rng.dirichlet(np.ones(n), size=m).T
    skip = rng.random(rows) < 0.3
    for face in (Face(Phi, lower, upper, np.ones(n, bool), n_up=n_up), Face(Phi, lower, upper, np.ones(n, bool))):
        got = _violations(face, W, skip, most=most)
        for col in range(m):
            w = W[:, col]
            index = Phi @ w
            excess = np.maximum(index - upper, lower - index)
            noise = 1e-12 * (np.abs(bound) + np.abs(Phi) @ np.abs(w))
            bad = np.flatnonzero((excess > noise) & ~skip)
            if bad.size <= most:
                assert got[col].tolist() == bad.tolist()
            else:  # the `most` largest excesses
                assert got[col].size == most and set(got[col]) <= set(bad)
                assert excess[got[col]].min() >= np.sort(excess[bad])[-most]


def test_pooled_profiles_give_one_row():
    """Two agents with all types pooled in pairs: the rows of a pair's profiles are one row."""
    phi_bar = [np.array([1.0, 1.0, 3.0, 3.0]), np.array([2.0, 2.0, 4.0, 4.0])]
    b = 2.5  # ω = (1/2, 1/2): index 1.5, 2.5 (ties), 3.5
    rng = np.random.default_rng(3)
    omega = np.array([0.5, 0.5])
    x = best_response(rng, phi_bar, b, omega)
    x[0, 3], x[1, 2] = 0.25, 0.75  # different shares at tied profiles of one pooled class
    face = face_of(x, phi_bar, b)
    assert np.unique(face.exact[: face.n_up], axis=0).shape[0] == face.n_up
    assert_same_face(face, x, phi_bar, b, omega)
