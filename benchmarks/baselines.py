"""Baselines for the scaling benchmark: what lpmech is measured against.

Three functions, each taking an independent-types :class:`lpmech.Instance` and returning a float:

* :func:`handwritten_cvxpy`: the LP a researcher writes without lpmech. The full Bayesian
  mechanism-design LP in cvxpy (Myerson 1981 on grids; the group setting of Haghpanah,
  Kuvalekar and Lipnowski, docs/model.md, section 2): ex post x(θ) in [0, 1] and m(θ) free on every
  profile, interim utilities as cvxpy expressions, one BIC constraint per ordered pair of
  types and one interim IR constraint per type, for every agent, built in a Python loop;
  objective E[b·x − m]; solved by plain ``prob.solve()`` (cvxpy's default solver). Its value
  is the optimal profit, the same number as the maximin LP's (docs/model.md, section 9).
* :func:`linprog_maximin`: :func:`scipy.optimize.linprog` (``method="highs"``) on the same
  maximin LP as :class:`lpmech.maximin.MaximinLP` (docs/model.md, section 5), rebuilt here from
  :func:`lpmech.profiles.interim_operator` with the same row scaling. Returns the optimal z.
* :func:`floor`: the time floor. One vectorized numpy pass that evaluates ω·φ̄(θ) over every
  profile for a fixed ω (equal weights) and compares it with b (the allocation x_ω); every
  method that finds the optimal mechanism must at least do this. Returns the share of
  profiles with ω·φ̄ <= b.

All three start from the :class:`~lpmech.Instance` (as the lpmech methods in
:mod:`benchmarks.scaling` do), so their times are comparable. Buy side only (the benchmark
instances are buy side); :func:`linprog_maximin` and :func:`floor` go through
:meth:`lpmech.Instance.engine` and so also accept sell-side instances.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["handwritten_cvxpy", "linprog_maximin", "floor", "LAST_CVXPY"]

#: Details of the last :func:`handwritten_cvxpy` solve (status, solver, problem size), for reports.
LAST_CVXPY: dict = {}


def handwritten_cvxpy(instance) -> float:
    """Optimal profit from the full BIC + interim IR LP written directly in cvxpy.

    Buy side, independent types: agent i with per-share cost t gets M_i(t) − t·X_i(t), where
    X_i(t) = E[x | θ_i = t] and M_i(t) = E[m | θ_i = t] (shares only scale each agent's utility,
    so they drop out of the constraints).
    """
    import cvxpy as cp

    if instance.side != "buy" or not instance.independent:
        raise ValueError("handwritten_cvxpy covers the buy side with independent types")
    grids = [np.asarray(g, dtype=float) for g in instance.grids]
    probs = [np.asarray(a.probs, dtype=float) for a in instance.agents]
    b = float(instance.buyer_value)
    n = len(grids)
    sizes = [g.size for g in grids]

    # Every profile as a row of type indices, and its probability.
    idx = np.array(list(itertools.product(*[range(k) for k in sizes])), dtype=int)
    pmf = np.ones(len(idx))
    for i in range(n):
        pmf *= probs[i][idx[:, i]]

    x = cp.Variable(len(idx))  # trade probability on every profile
    m = cp.Variable(len(idx))  # transfer from the buyer to the group on every profile
    constraints = [x >= 0, x <= 1]
    for i in range(n):
        # Interim trade probability and transfer of agent i at each of its types.
        X, M = [], []
        for k in range(sizes[i]):
            rows = np.flatnonzero(idx[:, i] == k)
            weights = pmf[rows] / probs[i][k]  # beliefs about the others' types
            X.append(weights @ x[rows])
            M.append(weights @ m[rows])
        for k, t in enumerate(grids[i]):
            truthful = M[k] - t * X[k]
            constraints.append(truthful >= 0)  # interim IR
            for s in range(sizes[i]):
                if s != k:
                    constraints.append(truthful >= M[s] - t * X[s])  # BIC: no gain from reporting s
    prob = cp.Problem(cp.Maximize(pmf @ (b * x - m)), constraints)
    prob.solve()
    LAST_CVXPY.clear()
    LAST_CVXPY.update(
        status=prob.status,
        solver=prob.solver_stats.solver_name,
        constraints=len(constraints),
        variables=2 * len(idx),
        compile_seconds=prob.compilation_time,
        solver_seconds=prob.solver_stats.solve_time,
    )
    return float(prob.value)


def linprog_maximin(instance) -> float:
    """Optimal z of the maximin LP (docs/model.md, section 5) by ``scipy.optimize.linprog(method="highs")``.

    The matrix is the one :class:`lpmech.maximin.MaximinLP` hands to HiGHS (maximin rows
    z − Σ P(θ)(b − φ_i(θ_i)) x(θ) <= 0, interim monotonicity X_i(t_k) >= X_i(t_{k+1}), every row
    divided by its largest |entry|), in linprog's ``A_ub x <= b_ub`` form.
    """
    import scipy.sparse as sp
    from scipy.optimize import linprog

    from lpmech.highs import row_scaled
    from lpmech.profiles import along, interim_operator, outer_pmf
    from lpmech.virtual import virtual_costs

    problem = instance.engine()
    if problem.probs is None:
        raise ValueError("the maximin LP needs independent types")
    n = problem.n
    phi = [virtual_costs(g, p) for g, p in zip(problem.grids, problem.probs)]
    pmf = outer_pmf(problem.probs)
    n_prof = pmf.size
    gains = np.stack([(pmf * (problem.b - along(phi[i], i, n))).ravel() for i in range(n)])
    top = sp.hstack([sp.csr_matrix(-gains), sp.csr_matrix(np.ones((n, 1)))], format="csr")
    blocks = []
    for i, p in enumerate(problem.probs):
        k = p.size
        if k > 1:
            diff = sp.diags([np.ones(k - 1), -np.ones(k - 1)], [0, 1], shape=(k - 1, k))
            blocks.append(-interim_operator(problem.probs, i, left=diff))  # -(X_k - X_{k+1}) <= 0
    rows = [top]
    if blocks:
        mono = sp.vstack(blocks, format="csr")
        rows.append(sp.hstack([mono, sp.csr_matrix((mono.shape[0], 1))], format="csr"))
    A_ub, _ = row_scaled(sp.vstack(rows, format="csr"))
    c = np.zeros(n_prof + 1)
    c[-1] = -1.0
    bounds = np.column_stack(
        [np.concatenate([np.zeros(n_prof), [-np.inf]]), np.concatenate([np.ones(n_prof), [np.inf]])]
    )
    res = linprog(c, A_ub=A_ub.tocsc(), b_ub=np.zeros(A_ub.shape[0]), bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"linprog: {res.message}")
    return float(-res.fun)


def floor(instance, chunk: int = 4_000_000) -> float:
    """Share of profiles with ω·φ̄(θ) <= b for equal weights ω, by one broadcast pass over the grid.

    Virtual costs and ironing are O(K) per agent; the pass is Σ_i ω_i φ̄_i(θ_i) over all
    K^N profiles (blocks of at most ``chunk`` profiles along the first axis) and one comparison
    with b, counted. This is the least any method must compute. (The share is unweighted: it is
    P(ω·φ̄ <= b) only on equal-probability grids such as the benchmark's.)
    """
    from lpmech.profiles import along
    from lpmech.virtual import iron, virtual_costs

    problem = instance.engine()
    n, shape, b = problem.n, problem.shape, problem.b
    omega = np.full(n, 1.0 / n)
    terms = [
        along(omega[i] * iron(virtual_costs(g, p), p), i, n)
        for i, (g, p) in enumerate(zip(problem.grids, problem.probs))
    ]
    rest = int(np.prod(shape[1:], dtype=np.int64))
    step = max(1, chunk // max(rest, 1))
    count = 0
    for lo in range(0, shape[0], step):
        index = terms[0][lo : lo + step]
        for t in terms[1:]:
            index = index + t  # broadcast: a block of ω·φ̄(θ)
        count += int(np.count_nonzero(index <= b))
    return count / float(np.prod(shape, dtype=np.int64))
