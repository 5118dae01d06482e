"""The general LP in exact arithmetic (docs/model.md, sections 9 and 12).

The LP of :mod:`lpmech.general` is rebuilt here with exact data (probabilities, beliefs, grids,
shares, the designer's value from :func:`lpmech.exact.data.exact_data`), in the same units and
grid order: columns x(θ) ∈ [0, 1] and m(θ) (free), plus, for each agent with interim rows, its interim expectations
E_u[x(s, ·)] and E_u[m(s, ·)] under each distinct belief u (defined by equality rows). Rows
(docs/model.md, section 2): Bayesian IC for every (true t, report s), or dominant-strategy IC at
every θ_−i, possible or not (neighbouring types both ways, which imply all pairs, as in
:func:`lpmech.general._dominant_ic`); interim IR, or ex post IR at every profile (zero-probability
ones included), for the agents with a veto. The objective is profit, plus λ times the agents' expected surplus.

HiGHS solves the float image; its optimal basis is solved exactly for the primal and the duals
(:mod:`lpmech.exact.lp`): exact primal feasibility gives the lower bound c·v, the duals give a
weak-duality upper bound, and equal bounds prove the value. The exact (x, m) is then audited by
:func:`lpmech.exact.audit.verify_exact` with the same options.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from .audit import verify_exact
from .data import (
    GENERAL_EXACT_MAX_PROFILES,
    ONE,
    ZERO,
    Certificate,
    ExactData,
    check_exact_size,
    exact_data,
    frac,
    q,
    qarray,
)
from .lp import ExactLP, certify_lp

__all__ = ["exact_general_lp", "certify_general"]


class _Builder:
    def __init__(self):
        self.rows, self.cols, self.vals = [], [], []
        self.lo, self.hi = [], []

    def row(self, entries: dict, lo, hi) -> None:
        r = len(self.lo)
        for c, v in entries.items():
            if v != 0:
                self.rows.append(r)
                self.cols.append(c)
                self.vals.append(v)
        self.lo.append(lo)
        self.hi.append(hi)


def _add(entries: dict, col: int, val) -> None:
    entries[col] = entries.get(col, ZERO) + val


def exact_general_lp(
    data: ExactData, ic: str, participation: str, vetoes: tuple[str, ...], pareto: float | None
) -> tuple[ExactLP, int]:
    """The general LP as an :class:`ExactLP` over columns [x, m, interim expectations].

    Parameters
    ----------
    data : ExactData
    ic : {"bayesian", "dominant"}
    participation : {"interim", "ex-post"}
    vetoes : tuple of str
        Agents with a participation row.
    pareto : float or None
        λ: maximize profit + λ·surplus (taken exactly).

    Returns
    -------
    (ExactLP, n_profiles)
    """
    shape = data.shape
    n = data.n_profiles
    pmf = data.joint_pmf().ravel()
    sign = data.sign
    flat = np.arange(n, dtype=np.int64).reshape(shape)
    B = _Builder()
    n_cols = 2 * n
    per_agent = []
    for i, name in enumerate(data.names):
        grid = qarray(data.grids[i])
        k = grid.size
        view = np.moveaxis(flat, i, 0).reshape(k, -1)  # [own type, others]
        weight = pmf[view]
        marg = weight.sum(axis=1)
        belief = weight / marg[:, None]
        keys = [tuple((int(v.p), int(v.q)) for v in row) for row in belief]
        uniq: dict[tuple[tuple[int, int], ...], int] = {}
        which: list[int] = []
        for key in keys:
            which.append(uniq.setdefault(key, len(uniq)))
        beliefs = [belief[which.index(u)] for u in range(len(uniq))]
        needs_interim = ic == "bayesian" or (name in vetoes and participation == "interim")
        aux = None
        if needs_interim:
            aux = n_cols  # EX[u, s] at aux + 2(u K + s), EM next
            n_cols += 2 * len(beliefs) * k
            for u, bel in enumerate(beliefs):
                live = np.flatnonzero(bel != ZERO)
                for s in range(k):
                    ex = {aux + 2 * (u * k + s): -ONE}
                    em = {aux + 2 * (u * k + s) + 1: -ONE}
                    for r in live.tolist():
                        _add(ex, int(view[s, r]), bel[r])
                        _add(em, n + int(view[s, r]), bel[r])
                    B.row(ex, ZERO, ZERO)
                    B.row(em, ZERO, ZERO)
        per_agent.append((grid, view, weight, which, aux, k))

        def interim_payoff(t, s, _aux=aux, _k=k, _grid=grid, _which=which):
            u = _which[t]
            return {_aux + 2 * (u * _k + s): -sign * _grid[t], _aux + 2 * (u * _k + s) + 1: q(sign)}

        def ex_post_payoff(t, s, r, _grid=grid, _view=view):
            p = int(_view[s, r])
            return {p: -sign * _grid[t], n + p: q(sign)}

        if ic == "bayesian":
            for t in range(k):
                truth = interim_payoff(t, t)
                for s in range(k):
                    if s != t:
                        e = dict(truth)
                        for c, v in interim_payoff(t, s).items():
                            _add(e, c, -v)
                        B.row(e, ZERO, None)
        else:
            # every θ_−i = r, possible or not; neighbouring types both ways imply all pairs
            # (the payoff is linear in the true type at a fixed r: the single-crossing chain)
            for r in range(view.shape[1]):
                for a in range(k - 1):
                    for t, s in ((a, a + 1), (a + 1, a)):
                        e = ex_post_payoff(t, t, r)
                        for c, v in ex_post_payoff(t, s, r).items():
                            _add(e, c, -v)
                        B.row(e, ZERO, None)
        if name in vetoes:
            if participation == "interim":
                for t in range(k):
                    B.row(interim_payoff(t, t), ZERO, None)
            else:
                for t in range(k):  # every profile, zero-probability ones too
                    for r in range(view.shape[1]):
                        B.row(ex_post_payoff(t, t, r), ZERO, None)
    # objective: profit + λ·surplus; profit = sign·(d x − m), surplus = sign·(m − Σσθ x)
    d = q(data.designer_value)
    lam = q(pareto) if pareto else ZERO
    mean_type = np.full(shape, ZERO, dtype=object)
    for i in range(data.n):
        shp = [1] * data.n
        shp[i] = -1
        mean_type = mean_type + (q(data.shares[i]) * qarray(data.grids[i])).reshape(shp)
    mean_type = mean_type.ravel()
    c = np.full(n_cols, ZERO, dtype=object)
    c[:n] = sign * pmf * (d - lam * mean_type)
    c[n : 2 * n] = -sign * pmf * (ONE - lam)
    col_lo = [ZERO] * n + [None] * (n_cols - n)
    col_hi = [ONE] * n + [None] * (n_cols - n)
    lp = ExactLP(
        np.array(B.rows, dtype=np.int64),
        np.array(B.cols, dtype=np.int64),
        np.array(B.vals, dtype=object),
        len(B.lo),
        n_cols,
        B.lo,
        B.hi,
        col_lo,
        col_hi,
        c,
    )
    return lp, n


def certify_general(instance, *, mechanism: Mapping | None = None, audit: bool = True) -> Certificate:
    """Prove the general LP's optimum exactly from HiGHS's optimal basis (computes; never raises on failure).

    Parameters
    ----------
    instance : lpmech.Instance
        Independent or correlated types, either side, any mechanism options.
    mechanism : Mechanism or dict, optional
        Overrides ``instance.mechanism`` (as in :func:`lpmech.general.solve_general`).
    audit : bool
        Audit the exact (x, m) by brute force with the same options (default True).

    Returns
    -------
    Certificate
        ``formulation="general"``; proven iff the basis is exactly primal and dual feasible
        with equal objectives (and the audit finds no violation and the same value).

    Raises
    ------
    lpmech.errors.InstanceError
        Above :data:`~lpmech.exact.data.GENERAL_EXACT_MAX_PROFILES` profiles, an empty veto set,
        or λ > 1; individual transfers (``transfers = "individual"``), ex-ante participation,
        outside options or ``consent``, which the exact LP does not have.
    lpmech.errors.SolverError
        HiGHS does not report an optimum.
    """
    from ..general import assemble

    start = time.perf_counter()
    check_exact_size(instance.n_profiles, GENERAL_EXACT_MAX_PROFILES, "general LP", instance.source)
    resolved = assemble(instance, mechanism=mechanism)  # validates the options (λ <= 1, a veto)
    inst, vetoes = resolved.instance, resolved.vetoes
    mech = inst.mechanism
    from ..errors import InstanceError

    if mech.transfers != "shares":
        raise InstanceError(
            f'is "{mech.transfers}": the exact certificate covers one shared transfer only '
            "(its LP has no per-agent transfer columns); use --certify float",
            field="mechanism.transfers",
            source=inst.source,
        )
    for name, what in (
        ("participation", mech.participation == "ex-ante"),
        ("outside_option", mech.outside_option),
        ("consent", mech.consent is not None),
        ("no_subsidy", mech.no_subsidy),
        ("max_transfer", mech.max_transfer is not None),
        ("budget", mech.budget is not None),
        ("min_trade_probability", mech.min_trade_probability is not None),
        ("ic", mech.ic == "ex-post"),
        ("interdependence", getattr(inst, "interdependence", None) is not None),
    ):
        if what:
            raise InstanceError(
                "is not covered by the exact certificate (its LP has interim and ex-post "
                "participation with zero outside options, a fixed veto set, no transfer or "
                "trade constraints); use --certify float",
                field=name if name == "interdependence" else f"mechanism.{name}",
                source=inst.source,
            )
    data = exact_data(inst)
    lp, n = exact_general_lp(data, mech.ic, mech.participation, vetoes, mech.pareto)
    lower, upper, v, _y, reason, pivots = certify_lp(lp, "general LP (exact certificate)")
    checks: dict = {"rows": lp.n_rows, "columns": lp.n_cols, "exact_pivots": pivots}
    alloc = trans = None
    if v is not None and lower is not None and audit:
        x = v[:n].reshape(data.shape)
        m = v[n : 2 * n].reshape(data.shape)
        res = verify_exact(data, x, m, ic=mech.ic, participation=mech.participation, veto=vetoes)
        pmf = data.joint_pmf()
        surplus = frac(ZERO)
        for i, a in enumerate(res.per_agent):
            others = tuple(j for j in range(data.n) if j != i)
            marg = pmf.sum(axis=others) if others else pmf
            surplus += sum((frac(p) * u for p, u in zip(np.ravel(marg), a["interim_utility"])), frac(ZERO))
        lam = frac(q(mech.pareto)) if mech.pareto else 0
        checks.update(
            {
                "max_ic_violation": res.max_ic_violation,
                "max_ir_violation": res.max_ir_violation,
                "audit_profit": res.profit,
                "audit_surplus": surplus,
            }
        )
        if res.max_ic_violation != 0 or res.max_ir_violation != 0 or res.max_bound_violation != 0:
            reason = reason or (
                f"the exact audit finds IC violation {res.max_ic_violation}, IR violation {res.max_ir_violation}"
            )
        elif res.profit + lam * surplus != frac(lower):
            reason = reason or f"the audited objective {res.profit + lam * surplus} differs from c·v = {frac(lower)}"
        alloc = np.vectorize(frac, otypes=[object])(x)
        trans = np.vectorize(frac, otypes=[object])(m)
    cert = Certificate.from_bounds(
        None if lower is None else frac(lower),
        None if upper is None else frac(upper),
        seconds=time.perf_counter() - start,
        formulation="general",
        reason=reason,
        checks=checks,
    )
    cert.allocation, cert.transfer = alloc, trans
    return cert
