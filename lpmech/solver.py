"""Solving an instance: instance → virtual costs → core solve → weights → mechanism → checks.

:func:`solve` is the library's main entry point; it returns a :class:`SolveResult` holding
the optimal mechanism, the LP's weights beside the canonical ones and their ranges, the
transfers, the best posted price, and the cross-checks of :mod:`lpmech.checks` (which raise
:class:`~lpmech.checks.CheckError` when they fail).

References: Haghpanah, Kuvalekar and Lipnowski, "Selling to a Group" (ACM EC 2021) and
"Buying from a Group" (2024); Myerson, "Optimal Auction Design" (1981) for virtual costs and
ironing.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from .checks import continuous_checks, maximin_checks
from .errors import CertificateError, SolverError
from .highs import highs_thread
from .instance import (
    DEFAULT_MAX_PROFILES,
    EngineProblem,
    Instance,
    InstanceError,
    unit_scale,  # looked up in this module by solve, so solver.unit_scale can be patched
)
from .maximin import MaximinLP
from .posted import best_posted_price
from .profiles import weighted_sum
from .result import Result, SolveResult, from_continuous, from_general, interim_row  # noqa: F401 (SolveResult: old name)
from .structured import solve_structured
from .structured.passes import CompactSource, DenseSource, IndexRule
from .tolerances import CHECK_RTOL, TIE_RTOL, gap_limit, min_magnitude, on_tie
from .transfers import transfers
from .virtual import iron, ironing_intervals, virtual_costs
from .weights import canonical_weights, face_ranges, optimal_face

__all__ = [
    "solve",
    "METHODS",
    "CERTIFY",
    "AUTO_LP_LIMIT",
    "LP_MAX_PROFILES",
    "AUTO_LP_MAX_SPREAD",
    "unit_scale",
    "normalize_mechanism",
    "choose_method",
]

#: Solvers: the maximin LP over the K^N profiles; the structured solver that minimizes g(ω) by
#: cutting planes and certifies x_ω (lpmech.structured); the general LP (lpmech.general: correlated
#: types, mechanism options); the continuum (lpmech.continuous: agents given by laws); "auto" picks
#: the formulation the instance needs, then the structured solver (the LP when that cannot certify
#: a small, well-conditioned grid).
METHODS = ("auto", "lp", "structured", "general", "continuous")
#: ``certify="float"``: the float certificate (never ``proven``); ``"exact"``: proved in rational
#: arithmetic (:func:`lpmech.exact.prove`).
CERTIFY = ("float", "exact")
#: ``method="auto"`` uses the structured solver; up to this many profiles (on a well-conditioned
#: grid) it falls back to the LP when the structured solver cannot certify its answer
#: (:class:`~lpmech.errors.CertificateError`). The structured solver with every check is faster on
#: small grids too (measured on grids/*.toml and uniform N = 2, K = 16-64 and N = 3, K = 4-10,
#: same answers: 8-13 ms against 17-38 ms for the LP, committee_software 20 ms against 15 ms).
AUTO_LP_LIMIT = 50_000
#: ``method="auto"`` uses the structured solver when some |b - φ_i(t)| exceeds this many times the
#: instance's unit (:func:`unit_scale`), or an agent's largest type probability this many times
#: its smallest: the LP's rows then mix coefficients so far apart that HiGHS's absolute
#: tolerances cannot hold the small ones (one type far out, or a grid point of tiny probability,
#: whose column cannot be priced and whose neighbour's virtual cost is huge). The structured
#: solver completes x_ω exactly and certifies it (or refuses).
AUTO_LP_MAX_SPREAD = 1e6
#: The LP's columns are the profiles; beyond this many it is refused (use the structured solver).
LP_MAX_PROFILES = 2_000_000


@dataclass
class _Core:
    """What a core solver hands to the shared pipeline (engine order)."""

    dense_x: np.ndarray | None  # an optimal allocation over the whole grid (LP path)
    value: float  # its objective value as the solver reports it
    omega: np.ndarray  # an optimal ω (one vertex of the optimal face)
    x_omega: np.ndarray | None  # x_ω of that ω, completed on its tie set (None: x itself)
    status: str
    seconds: float
    iterations: int
    size: dict
    tie_rtol: float  # relative tie tolerance the solver used (tolerances.on_tie)
    tie_uncertainty: float = 0.0  # and its allowance for ω's own error (tolerances.tie_band)
    #: the structured solver's allocation as an index rule with its ties (no K^N array)
    rule: IndexRule | None = None

    @property
    def x(self) -> np.ndarray:
        """An optimal allocation over the whole grid (the index rule's, computed on first access)."""
        return self.dense_x if self.dense_x is not None else self.rule.dense()

    @x.setter
    def x(self, value: np.ndarray) -> None:
        self.dense_x, self.rule = value, None


def _normalized(problem: EngineProblem, s: float) -> EngineProblem:
    return EngineProblem(
        tuple(g / s for g in problem.grids), problem.probs, problem.joint, float(problem.b) / s, problem.flip
    )


def _lp_core(problem, phi, phi_bar) -> _Core:
    lp = MaximinLP(problem, phi)
    sol = lp.solve()
    # The closed form x_ω for the LP's ω, completed on its tie set by the LP with x pinned elsewhere.
    w = np.clip(sol.omega, 0.0, None)
    index = weighted_sum(w, phi_bar)
    tie = on_tie(index, problem.b, weighted_sum(w, [np.abs(f) for f in phi_bar]))
    x_omega = (index <= problem.b).astype(float)
    if tie.any():
        x_omega = lp.solve_completion(np.where(tie, np.nan, x_omega), what="maximin LP completing x_ω on its tie set").x
    return _Core(
        dense_x=sol.x,
        value=sol.value,
        omega=sol.omega,
        x_omega=x_omega,
        status=sol.status,
        seconds=sol.seconds,
        iterations=sol.iterations,
        size={
            "rows": lp.n_rows,
            "columns": lp.n_cols,
            "nonzeros": lp.nnz,
            "dropped_entries": lp.dropped,
            "strategy": sol.strategy,
            "sifting_rounds": sol.rounds,
            "working_columns": sol.working_columns,
            "dual_infeasibility": sol.dual_infeasibility,
        },
        tie_rtol=TIE_RTOL,
    )


def _structured_core(problem, phi, phi_bar) -> _Core:
    # the solver widens the relative tie tolerance if its certificate needs (solution.tie_tolerance)
    sol = solve_structured(problem, phi, phi_bar, tie_tol=TIE_RTOL)
    sol.rule.interim_x = [m / p for m, p in zip(sol.mass, problem.probs)]  # the certificate's pass
    return _Core(
        dense_x=None,
        rule=sol.rule,
        value=sol.value,
        omega=sol.omega,
        x_omega=None,
        status=sol.status,
        seconds=sol.seconds,
        iterations=sol.iterations,
        size={
            "cutting_planes": sol.iterations,
            "tie_profiles": int(sol.tie_profiles),
            "tie_columns": int(sol.tie_columns),
            "certificate_gap": sol.certificate_gap,
            "tie_tolerance": sol.tie_tolerance,
            "weight_uncertainty": sol.weight_uncertainty,
        },
        tie_rtol=float(sol.tie_tolerance),
        tie_uncertainty=float(sol.weight_uncertainty),
    )


def _conditioning(problem: EngineProblem, phi) -> tuple[float, str]:
    """How far apart the LP's coefficients are, and what makes them so (for ``method="auto"``).

    Two ratios, each unitless: max_i max_k |b - φ_i(t_k)| over the instance's unit (the problem is
    normalized, so this is max |b - φ|), and each agent's max_k p_i(k) / min_k p_i(k) (a profile
    of probability 1e-12 next to ones of 0.1: HiGHS cannot price its column, whose every entry
    is below its tolerances).
    """
    spread = max(float(np.max(np.abs(problem.b - f))) for f in phi)
    mass = max(float(np.max(p) / np.min(p)) for p in problem.probs)
    if mass > spread:
        return mass, f"an agent's type probabilities span a ratio of {mass:.3g}"
    return spread, f"max |b - φ_i| is {spread:.3g} times the instance's unit"


def _choose(method: str, instance: Instance, conditioning: tuple[float, str]) -> tuple[str, str]:
    """The core solver and why (``why`` is empty unless ``method="auto"``)."""
    if method == "auto":
        if instance.n_profiles > AUTO_LP_LIMIT:
            return "structured", f"auto: {instance.n_profiles:,} profiles > {AUTO_LP_LIMIT:,}"
        ratio, what = conditioning
        if ratio > AUTO_LP_MAX_SPREAD:
            return "structured", f"auto: ill-conditioned for the LP ({what}, above {AUTO_LP_MAX_SPREAD:g})"
        return "structured", (
            f"auto: {instance.n_profiles:,} profiles, well conditioned ({what}): the structured solver, "
            "faster on small grids (the LP if it cannot certify)"
        )
    if method == "lp" and instance.n_profiles > LP_MAX_PROFILES:
        raise InstanceError(
            f"{instance.n_profiles:,} profiles are too many for the LP's columns (limit "
            f"{LP_MAX_PROFILES:,}); use --method structured or auto",
            field="agents",
            source=instance.source,
        )
    return method, ""


def normalize_mechanism(instance: Instance) -> Instance:
    """The instance with mechanism options equal to the default written as the default.

    A veto listing every agent is the default veto (None); a Pareto weight of 0 maximizes profit.
    So such options never change the formulation (nor lose ω and the posted price).

    Parameters
    ----------
    instance : Instance

    Returns
    -------
    Instance
        ``instance`` itself when nothing changes.
    """
    from dataclasses import replace

    mech = instance.mechanism
    veto = mech.veto
    if veto is not None and set(veto) == set(instance.names) and len(veto) == instance.n:
        veto = None
    pareto = None if mech.pareto == 0 else mech.pareto
    if veto == mech.veto and pareto == mech.pareto:
        return instance
    return replace(instance, mechanism=replace(mech, veto=veto, pareto=pareto), agents=instance.agents)


def _general_reason(instance: Instance) -> str:
    """Why the instance needs the general LP ("" when the maximin formulation covers it)."""
    why = []
    if not instance.independent:
        why.append("correlated types (a joint pmf)")
    mech = instance.mechanism
    if mech.ic != "bayesian":
        why.append(f"{mech.ic} IC")
    if mech.participation != "interim":
        why.append(f"{mech.participation} participation")
    if mech.veto is not None:
        why.append(f"a partial veto ({', '.join(mech.veto) or 'nobody'})")
    if mech.pareto:
        why.append(f"a Pareto weight {mech.pareto:g}")
    if mech.transfers != "shares":
        why.append(f"{mech.transfers} transfers")
    if mech.outside_option is not None:
        why.append("outside options")
    if mech.consent is not None:
        why.append(f"consent of {mech.consent} agent(s)")
    if mech.has_limits:
        why.append("transfer or trade constraints")
    if getattr(instance, "interdependence", None) is not None:
        why.append("interdependent values")
    return ", ".join(why)


def choose_method(instance: Instance, method: str = "auto") -> tuple[str, str]:
    """The formulation a method asks for, checked against what the instance needs.

    Parameters
    ----------
    instance : Instance
        With its mechanism normalized (:func:`normalize_mechanism`).
    method : {"auto", "lp", "structured", "general", "continuous"}

    Returns
    -------
    (str, str)
        ``"maximin"`` (then the LP or structured solver is picked by :func:`_choose`),
        ``"general"`` or ``"continuous"``, and why (for ``"auto"``).

    Raises
    ------
    InstanceError
        An unknown method, or one that cannot serve the instance (the message says why).
    """
    if method not in METHODS:
        raise InstanceError(
            f"unknown method {method!r} (available: {', '.join(METHODS)})", field="method", source=instance.source
        )
    continuous = instance.is_continuous
    general = "" if continuous else _general_reason(instance)

    def refuse(why: str) -> InstanceError:
        return InstanceError(
            f"method {method!r} cannot solve this instance: {why}", field="method", source=instance.source
        )

    if method == "auto":
        if continuous:
            return "continuous", "auto: continuous types (an agent has a law and no grid)"
        if general:
            return "general", f"auto: the maximin LP does not cover {general}"
        return "maximin", ""
    if method == "continuous":
        if not instance.independent:
            raise refuse("the continuum solver needs independent types")
        if not instance.mechanism.is_default:
            raise refuse(f"the continuum solver covers the default mechanism only, not {_general_reason(instance)}")
        return "continuous", ""
    if continuous:
        raise refuse("an agent has continuous types (no grid); use method 'continuous' or give it points")
    if method == "general":
        return "general", ""
    if general:
        raise refuse(
            f"the maximin formulation covers independent types and the default mechanism, not {general}; "
            "use method 'general' or 'auto'"
        )
    return "maximin", ""


def solve(
    instance: Instance, *, method: str = "auto", max_profiles: int | str | None = "default", certify: str = "float"
) -> Result:
    """Solve for the designer's optimal mechanism, check it, and certify it: the one entry point.

    Parameters
    ----------
    instance : Instance
        Mechanism options equal to the default (a veto listing every agent, a Pareto weight 0)
        are taken as the default (:func:`normalize_mechanism`).
    method : {"auto", "lp", "structured", "general", "continuous"}
        ``"lp"``: the maximin LP of docs/model.md, section 5, over all K^N profiles;
        ``"structured"``: minimize g(ω) by cutting planes and certify x_ω
        (:mod:`lpmech.structured`); ``"general"``: the general LP (:mod:`lpmech.general`), which
        any grid instance admits; ``"continuous"``: the continuum (:mod:`lpmech.continuous`),
        for agents given by laws (grid points ignored). ``"auto"`` (default): the continuum
        when an agent has no grid, the general LP for correlated types or mechanism options
        other than the default, else the structured solver (faster with every check, small
        grids included), falling back to the LP when it cannot certify a grid of at most
        :data:`AUTO_LP_LIMIT` profiles that is well conditioned (:data:`AUTO_LP_MAX_SPREAD`);
        the reason is in ``info["method_reason"]``.
    max_profiles : int, None or "default"
        Refuse grids with more profiles than this (:class:`InstanceError`); ``"default"``:
        :data:`lpmech.instance.DEFAULT_MAX_PROFILES` for the maximin formulation,
        :data:`lpmech.general.GENERAL_LP_MAX_PROFILES` for the general LP; None: no cap.
    certify : {"float", "exact"}
        ``"exact"``: prove the optimum in rational arithmetic (:func:`lpmech.exact.prove`);
        ``"float"`` (default): attach the float certificate (``proven`` False).

    Returns
    -------
    Result
        Values and transfers in the instance's units; the maximin engine works in units of
        :func:`unit_scale` (a power of two), so rescaling every number of an instance rescales
        the value and transfers and leaves ω unchanged.

    Raises
    ------
    InstanceError
        ``instance`` is not an :class:`Instance` (a path: read it with :func:`lpmech.load`),
        the instance is too large (for the formulation, or for the exact path: the message
        names the limit), or the method cannot serve it (the message says why).
    lpmech.errors.SolverError
        HiGHS did not report an optimal solution (its status is in the message).
    lpmech.errors.CheckError
        A cross-check failed (``checks["report"]`` holds each gap and its limit), or the exact
        certificate did not close (the exact gap is in the message). In the continuum an
        estimated error above :data:`lpmech.tolerances.CONTINUUM_RTOL` is a failed check
        (:func:`lpmech.checks.continuous_checks`); call
        :func:`lpmech.continuous.solve_continuous` to get such an inaccurate answer anyway.

    Examples
    --------
    >>> import lpmech
    >>> inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution(n, "uniform", {}, 8) for n in "ab"],
    ...                        buyer_value=0.5)
    >>> res = lpmech.solve(inst)
    >>> round(res.value, 6), res.omega_canonical.round(6).tolist()
    (0.029297, [0.5, 0.5])
    >>> res.omega_range.round(4).tolist()
    [[0.4375, 0.5625], [0.4375, 0.5625]]
    >>> lpmech.solve(inst, certify="exact").certificate.value
    Fraction(15, 512)
    """
    if not isinstance(instance, Instance):
        what = (
            f"got the {type(instance).__name__} {instance!r}"
            if isinstance(instance, (str, bytes)) or hasattr(instance, "__fspath__")
            else f"got {type(instance).__name__}"
        )
        raise InstanceError(
            f"instance must be an lpmech.Instance; read files with lpmech.load ({what})", field="instance"
        )
    if certify not in CERTIFY:
        raise InstanceError(
            f"certify must be one of {', '.join(CERTIFY)}, got {certify!r}",
            field="certify",
            source=getattr(instance, "source", None),
        )
    start = time.perf_counter()
    instance = normalize_mechanism(instance)
    formulation, why = choose_method(instance, method)
    if formulation == "continuous":
        if certify == "exact":
            raise InstanceError(
                "an exact certificate needs a grid (the continuum is solved by quadrature)",
                field="certify",
                source=instance.source,
            )
        from .continuous import solve_continuous

        cont = solve_continuous(instance)
        result = from_continuous(cont, instance, checks=continuous_checks(cont))  # CheckError when inaccurate
    elif formulation == "general":
        from .general import GENERAL_LP_MAX_PROFILES, solve_general

        instance.check_size(_profile_cap(max_profiles, GENERAL_LP_MAX_PROFILES, instance))
        result = from_general(solve_general(instance), instance, total_seconds=0.0)
        result.total_seconds = time.perf_counter() - start
    else:
        instance.check_size(_profile_cap(max_profiles, DEFAULT_MAX_PROFILES, instance))
        result = _solve_maximin(instance, method)
    if why:
        result.info["method_reason"] = why
    result.certificate = _certificate(instance, result, certify)
    return result


def _profile_cap(max_profiles: int | str | None, default: int, instance: Instance) -> int | None:
    """``max_profiles`` of :func:`solve` as a number (or None): ``"default"`` is the formulation's cap."""
    if isinstance(max_profiles, str):
        if max_profiles != "default":
            raise InstanceError(
                f'must be a whole number, None or "default", got {max_profiles!r}',
                field="max_profiles",
                source=instance.source,
            )
        return default
    return max_profiles


def _certificate(instance: Instance, result: Result, certify: str):
    """The exact certificate (proven, or CheckError) or the float one (never ``proven``)."""
    from fractions import Fraction

    from .exact import Certificate, certify_general, check, float_certificate, prove

    if certify == "exact":
        if result.formulation == "general":  # prove what was solved (also when the maximin LP could)
            return check(certify_general(instance))
        return prove(instance, result)
    if result.formulation == "maximin":
        cert = float_certificate(result)
        agree = "agree" if cert.proven else "do not agree"
        reason = f"float arithmetic: V(x) and g(ω) {agree} within the float tolerance; not an exact proof"
        return replace(cert, proven=False, reason=reason)
    value = Fraction(result.value) if math.isfinite(result.value) else None
    return Certificate(
        method="float",
        proven=False,
        value=value,
        lower=None,
        upper=None,
        gap=None,
        seconds=0.0,
        formulation=result.formulation,
        reason=f"float arithmetic: the {result.formulation} solver's value, audited; not an exact proof",
    )


#: Above this many profiles the result holds the mechanism in compact form
#: (:class:`lpmech.compact.CompactMechanism`): ``allocation`` and ``transfer`` are computed on
#: demand, and the checks audit the compact form through its interim sums (below, they audit
#: the full arrays with :func:`lpmech.verify`).
COMPACT_MIN_PROFILES = 250_000


def _solve_maximin(instance: Instance, method: str) -> Result:
    """The maximin formulation (methods lp and structured): independent types, the default mechanism.

    The structured solver's allocation stays an index rule with its ties
    (:class:`lpmech.structured.passes.IndexRule`): transfers, the optimal face and the checks
    read it through interim vectors and chunked passes, and the result holds it as a
    :class:`lpmech.compact.CompactMechanism` above :data:`COMPACT_MIN_PROFILES` profiles.
    Every HiGHS run of the solve goes to one worker thread (:func:`lpmech.highs.highs_thread`:
    a thread and a task scheduler per run cost more than a small grid's LPs).
    """
    with highs_thread():
        return _solve_maximin_in(instance, method)


def _solve_maximin_in(instance: Instance, method: str) -> Result:
    start = time.perf_counter()
    user_problem = instance.engine()
    unit = unit_scale(user_problem)
    problem = _normalized(user_problem, unit)  # the engine works in units of `unit`
    phi = [virtual_costs(t, p) for t, p in zip(problem.grids, problem.probs)]
    phi_bar = [iron(f, p) for f, p in zip(phi, problem.probs)]
    conditioning = _conditioning(problem, phi)
    chosen, why = _choose(method, instance, conditioning)
    # auto on a grid the LP serves: the LP when the structured solver cannot certify
    lp_fallback = method == "auto" and instance.n_profiles <= AUTO_LP_LIMIT and conditioning[0] <= AUTO_LP_MAX_SPREAD
    if chosen == "lp":
        sol = _lp_core(problem, phi, phi_bar)
    else:
        try:
            sol = _structured_core(problem, phi, phi_bar)
        except CertificateError as err:
            if not lp_fallback:
                raise
            chosen = "lp"
            why = f"{why}; the structured solver could not certify ({err}): the LP"
            sol = _lp_core(problem, phi, phi_bar)
    if why:
        sol.size["method_reason"] = why
    sol.size["unit"] = unit
    omega_lp = sol.omega
    rule = sol.rule
    tie_rtol = max(TIE_RTOL, sol.tie_rtol)  # what the core solver treated as a tie

    tr = transfers(problem, rule if rule is not None else sol.x)
    gains_lp, size_lp = _gains(problem, tr.X, phi)
    intervals = [ironing_intervals(f, fb) for f, fb in zip(phi, phi_bar)]
    face = optimal_face(
        rule if rule is not None else sol.x,
        phi_bar,
        problem.b,
        gains_lp,
        tr.X,
        intervals,
        value_tol=np.array(
            [gap_limit([g, gains_lp.min()], [z, min_magnitude(gains_lp, size_lp)]) for g, z in zip(gains_lp, size_lp)]
        ),
        index_rtol=tie_rtol,
        uncertainty=sol.tie_uncertainty,
        weight_budget=0.1 * CHECK_RTOL * abs(float(gains_lp.min())),
    )
    reference = np.clip(omega_lp, 0.0, None)
    try:
        omega_range = face_ranges(face, reference)
        omega_can = canonical_weights(face, reference)
        face_error = ""
    except SolverError as err:
        # no ω has x as a best response: x is not optimal (a failed check, reported with the rest)
        face_error = str(err)
        omega_range = np.full((problem.n, 2), np.nan)
        omega_can = reference / reference.sum() if reference.sum() > 0 else np.full(problem.n, 1.0 / problem.n)
    del face

    compact = None
    if rule is not None and not tr.explicit_m and instance.n_profiles > COMPACT_MIN_PROFILES:
        from .compact import CompactMechanism

        compact = CompactMechanism(
            instance, unit, rule.omega, rule.phi_bar, rule.b, rule.tie_index, rule.tie_x, tr.M, tr.constant
        )
        source: CompactSource | DenseSource = CompactSource(compact)  # the checks read the reported mechanism
        allocation = transfer = None
    else:
        x = sol.x
        source = DenseSource(x)
        allocation = instance.to_user(x)
        transfer = instance.to_user(tr.m * unit, negate=True)
    posted = best_posted_price(instance)
    checks = maximin_checks(
        instance=instance,
        problem=problem,
        unit=unit,
        core=sol,
        phi=phi,
        phi_bar=phi_bar,
        tr=tr,
        source=source,
        x_omega=None if sol.x_omega is None else DenseSource(sol.x_omega),
        allocation=allocation,
        transfer=transfer,
        posted=posted,
        omega_range=omega_range,
        omega_can=omega_can,
        face_error=face_error,
        tie_rtol=tie_rtol,
    )
    value_user = sol.value * unit
    seconds = time.perf_counter() - start

    omega_lp = np.clip(omega_lp, 0.0, None)
    omega_lp = omega_lp / omega_lp.sum()
    user_phi = [instance.to_user(f * unit, axes="agent", negate=True) for f in phi]
    user_phi_bar = [instance.to_user(f * unit, axes="agent", negate=True) for f in phi_bar]
    interim = []
    for i, a in enumerate(instance.agents):
        share = float(instance.shares[i])
        M = instance.to_user(tr.M[i] * unit, axes="agent", negate=True)
        U = instance.to_user(tr.U[i] * unit, axes="agent")
        interim.append(
            {
                "agent": a.name,
                "share": share,
                "grid": instance.grids[i].tolist(),
                "trade_probability": instance.to_user(tr.X[i], axes="agent").tolist(),
                "expected_transfer": M.tolist(),
                "expected_payout": (share * M).tolist(),
                "utility": (share * U).tolist(),
                "virtual": user_phi[i].tolist(),
                "virtual_ironed": user_phi_bar[i].tolist(),
                "ironing_intervals": [
                    [float(instance.grids[i][lo]), float(instance.grids[i][hi])]
                    for lo, hi in _user_intervals(intervals[i], instance.grids[i].size, instance.flipped)
                ],
            }
        )
    ratio = value_user / posted.value if posted.value > 0 else None
    interim = [interim_row(**row) for row in interim]
    info = {
        "highs_status": sol.status,
        "iterations": sol.iterations,
        "lp_size": sol.size,
        "binding_agent": instance.names[tr.binding_agent],
    }
    if why:
        info["method_reason"] = why
    return Result(
        instance=instance,
        status="optimal",
        value=value_user,
        omega=omega_lp,
        omega_canonical=omega_can,
        omega_range=omega_range,
        allocation=allocation,
        transfer=transfer,
        interim=interim,
        posted=posted,
        ratio=ratio,
        checks=checks,
        solve_seconds=sol.seconds,
        total_seconds=seconds,
        formulation="maximin",
        method=chosen,
        info=info,
        phi_bar=user_phi_bar,
        compact=compact,
    )


def _gains(problem, X, phi) -> tuple[np.ndarray, np.ndarray]:
    """E[x(b − φ_i)] = Σ_t p_i(t) X_i(t) (b − φ_i(t)) and the magnitudes of its terms, from X_i."""
    val = np.array([float((p * X_i) @ (problem.b - f)) for p, X_i, f in zip(problem.probs, X, phi)])
    mag = np.array([float((p * np.abs(X_i)) @ np.abs(problem.b - f)) for p, X_i, f in zip(problem.probs, X, phi)])
    return val, mag


def _user_intervals(intervals, k, flip):
    if not flip:
        return intervals
    return sorted((k - 1 - hi, k - 1 - lo) for lo, hi in intervals)
