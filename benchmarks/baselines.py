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

* :func:`mechaudit_fixed_shares`: the peer library mechaudit (``pip install mechaudit``, the
  ``bench`` extra), general finite mechanism design on HiGHS, given the same fixed-share problem
  through its public API: outcomes "no trade" and "trade" (x(θ) is the probability of "trade"),
  private values v_i(trade) = −σ_i θ_i, one payment p_i(θ) per agent tied to a single total
  transfer by the fixed-share rows σ_1 p_i(θ) = σ_i p_1(θ) (so p_i = −σ_i m and agent i's
  utility is σ_i(m − θ_i x)), BIC and interim IR for every agent, objective E[b·x − m] =
  E[b·x] + E[Σ_i p_i]. Returns mechaudit's optimal objective value (its solution has passed
  mechaudit's own audit of every BIC and IR row).

All four start from the :class:`~lpmech.Instance` (as the lpmech methods in
:mod:`benchmarks.scaling` do), so their times are comparable. Buy side only (the benchmark
instances are buy side); :func:`linprog_maximin` and :func:`floor` go through
:meth:`lpmech.Instance.engine` and so also accept sell-side instances.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["handwritten_cvxpy", "linprog_maximin", "floor", "mechaudit_fixed_shares", "LAST_CVXPY", "LAST_MECHAUDIT"]

#: Details of the last :func:`handwritten_cvxpy` solve (status, solver, problem size), for reports.
LAST_CVXPY: dict = {}
#: Details of the last :func:`mechaudit_fixed_shares` solve (LP size, audit), for reports.
LAST_MECHAUDIT: dict = {}


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
        rtol=_solver_rtol(prob.solver_stats.solver_name, prob.status),
        constraints=len(constraints),
        variables=2 * len(idx),
        compile_seconds=prob.compilation_time,
        solver_seconds=prob.solver_stats.solve_time,
    )
    return float(prob.value)


def _solver_rtol(solver: str, status: str) -> float | None:
    """The relative accuracy cvxpy's solver promises for the status it returned (None: not known here).

    Clarabel (cvxpy's default for LPs) stops at "optimal" within ``tol_gap_rel`` / ``tol_feas``
    and returns "optimal_inaccurate" within its reduced tolerances (``reduced_tol_gap_rel``,
    ``reduced_tol_feas``); both are read from ``clarabel.DefaultSettings``.
    """
    if solver != "CLARABEL":
        return None
    import clarabel

    settings = clarabel.DefaultSettings()
    if status == "optimal":
        return max(settings.tol_gap_rel, settings.tol_feas)
    if status == "optimal_inaccurate":
        return max(settings.reduced_tol_gap_rel, settings.reduced_tol_feas)
    return None


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


def mechaudit_fixed_shares(instance, fixed_shares: bool = True) -> float:
    """Optimal profit of the fixed-share problem, modelled and solved by the peer library mechaudit.

    Parameters
    ----------
    instance : lpmech.Instance
        Buy side, independent types (N agents, per-share cost grids ``instance.grids``, pmfs
        ``instance.probs``, shares ``instance.shares``, buyer's value ``instance.buyer_value``).
    fixed_shares : bool
        True (the problem lpmech solves): one total transfer m(θ), split in the shares, by
        the equality rows σ_1 p_i(θ) − σ_i p_1(θ) = 0 for every profile θ and agent i > 1.
        False: each agent its own payment p_i(θ) (individual transfers, theory section 10;
        its value is g(σ) >= the fixed-share value), for tests that the rows matter.

    Returns
    -------
    float
        mechaudit's optimal E[b·x − m] (money units of the instance).

    Raises
    ------
    ValueError
        Not a buy-side instance with independent types.
    ImportError
        mechaudit is not installed.
    mechaudit.MechAuditError
        mechaudit's solve or its audit of the solution failed.

    Notes
    -----
    mechaudit's sign convention: a positive payment goes from the agent to the designer (the
    buyer), so the total transfer to the group is m = −Σ_i p_i and the designer's objective
    E[b·x − m] is its ``ExpectedRevenue`` (E[Σ_i p_i]) plus a custom linear term E[b·x] on the
    "trade" outcome. Types are independent: the prior is ``JointPrior.from_independent``.
    """
    import mechaudit as ma
    from mechaudit.requirements import AllocationCoordinate, PaymentCoordinate

    if instance.side != "buy" or not instance.independent:
        raise ValueError("mechaudit_fixed_shares covers the buy side with independent types")
    names = list(instance.names)
    grids = [tuple(float(t) for t in g) for g in instance.grids]
    share = dict(zip(names, (float(s) for s in instance.shares)))
    b = float(instance.buyer_value)
    no_trade, trade = "no trade", "trade"

    prior = ma.JointPrior.from_independent(
        {a: dict(zip(g, np.asarray(p, dtype=float).tolist())) for a, g, p in zip(names, grids, instance.probs)}
    )
    env = ma.FiniteEnvironment(
        agents=dict(zip(names, grids)),
        outcomes=(no_trade, trade),
        prior=prior,
        # agent i's value of the outcome before transfers: −σ_i θ_i if the good is traded
        values=ma.PrivateValues(lambda agent, t, outcome: -share[agent] * t if outcome == trade else 0.0),
    )
    reports = env.report_profiles
    masses = [prior[r] for r in env.profiles]
    objective = ma.ExpectedRevenue() + ma.CustomLinearObjective(
        "buyer's value of trade", {AllocationCoordinate(r, trade): b * w for r, w in zip(reports, masses)}
    )
    requirements = [ma.BIC(), ma.InterimIR()]
    if fixed_shares and len(names) > 1:
        first = names[0]
        requirements.append(
            ma.CustomLinearRequirement(
                "fixed shares",
                [
                    ma.CustomLinearConstraint(
                        f"fixed share {a} at profile {j}",
                        {PaymentCoordinate(r, a): share[first], PaymentCoordinate(r, first): -share[a]},
                        sense="==",
                    )
                    for j, r in enumerate(reports)
                    for a in names[1:]
                ],
            )
        )
    solution = env.design(objective=objective, requirements=requirements).solve()
    model = solution.compiled.model
    LAST_MECHAUDIT.clear()
    LAST_MECHAUDIT.update(
        rows=int(model.n_rows),
        columns=int(model.n_columns),
        nonzeros=int(model.nnz),
        audit_passed=bool(solution.audit.passed),
    )
    return float(solution.objective_value)
