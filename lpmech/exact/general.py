"""The general LP in exact arithmetic, every family (docs/model.md, sections 9-12).

The LP of :mod:`lpmech.general` is rebuilt here with exact data (probabilities, beliefs, grids,
shares, the designer's value from :func:`lpmech.exact.data.exact_data`; γ, outside options,
caps, budget, minimum trade probability and Pareto weight from
:func:`lpmech.exact.families.exact_numbers`), in the instance's units and grid order: columns
x(θ) ∈ [0, 1], the transfer (m(θ) shared in the shares, or t_i(θ) = m_i(θ)/σ_i per agent with
individual transfers), both free, plus, for each agent with interim rows and private values, its
interim expectations under each distinct belief (defined by equality rows). Rows
(:func:`build_exact_lp`): Bayesian IC for every (true t, report s), or dominant-strategy /
ex-post IC at every θ_−i, possible or not; interim, ex-post or ex-ante participation at least the
outside option for the agents with a veto; no subsidy, a transfer cap, a budget, a minimum trade
probability. Interdependent values put the true cost θ_i + Σ_j γ_ij θ_j in every IC and
participation row. Consent of k agents is proved coalition by coalition. The objective is
profit, plus λ times the agents' expected surplus. Individual transfers with independent types and
no other option are also proved above the LP's size limit, by the closed form g(σ) of section 10.

HiGHS solves the float image; its optimal basis is solved exactly for the primal and the duals
(:mod:`lpmech.exact.lp`): exact primal feasibility gives the lower bound c·v, the duals give a
weak-duality upper bound, and equal bounds prove the value. The exact mechanism is then audited
from the definitions by :func:`lpmech.exact.families.audit_mechanism` (every pair of types,
every profile of the others). A basis that does not verify is an unproven certificate, never a
claimed value.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import combinations

import numpy as np

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
    to_fraction,
)
from .families import ExactNumbers, audit_mechanism, exact_numbers, others_cost
from .lp import ExactLP, certify_lp

__all__ = ["exact_general_lp", "build_exact_lp", "certify_general", "Layout"]


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
    """The general LP with shared transfers and no other option, as an :class:`ExactLP`.

    Kept for callers of the first exact general LP; :func:`build_exact_lp` has every family.

    Parameters
    ----------
    data : ExactData
    ic : {"bayesian", "dominant", "ex-post"}
    participation : {"interim", "ex-post", "ex-ante"}
    vetoes : tuple of str
        Agents with a participation row.
    pareto : float or None
        λ: maximize profit + λ·surplus (taken exactly).

    Returns
    -------
    (ExactLP, n_profiles)
    """
    from ..instance import Mechanism

    mech = Mechanism(ic=ic, participation=participation, pareto=pareto)
    nums = ExactNumbers(None, (None,) * data.n, pareto=None if pareto is None else to_fraction(pareto))
    lp, layout = build_exact_lp(data, mech, vetoes, nums)
    return lp, layout.n


@dataclass(frozen=True)
class Layout:
    """Where the exact LP's columns are: x on [0, n), then the transfer blocks, then interim expectations.

    ``transfer_start[i]`` is the first column of agent i's transfer per unit of its share (the
    total transfer m for every agent with shared transfers; t_i = m_i / σ_i with individual ones).
    """

    n: int
    transfer_start: tuple[int, ...]
    individual: bool


def build_exact_lp(data: ExactData, mech, vetoes, nums: ExactNumbers) -> tuple[ExactLP, Layout]:
    """The general LP of :mod:`lpmech.general`, every family, in exact arithmetic (user units, file order).

    Columns: x(θ) ∈ [0, 1]; the transfer, free: m(θ) shared in the shares, or one block t_i(θ) =
    m_i(θ)/σ_i per agent with individual transfers; and, for an agent whose rows are interim
    without interdependence, its interim expectations E_u[x(s, ·)], E_u[t_i(s, ·)] under each
    distinct belief u (equality rows). Per agent, per unit of its share, with true cost
    c_i = θ_i + Σ_j γ_ij θ_j (docs/model.md, section 11):

    * IC: Bayesian for every (true t, report s): E[sign·(t_i(s, r) − c_i(t, r) x(s, r)) | t]
      (interim columns without γ, written out over r with γ); dominant-strategy or ex-post IC at
      every θ_−i = r, possible or not, between neighbouring types both ways (the payoff at a fixed
      r is linear in the true type, so the chain implies all pairs, as in
      :func:`lpmech.general._dominant_ic`);
    * participation of the agents in ``vetoes``, at least r_i(t)/σ_i (the outside option): interim
      (every type), ex-post (every profile, zero-probability ones included) or ex-ante (expected
      over the agent's own types);
    * on the total transfer m = Σ_i σ_i t_i (or m): m(θ) >= 0 (no subsidy) and m(θ) <= X at every
      profile, E[m] <= budget; E[x] >= the minimum trade probability.

    Objective: profit sign·E[d·x − m], plus λ·E[Σ_i σ_i sign·(m − c_i x)] with a Pareto weight.

    Parameters
    ----------
    data : ExactData
    mech : lpmech.Mechanism
        ``ic``, ``participation``, ``transfers`` and which constraints are set; their numbers
        come from ``nums``.
    vetoes : sequence of str
    nums : ExactNumbers

    Returns
    -------
    (ExactLP, Layout)
    """
    shape = data.shape
    n = data.n_profiles
    pmf = data.joint_pmf().ravel()
    sign = data.sign
    flat = np.arange(n, dtype=np.int64).reshape(shape)
    individual = mech.transfers == "individual"
    starts = tuple(n + (i * n if individual else 0) for i in range(data.n))
    n_cols = n + (data.n if individual else 1) * n
    B = _Builder()
    for i, name in enumerate(data.names):
        tcol = starts[i]
        grid = qarray(data.grids[i])
        k = grid.size
        view = np.moveaxis(flat, i, 0).reshape(k, -1)  # [own type, others]
        weight = pmf[view]
        marg = weight.sum(axis=1)
        belief = weight / marg[:, None]
        extra = others_cost(data, nums.gamma, i)
        e = None if extra is None else extra.ravel()[view[0]]  # Σ_j γ_ij θ_j at each θ_−i = r
        keys = [tuple((int(v.p), int(v.q)) for v in row) for row in belief]
        uniq: dict[tuple[tuple[int, int], ...], int] = {}
        which: list[int] = []
        for key in keys:
            which.append(uniq.setdefault(key, len(uniq)))
        beliefs = [belief[which.index(u)] for u in range(len(uniq))]
        veto = name in vetoes
        needs_interim = e is None and (mech.ic == "bayesian" or (veto and mech.participation != "ex-post"))
        aux = n_cols
        if needs_interim:  # EX[u, s] at aux + 2(u K + s), ET next
            n_cols += 2 * len(beliefs) * k
            for u, bel in enumerate(beliefs):
                live = np.flatnonzero(bel != ZERO)
                for s in range(k):
                    ex = {aux + 2 * (u * k + s): -ONE}
                    et = {aux + 2 * (u * k + s) + 1: -ONE}
                    for r in live.tolist():
                        _add(ex, int(view[s, r]), bel[r])
                        _add(et, tcol + int(view[s, r]), bel[r])
                    B.row(ex, ZERO, ZERO)
                    B.row(et, ZERO, ZERO)

        def ex_post_payoff(t, s, r, _grid=grid, _view=view, _e=e, _tcol=tcol):
            p = int(_view[s, r])
            c = _grid[t] if _e is None else _grid[t] + _e[r]
            return {p: -sign * c, _tcol + p: q(sign)}

        def interim_payoff(t, s, _aux=aux, _k=k, _grid=grid, _which=which, _bel=belief, _e=e):
            if _e is None:
                u = _which[t]
                return {_aux + 2 * (u * _k + s): -sign * _grid[t], _aux + 2 * (u * _k + s) + 1: q(sign)}
            out: dict = {}
            for r in np.flatnonzero(_bel[t] != ZERO).tolist():
                for c, v in ex_post_payoff(t, s, r).items():
                    _add(out, c, _bel[t][r] * v)
            return out

        def minus(a: dict, b: dict) -> dict:
            out = dict(a)
            for c, v in b.items():
                _add(out, c, -v)
            return out

        if mech.ic == "bayesian":
            truths = [interim_payoff(t, t) for t in range(k)]
            for t in range(k):
                for s in range(k):
                    if s != t:
                        B.row(minus(truths[t], interim_payoff(t, s)), ZERO, None)
        else:  # dominant / ex-post IC: every θ_−i = r, neighbouring types both ways
            for r in range(view.shape[1]):
                for a in range(k - 1):
                    for t, s in ((a, a + 1), (a + 1, a)):
                        B.row(minus(ex_post_payoff(t, t, r), ex_post_payoff(t, s, r)), ZERO, None)
        if veto:
            share = q(data.shares[i])
            rhs = [ZERO] * k if nums.outside[i] is None else [q(v) / share for v in nums.outside[i]]
            if mech.participation == "interim":
                for t in range(k):
                    B.row(interim_payoff(t, t), rhs[t], None)
            elif mech.participation == "ex-post":
                for t in range(k):  # every profile, zero-probability ones too
                    for r in range(view.shape[1]):
                        B.row(ex_post_payoff(t, t, r), rhs[t], None)
            else:  # ex-ante: Σ_t P(t) · interim payoff(t) >= Σ_t P(t) r(t)/σ
                ante: dict = {}
                for t in range(k):
                    for col, v in interim_payoff(t, t).items():
                        _add(ante, col, marg[t] * v)
                B.row(ante, sum((marg[t] * rhs[t] for t in range(k)), ZERO), None)

    def total(p: int) -> dict:
        if not individual:
            return {starts[0] + p: ONE}
        return {starts[i] + p: q(data.shares[i]) for i in range(data.n)}

    if mech.no_subsidy:
        for p in range(n):
            B.row(total(p), ZERO, None)
    if nums.max_transfer is not None:
        cap = q(nums.max_transfer)
        for p in range(n):
            B.row(total(p), None, cap)
    if nums.budget is not None:
        spend: dict = {}
        for p in np.flatnonzero(pmf != ZERO).tolist():
            for col, v in total(p).items():
                _add(spend, col, pmf[p] * v)
        B.row(spend, None, q(nums.budget))
    if nums.min_trade_probability is not None:
        B.row({p: pmf[p] for p in range(n)}, q(nums.min_trade_probability), None)
    # objective: profit + λ·surplus; profit = sign·(d x − m), surplus = sign·(m − Σ σ_i c_i x)
    d = q(data.designer_value)
    lam = q(nums.pareto) if nums.pareto else ZERO
    mean_cost = np.full(shape, ZERO, dtype=object)
    for i in range(data.n):
        shp = [1] * data.n
        shp[i] = -1
        own = qarray(data.grids[i]).reshape(shp)
        extra = others_cost(data, nums.gamma, i)
        mean_cost = mean_cost + q(data.shares[i]) * (own if extra is None else own + extra)
    mean_cost = mean_cost.ravel()
    c = np.full(n_cols, ZERO, dtype=object)
    c[:n] = sign * pmf * (d - lam * mean_cost)
    if individual:
        for i in range(data.n):
            c[starts[i] : starts[i] + n] = -sign * q(data.shares[i]) * pmf
    else:
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
    return lp, Layout(n, starts, individual)


def _certify_fixed(data: ExactData, nums: ExactNumbers, mech, vetoes, audit: bool) -> Certificate:
    """Prove one LP (a fixed veto set): exact bounds from the float basis, then the exact audit."""
    start = time.perf_counter()
    lp, layout = build_exact_lp(data, mech, vetoes, nums)
    lower, upper, v, _y, reason, pivots = certify_lp(lp, "general LP (exact certificate)")
    checks: dict = {"rows": lp.n_rows, "columns": lp.n_cols, "exact_pivots": pivots}
    alloc = trans = None
    if v is not None and lower is not None and audit:
        n = layout.n
        x = v[:n].reshape(data.shape)
        per_share = [v[s : s + n].reshape(data.shape) for s in layout.transfer_start]
        res = audit_mechanism(data, nums, mech, vetoes, x, per_share)
        lam = to_fraction(nums.pareto) if nums.pareto else Fraction(0)
        checks.update(
            {
                "max_ic_violation": res.max_ic_violation,
                "max_ir_violation": res.max_participation_violation,
                "max_limit_violation": res.max_limit_violation,
                "audit_profit": res.profit,
                "audit_surplus": res.surplus,
            }
        )
        if not res.ok():
            reason = reason or (
                f"the exact audit finds IC violation {res.max_ic_violation}, participation violation "
                f"{res.max_participation_violation}, transfer/trade constraint violation "
                f"{res.max_limit_violation}, x outside [0, 1] by {res.max_bound_violation}"
            )
        elif res.profit + lam * res.surplus != frac(lower):
            reason = reason or (
                f"the audited objective {res.profit + lam * res.surplus} differs from c·v = {frac(lower)}"
            )
        alloc = np.vectorize(frac, otypes=[object])(x)
        if layout.individual:
            total = sum(
                (to_fraction(s) * np.vectorize(frac, otypes=[object])(t) for s, t in zip(data.shares, per_share))
            )
            trans = np.asarray(total, dtype=object)
        else:
            trans = np.vectorize(frac, otypes=[object])(per_share[0])
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


def _families(mech, gamma) -> list[str]:
    """The options of section 11 a certificate covers (named in its checks)."""
    out = []
    if mech.transfers == "individual":
        out.append("individual transfers")
    if mech.participation == "ex-ante":
        out.append("ex-ante participation")
    if mech.outside_option is not None:
        out.append("outside options")
    if mech.consent is not None:
        out.append(f"consent of {mech.consent}")
    out += [g for g in ("no_subsidy", "max_transfer", "budget", "min_trade_probability") if _is_set(mech, g)]
    if mech.ic == "ex-post":
        out.append("ex-post IC")
    if gamma is not None:
        out.append("interdependent values")
    return out


def _is_set(mech, name: str) -> bool:
    value = getattr(mech, name)
    return bool(value) if isinstance(value, bool) else value is not None


def certify_general(instance, *, mechanism: Mapping | None = None, audit: bool = True) -> Certificate:
    """Prove the general LP's optimum exactly from HiGHS's optimal basis (computes; never raises on failure).

    Every family of the general LP is covered (docs/model.md, sections 9-11): Bayesian,
    dominant-strategy and ex-post IC; interim, ex-post and ex-ante participation with outside
    options; a fixed veto set or the consent of any k agents; shared or individual transfers; no
    subsidy, a transfer cap, a budget and a minimum trade probability; interdependent values (the
    true cost in the IC and participation rows). The exact LP (:func:`build_exact_lp`) is built
    from the instance's exact data (:func:`lpmech.exact.data.exact_data`,
    :func:`lpmech.exact.families.exact_numbers`); HiGHS solves its float image and its optimal basis
    is solved exactly: exact primal feasibility gives the lower bound c·v, the exact duals a
    weak-duality upper bound, and equal bounds prove the value. The exact mechanism is then audited
    by brute force from the definitions (:func:`lpmech.exact.families.audit_mechanism`).

    Above the exact LP's size limit, individual transfers with independent types, Bayesian IC and
    interim IR and no other option are proved by the closed form of docs/model.md, section 10
    (:func:`_individual_closed_form`: g(σ) against the exactly audited profit of x_σ;
    ``checks["method"]`` says so), up to :data:`~lpmech.exact.data.EXACT_MAX_PROFILES` profiles.

    With ``consent = k`` every coalition of k agents is proved (one LP each, its veto set fixed):
    the consent value is the largest of these exact values, proven when every coalition's is;
    ``checks["coalitions"]`` lists each coalition's exact value and ``checks["best_coalition"]``
    the one whose LP (and mechanism) the certificate returns.

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
        ``checks["covers"]`` names the section 11 options the certificate covers and
        ``checks["exact_numbers"]`` where each of their numbers came from (``"file"``: the file's
        text exactly; ``"float"``: the float's binary value).

    Raises
    ------
    lpmech.errors.InstanceError
        Above :data:`~lpmech.exact.data.GENERAL_EXACT_MAX_PROFILES` profiles (except the closed
        form above), and for the options
        the general LP refuses (an empty veto set, λ > 1, a veto set leaving an agent out with
        individual transfers, dominant-strategy IC with interdependent values).
    lpmech.errors.SolverError
        HiGHS does not report an optimum.

    Examples
    --------
    >>> import lpmech
    >>> inst = lpmech.Instance("buy", [lpmech.Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    >>> cert = certify_general(inst, mechanism={"participation": "ex-ante", "consent": 1})
    >>> cert.proven, cert.value, cert.checks["best_coalition"]
    (True, Fraction(1, 2), ['a'])
    """
    from ..general import assemble

    start = time.perf_counter()
    if instance.n_profiles > GENERAL_EXACT_MAX_PROFILES:
        closed = _individual_closed_form(instance, mechanism)
        if closed is not None:
            return closed
    check_exact_size(instance.n_profiles, GENERAL_EXACT_MAX_PROFILES, "general LP", instance.source)
    # the float LP's own validation of the options (λ <= 1, a veto, individual transfers, DSIC with γ)
    inst = assemble(instance, mechanism=mechanism).instance
    mech = inst.mechanism
    data = exact_data(inst)
    nums = exact_numbers(inst)
    covers = _families(mech, nums.gamma)
    if mech.consent is None:
        vetoes = tuple(inst.names if mech.veto is None else mech.veto)
        cert = _certify_fixed(data, nums, mech, vetoes, audit)
        cert.checks["veto"] = list(vetoes)
    else:
        cert = _certify_consent(inst, data, nums, mech, audit)
    cert.checks["covers"] = covers
    if nums.origin:
        cert.checks["exact_numbers"] = dict(nums.origin)
    cert.seconds = time.perf_counter() - start
    return cert


def _certify_consent(inst, data: ExactData, nums: ExactNumbers, mech, audit: bool) -> Certificate:
    """Consent of any k agents: every coalition's LP proved; the value is the best one's."""
    k = mech.consent
    runs = []
    for coalition in combinations(inst.names, k):
        fixed = replace(mech, consent=None, veto=None if k == inst.n else tuple(coalition))
        runs.append((coalition, _certify_fixed(data, nums, fixed, tuple(coalition), audit)))
    table = [
        {
            "veto": list(c),
            "value": None if r.value is None else str(r.value),
            "proven": bool(r.proven),
            "reason": r.reason,
        }
        for c, r in runs
    ]
    unproven = [(c, r) for c, r in runs if not r.proven]
    lowers = [r.lower for _, r in runs if r.lower is not None]
    uppers = [r.upper for _, r in runs]
    lower = max(lowers) if lowers else None
    upper = None if any(u is None for u in uppers) else max(uppers)
    if unproven:
        c, r = unproven[0]
        reason = f"coalition {', '.join(c)}: {r.reason}"
        best_c, best = max(runs, key=lambda cr: cr[1].lower if cr[1].lower is not None else Fraction(-(10**400)))
    else:
        top = max(r.value for _, r in runs)
        best_c, best = next((c, r) for c, r in runs if r.value == top)  # the first best, in the agents' order
        reason = ""
    cert = Certificate.from_bounds(
        lower,
        upper,
        seconds=sum(r.seconds for _, r in runs),
        formulation="general",
        reason=reason,
        checks=dict(best.checks),
    )
    cert.checks.update(
        {
            "consent": k,
            "coalitions": table,
            "best_coalition": list(best_c),
            "certifies": (
                f"consent of any {k}: the LP of every coalition of {k} proven exactly; the value is the "
                f"best coalition's ({', '.join(best_c)})"
            ),
        }
    )
    cert.allocation, cert.transfer = best.allocation, best.transfer
    return cert


def _individual_closed_form(instance, mechanism) -> Certificate | None:
    """Individual transfers, independent types, BIC and interim IR, nothing else: a proof by section 10.

    Used above the general LP's exact size limit (None when the options are not exactly these).
    Upper bound g(σ) = E[(b − σ·φ̄)_+] (engine form): by revenue equivalence agent by agent, every
    BIC and IR mechanism with individual transfers earns at most E[x(b − Σ_i σ_i φ_i)], which the
    ironing inequality (X_i monotone) bounds by E[x(b − σ·φ̄)] <= g(σ). Lower bound: the exact
    profit of x_σ = 1[σ·φ̄ < b] (interim monotone, constant on ironing intervals) with the
    individual envelope transfers m_i(θ) = σ_i M_i(θ_i), M_i(t_k) = t_k X_i(t_k) +
    Σ_{j>k} (t_j − t_{j−1}) X_i(t_j), audited exactly for BIC (every pair of types) and interim IR.
    """
    from ..general import _resolve
    from .data import EXACT_MAX_PROFILES
    from .maximin import MaximinExact

    inst = _resolve(instance, mechanism)  # the float LP's validation of the options
    mech = inst.mechanism
    plain = (
        inst.independent
        and mech.transfers == "individual"
        and mech.ic == "bayesian"
        and mech.participation == "interim"
        and mech.outside_option is None
        and mech.consent in (None, inst.n)
        and not mech.has_limits
        and not mech.pareto
        and getattr(inst, "interdependence", None) is None
    )
    if not plain:
        return None
    start = time.perf_counter()
    check_exact_size(inst.n_profiles, EXACT_MAX_PROFILES, "individual-transfer closed form", inst.source)
    data = exact_data(inst)
    mx = MaximinExact(data)
    e = mx.engine
    sigma = [q(s) for s in data.shares]  # the engine form keeps the agents' order
    upper = mx.g(sigma)
    idx = mx.index(sigma)
    x = np.full(e.shape, ZERO, dtype=object)
    x[idx < ZERO] = ONE
    X = mx.interim(x)
    worst_ic = worst_ir = ZERO
    paid = ZERO
    for i, (t, Xi, p) in enumerate(zip(e.grids, X, e.probs)):
        k = t.size
        U = [ZERO] * k
        for j in range(k - 2, -1, -1):
            U[j] = U[j + 1] + (t[j + 1] - t[j]) * Xi[j + 1]
        M = [t[j] * Xi[j] + U[j] for j in range(k)]
        for a in range(k):  # BIC and interim IR of agent i (its own transfer σ_i M_i(report))
            truth = sigma[i] * (M[a] - t[a] * Xi[a])
            worst_ir = max(worst_ir, -truth)
            for r in range(k):
                worst_ic = max(worst_ic, sigma[i] * (M[r] - t[a] * Xi[r]) - truth)
        paid += sigma[i] * sum((p[j] * M[j] for j in range(k)), ZERO)
    lower = (mx.pmf * x).sum() * mx.b - paid
    reason = ""
    if worst_ic != 0 or worst_ir != 0:
        reason = f"the exact audit of x_σ finds IC violation {worst_ic}, IR violation {worst_ir}"
    cert = Certificate.from_bounds(
        frac(lower),
        frac(upper),
        seconds=time.perf_counter() - start,
        formulation="general",
        reason=reason,
        checks={
            "method": "closed form (docs/model.md, section 10): profit of x_σ = g(σ)",
            "max_ic_violation": frac(worst_ic),
            "max_ir_violation": frac(worst_ir),
            "g_sigma": frac(upper),
            "covers": ["individual transfers"],
            "veto": list(inst.names),
        },
    )
    cert.allocation = np.vectorize(frac, otypes=[object])(e.to_user(x))
    return cert
