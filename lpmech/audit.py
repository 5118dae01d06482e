"""Brute-force audit of any mechanism (x, m) on an instance's grid.

:func:`verify` needs nothing but the instance and the two arrays: for every agent, every
true type and every report it computes the agent's expected payoff and returns the worst
incentive and participation violations and the designer's expected profit. It works in the
instance's own units and orientation (the file's grid order, per-share types, the transfer
as the JSON's ``transfer``: designer to group on the buy side, group to designer on the sell
side) with its own formulas for each side, so it checks the engine's sell-side mapping too.

Payoffs (docs/model.md, section 1): buy side, agent i gets σ_i (m − θ_i x) and the buyer b x − m;
sell side, agent i gets σ_i (θ_i x − m) and the seller m − c x.

Definitions (docs/model.md, section 2), each checked on the whole profile grid:

* **BIC**: for every agent, true type t and report s, the expected payoff of reporting t is at
  least that of reporting s, expectations under the conditional belief P(θ_−i | θ_i = t).
* **DSIC**: the same inequality for **every** θ_−i separately, whether or not (t, θ_−i) has
  positive probability (the model's "the BIC inequality for every θ_−i").
* **Interim IR**: every type's expected truthful payoff is nonnegative.
* **Ex-post IR**: the truthful payoff is nonnegative at **every** profile, zero-probability
  profiles included (the participation constraint at every profile).

Tolerances (:mod:`lpmech.tolerances`): a violation is measured in the agents' payoff units
(share included) and, for the pass/fail decision, relative to the magnitude of the payoffs it
compares: σ_i·(E|m| + |θ_i|), the size of the transfer terms and of the cost term θ_i·x they
are summed from (x is a probability, so θ_i·x is measured on the scale of |θ_i|; the solver's
accuracy on x is absolute). So one far-out type cannot make the checks of the other types
vacuous, and units do not matter.

Bad input (wrong shape, NaN or infinity in x or m, a non-numeric array, an unknown veto name,
a string where a list of names is expected) raises :class:`lpmech.errors.InstanceError` naming
the argument. x outside [0, 1] is not bad input: it is a violation, reported in
``max_bound_violation``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import InstanceError
from .instance import Instance
from .profiles import PASS_CHUNK, agent_view, beliefs, interim
from .tolerances import ALLOCATION_TOL, AUDIT_CHUNK, CHECK_RTOL, TINY

__all__ = ["verify", "audit_interim", "Audit", "check_profile_array", "check_veto", "Interim"]


@dataclass
class Audit:
    """What :func:`verify` found.

    Attributes
    ----------
    max_ic_violation, max_ir_violation : float
        The largest incentive and participation violations, in the agents' payoff units (share
        included); 0 when there is none.
    profit : float
        The designer's expected profit E[b·x − m] (buy side) or E[m − c·x] (sell side).
    max_bound_violation : float
        How far x leaves [0, 1] (unitless).
    worst_ic, worst_ir : dict or None
        Where the largest relative violation is: agent, true type, report, and for DSIC and
        ex-post IR ``others_profile``, the flat index (C order) of θ_−i over the other agents'
        grids, and for ex-post IR the profile's ``probability`` (0 for an impossible profile).
    per_agent : list of dict
        Per agent: its violations and its interim (truthful) utility on its grid.
    ic, participation : str
        The notions audited.
    ic_relative, ir_relative : float
        The largest violation divided by the magnitude of the payoffs its comparison is
        computed from (σ_i·(E|m| + |θ_i|), the larger of the two sides); what :meth:`ok` tests.
    """

    max_ic_violation: float
    max_ir_violation: float
    profit: float
    max_bound_violation: float
    worst_ic: dict | None = None
    worst_ir: dict | None = None
    per_agent: list[dict] = field(default_factory=list)
    ic: str = "bayesian"
    participation: str = "interim"
    ic_relative: float = 0.0
    ir_relative: float = 0.0

    def ok(self, rtol: float = CHECK_RTOL, allocation_tol: float = ALLOCATION_TOL) -> bool:
        """Whether every check passes.

        Parameters
        ----------
        rtol : float
            Relative tolerance of an IC or IR violation, against the magnitude of the payoffs
            it compares (default :data:`lpmech.tolerances.CHECK_RTOL`).
        allocation_tol : float
            How far x may leave [0, 1] (unitless; default :data:`lpmech.tolerances.ALLOCATION_TOL`).

        Returns
        -------
        bool
        """
        return self.ic_relative <= rtol and self.ir_relative <= rtol and self.max_bound_violation <= allocation_tol

    def to_dict(self) -> dict:
        return {
            "max_ic_violation": self.max_ic_violation,
            "max_ir_violation": self.max_ir_violation,
            "ic_relative": self.ic_relative,
            "ir_relative": self.ir_relative,
            "profit": self.profit,
            "max_bound_violation": self.max_bound_violation,
            "worst_ic": self.worst_ic,
            "worst_ir": self.worst_ir,
            "ic": self.ic,
            "participation": self.participation,
        }


def check_profile_array(values, shape: tuple[int, ...], name: str, copy: bool = True) -> np.ndarray:
    """Validate an array over the profile grid: numeric, of ``shape``, finite.

    Parameters
    ----------
    values : array_like
        The array (e.g. a trade probability or a transfer on every profile).
    shape : tuple of int
        The profile grid's shape K_1 x ... x K_N.
    name : str
        The argument's name, for the error message (``field``).
    copy : bool
        False: a float64 ``values`` is returned itself (for callers that only read it).

    Returns
    -------
    ndarray of float, shape ``shape``
        A float copy (or ``values`` itself, see ``copy``).

    Raises
    ------
    InstanceError
        If ``values`` is not numeric (strings, even numeric ones, included), not of ``shape``
        or holds NaN or infinity.
    """
    try:
        raw = np.asarray(values)
        if raw.dtype.kind in "USV" or (
            raw.dtype.kind == "O" and any(isinstance(v, (str, bytes)) for v in raw.ravel().tolist())
        ):
            raise InstanceError(
                f"must be an array of numbers of shape {shape}, got strings (dtype {raw.dtype})", field=name
            )
        if np.iscomplexobj(raw):
            raise InstanceError("must be real numbers, got complex values", field=name)
        arr = np.array(raw, dtype=float, copy=True if copy else None)
    except (TypeError, ValueError) as err:
        if isinstance(err, InstanceError):
            raise
        raise InstanceError(
            f"must be an array of numbers of shape {shape}, got {type(values).__name__}", field=name
        ) from None
    if arr.shape != tuple(shape):
        raise InstanceError(f"must have shape {tuple(shape)} (the profile grid), got {arr.shape}", field=name)
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InstanceError(f"must be finite, found {arr[where]} at profile index {where}", field=name)
    return arr


def check_veto(instance: Instance, veto, name: str = "veto") -> tuple[str, ...]:
    """The veto set as a tuple of agent names (``None``: every agent).

    Parameters
    ----------
    instance : Instance
    veto : list of str or None
        Names of the agents holding a veto.
    name : str
        The field named in error messages.

    Returns
    -------
    tuple of str
        In the order given (every agent, in file order, for None).

    Raises
    ------
    InstanceError
        If ``veto`` is a string (a list of names is expected), holds a non-string, or names
        an agent the instance does not have.
    """
    names = instance.names
    if veto is None:
        return tuple(names)
    if isinstance(veto, (str, bytes)) or not isinstance(veto, (list, tuple, set, frozenset)):
        raise InstanceError(f"must be a list of agent names, got {type(veto).__name__} {veto!r}", field=name)
    out = []
    for v in veto:
        if not isinstance(v, str):
            raise InstanceError(f"must be a list of agent names, found {v!r}", field=name)
        if v not in names:
            raise InstanceError(f"names {v!r}, which is not an agent (agents: {', '.join(names)})", field=name)
        if v not in out:
            out.append(v)
    return tuple(n for n in names if n in out)


def row_blocks(k: int, width: int) -> Iterator[slice]:
    """Slices of ``range(k)`` whose blocks of rows x ``width`` entries hold at most AUDIT_CHUNK (and
    :data:`lpmech.profiles.PASS_CHUNK`) entries.

    Parameters
    ----------
    k : int
        Number of rows (an agent's true types).
    width : int
        Entries per row (its reports).

    Yields
    ------
    slice
        Consecutive row ranges covering ``range(k)``, at least one row each.
    """
    # blocks of PASS_CHUNK entries at most: their temporaries stay in cache (AUDIT_CHUNK bounds memory)
    step = max(1, min(AUDIT_CHUNK, PASS_CHUNK) // max(int(width), 1))
    for start in range(0, k, step):
        yield slice(start, min(k, start + step))


def expect(belief_rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """[t, s] = Σ_r belief[t, r] · values[s, r]: E[value(s, θ_-i) | θ_i = t] for a block of rows t.

    Summed by einsum's own loops in a fixed order (not BLAS, whose blocking changes the rounding
    with the number of rows), so each entry is the same whichever block computes it.

    Parameters
    ----------
    belief_rows : ndarray, shape (T, R)
        Beliefs over the others' profiles r of a block of T true types.
    values : ndarray, shape (K, R)
        A quantity (trade probability, transfer) at report s and others' profile r.

    Returns
    -------
    ndarray, shape (T, K)
    """
    return np.einsum("tr,sr->ts", belief_rows, values, optimize=False)


class Interim:
    """Agent i's expectations E[v(s, θ_−i) | θ_i = t] of profile arrays v, as [true type t, report s] tables.

    Correlated types (``joint`` given): the beliefs are the rows of :func:`lpmech.profiles.beliefs`
    and each table is the product of a block of belief rows with the (report, others) view of v
    (:func:`expect`), K_i x K_i x R operations. Independent types (``joint`` None): every true
    type holds the same belief, the others' product pmf, so E[v(s, θ_−i) | θ_i = t] does not
    depend on t and is the interim sum E[v | θ_i = s] (:func:`lpmech.profiles.interim`: one pass
    contracting every other axis with its pmf): K^N operations per array, neither the (K_i, R)
    beliefs nor the K^N joint pmf are formed. The tables are the same numbers up to rounding.

    Parameters
    ----------
    instance : Instance
    i : int
        The agent.
    arrays : dict of str to ndarray, shapes K_1 x ... x K_N
        The profile arrays whose expectations are wanted (e.g. x, m, |m|), file order.
    joint : ndarray, shape K_1 x ... x K_N, or None
        The joint pmf for correlated types; None for independent types (``instance.probs``).
    """

    def __init__(self, instance: Instance, i: int, arrays: dict, joint: np.ndarray | None = None):
        self.k = instance.shape[i]
        if joint is None:
            probs = instance.probs
            self.vectors = {key: interim(a, probs, i) for key, a in arrays.items()}
            self.belief = None
        else:
            self.vectors = None
            self.belief = beliefs(joint, i)
            self.views = {key: agent_view(a, i) for key, a in arrays.items()}

    @classmethod
    def from_vectors(cls, vectors: dict) -> Interim:
        """Independent types: the tables of given interim vectors E[v | θ_i = s] (shapes (K_i,))."""
        self = cls.__new__(cls)
        self.vectors = {key: np.asarray(v, dtype=float) for key, v in vectors.items()}
        self.k = next(iter(self.vectors.values())).size
        self.belief = None
        return self

    def table(self, key: str, rows: slice) -> np.ndarray:
        """[t, s] = E[v(s, θ_−i) | θ_i = t] for the true types t in ``rows``, shape (len(rows), K_i)."""
        if self.belief is None:
            return np.broadcast_to(self.vectors[key], (rows.stop - rows.start, self.k))
        return expect(self.belief[rows], self.views[key])

    def truthful(self, key: str) -> np.ndarray:
        """E[v(t, θ_−i) | θ_i = t] for every type t, shape (K_i,)."""
        if self.belief is None:
            return self.vectors[key]
        return (self.belief * self.views[key]).sum(axis=1)


def _check_options(instance, ic, participation) -> None:
    if not isinstance(instance, Instance):
        raise InstanceError(f"must be an lpmech.Instance, got {type(instance).__name__}", field="instance")
    if ic not in ("bayesian", "dominant"):
        raise InstanceError(f'must be "bayesian" or "dominant", got {ic!r}', field="ic")
    if participation not in ("interim", "ex-post"):
        raise InstanceError(f'must be "interim" or "ex-post", got {participation!r}', field="participation")


def _ratio(gap: np.ndarray, size: np.ndarray) -> np.ndarray:
    """gap / size, with 0 where gap <= 0 (sizes below TINY count as TINY); divides only where gap > 0."""
    out = np.zeros(np.shape(gap))
    bad = gap > 0
    if bad.any():
        out[bad] = gap[bad] / np.maximum(size[bad], TINY)
    return out


def verify(
    instance: Instance,
    x,
    m,
    *,
    ic: str = "bayesian",
    participation: str = "interim",
    veto: Sequence[str] | None = None,
    exact: bool = False,
):
    """Audit a mechanism by brute force.

    Parameters
    ----------
    instance : Instance
    x : array_like, shape K_1 x ... x K_N
        Trade probability on every profile, in the file's grid order (unitless; values outside
        [0, 1] are reported as ``max_bound_violation``).
    m : array_like, shape K_1 x ... x K_N
        Total transfer on every profile (designer to group on the buy side, group to designer
        on the sell side), in the file's money units.
    ic : {"bayesian", "dominant"}
        Bayesian IC (interim, beliefs are the conditionals of the joint pmf) or dominant-strategy
        IC (every report against every profile of the others, zero-probability ones included).
    participation : {"interim", "ex-post"}
        Interim IR (every type) or ex-post IR (every profile, zero-probability ones included),
        for the agents named in ``veto``.
    veto : list of str, optional
        The agents holding a participation constraint (default: all).
    exact : bool
        Audit in exact rational arithmetic (:func:`lpmech.exact.verify_exact`): x and m as
        Fractions, integers, decimal strings or floats (taken at their exact binary value).

    Returns
    -------
    Audit or lpmech.exact.ExactAudit
        Worst IC and IR violations (0 when none), absolute and relative, their location, and
        the designer's expected profit; with ``exact=True`` the exact violations and profit.

    Raises
    ------
    InstanceError
        If x or m is not a finite numeric array of the grid's shape (``field`` "x" or "m"),
        ``ic`` or ``participation`` is unknown, or ``veto`` is not a list of the instance's
        agent names.

    Examples
    --------
    A collective posted price p = 0.5 to two sellers is IC and IR:

    >>> import numpy as np, lpmech
    >>> inst = lpmech.Instance("buy", [lpmech.Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"],
    ...                        buyer_value=1.0)
    >>> x = np.array([[1.0, 0.0], [0.0, 0.0]]); m = 0.5 * x
    >>> a = lpmech.verify(inst, x, m)
    >>> a.max_ic_violation, a.max_ir_violation, a.profit, a.ok()
    (0.0, 0.0, 0.125, True)
    """
    _check_options(instance, ic, participation)
    if exact:
        from .exact import verify_exact

        return verify_exact(instance, x, m, ic=ic, participation=participation, veto=veto)
    shape = instance.shape
    x = check_profile_array(x, shape, "x", copy=False)  # read only below
    m = check_profile_array(m, shape, "m", copy=False)
    vetoes = set(check_veto(instance, veto))
    independent = instance.independent
    fast = independent and ic == "bayesian" and participation == "interim"
    if fast:  # independent types under Bayesian IC and interim IR: interim sums only (no K^N joint pmf)
        am = np.abs(m)
        probs = instance.probs
        vectors = [
            {"x": interim(x, probs, i), "m": interim(m, probs, i), "|m|": interim(am, probs, i)}
            for i in range(instance.n)
        ]
        d, sigma = instance.designer_value, instance.money_sign
        profit = float(instance.probs[0] @ (sigma * (d * vectors[0]["x"] - vectors[0]["m"])))
        bound = float(max(0.0, -x.min(), x.max() - 1.0))
        return audit_interim(instance, vectors, profit, bound, veto=tuple(vetoes))
    joint = instance.joint_pmf()
    return _verify_loop(instance, x, m, ic, participation, vetoes, joint)


def audit_interim(instance: Instance, vectors, profit: float, bound: float, veto=None) -> Audit:
    """:func:`verify` for independent types, Bayesian IC and interim IR, from interim sums.

    With independent types every true type holds the same belief, so each agent's expected
    payoffs are the interim vectors E[x | θ_i = s], E[m | θ_i = s] (and E[|m| | θ_i = s] for the
    tolerance): K_i numbers per agent describe the whole audit, however they were summed (by
    :func:`lpmech.profiles.interim` from arrays, or by a chunked pass over a mechanism given in
    closed form, :func:`lpmech.structured.passes.mechanism_pass`).

    Parameters
    ----------
    instance : Instance
        Independent types.
    vectors : list of dict
        Per agent, ``{"x": (K_i,), "m": (K_i,), "|m|": (K_i,)}``: E[x], E[m] and E[|m|] (or an
        upper bound of E[|m|], the magnitude of m's terms) given θ_i = s, in the file's order and
        units.
    profit : float
        The designer's expected profit E[σ(d·x − m)] (the instance's money units).
    bound : float
        How far x leaves [0, 1] (unitless).
    veto : list of str, optional
        The agents holding a participation constraint (default: all).

    Returns
    -------
    Audit
    """
    vetoes = set(check_veto(instance, veto))
    exps = [Interim.from_vectors(v) for v in vectors]
    return _verify_loop(
        instance, None, None, "bayesian", "interim", vetoes, None, exps=exps, profit=profit, bound=bound
    )


def _verify_loop(instance, x, m, ic, participation, vetoes, joint, *, exps=None, profit=None, bound=None) -> Audit:
    """The audit's loop over agents (``exps``: the interim tables of independent types, given)."""
    names = instance.names
    sign = instance.money_sign
    worst_ic = worst_ir = 0.0  # absolute, payoff units
    rel_ic = rel_ir = 0.0  # relative to the magnitude of the comparison
    where_ic: dict | None = None
    where_ir: dict | None = None
    per_agent = []
    am = None if m is None else np.abs(m)
    for i, (name, share, grid) in enumerate(zip(names, instance.shares, instance.grids)):
        k = grid.size
        t_abs = np.abs(grid)
        if ic == "bayesian":
            exp = exps[i] if exps is not None else Interim(instance, i, {"x": x, "m": m, "|m|": am}, joint)
            # [t, s] arrays (true type x report), built in blocks of rows t: bounded memory
            truthful = np.empty(k)
            ic_gap, ic_rel, ic_where = 0.0, -1.0, None
            for rows in row_blocks(k, k):
                diag = np.arange(rows.start, rows.stop)  # truthful reports of these rows
                j = diag - rows.start
                exp_m = exp.table("m", rows)  # [t, s] = E[m(s, θ_-i) | t]
                exp_x = exp.table("x", rows)
                util = share * sign * (exp_m - grid[rows, None] * exp_x)
                size = share * (exp.table("|m|", rows) + t_abs[rows, None])  # magnitude of util[t, s]
                truthful[rows] = util[j, diag]
                gains = util - util[j, diag][:, None]
                rel = _ratio(gains, np.maximum(size, size[j, diag][:, None]))
                t_idx, s_idx = np.unravel_index(np.argmax(rel), rel.shape)
                ic_gap = max(ic_gap, float(gains.max()))
                if rel[t_idx, s_idx] > ic_rel:  # strict: the first worst pair in (t, s) order
                    ic_rel = float(rel[t_idx, s_idx])
                    ic_where = {"agent": name, "type": float(grid[rows.start + t_idx]), "report": float(grid[s_idx])}
        else:
            xi = agent_view(x, i)  # [report s, others r]
            mi = agent_view(m, i)
            ami = agent_view(am, i)
            belief = beliefs(joint, i)  # P(θ_-i = r | θ_i = t)
            # u[s, r] = payoff of true type t reporting s against others r, at every r.
            ic_gap, ic_rel, ic_where = 0.0, 0.0, None
            for t in range(k):
                u = share * sign * (mi - grid[t] * xi)  # [s, r]
                size = share * (ami + t_abs[t])
                g = u - u[t][None, :]
                rel = _ratio(g, np.maximum(size, size[t][None, :]))
                s_best, r_best = np.unravel_index(np.argmax(rel), rel.shape)
                ic_gap = max(ic_gap, float(g.max()))
                if rel[s_best, r_best] > ic_rel:
                    ic_rel = float(rel[s_best, r_best])
                    ic_where = {
                        "agent": name,
                        "type": float(grid[t]),
                        "report": float(grid[s_best]),
                        "others_profile": int(r_best),
                    }
            truthful = share * sign * ((belief * mi).sum(axis=1) - grid * (belief * xi).sum(axis=1))
        ic_rel = max(ic_rel, 0.0)
        worst_ic = max(worst_ic, ic_gap)
        if ic_rel > rel_ic:
            rel_ic, where_ic = ic_rel, ic_where
        ir_gap, ir_rel, ir_where = 0.0, 0.0, None
        if name in vetoes:
            if participation == "interim":
                if ic != "bayesian":
                    exp = Interim(instance, i, {"|m|": am}, joint)
                size = share * (exp.truthful("|m|") + t_abs)
                rel = _ratio(-truthful, size)
                t = int(np.argmax(rel))
                ir_gap = max(0.0, -float(truthful.min()))
                ir_rel = float(rel[t])
                ir_where = {"agent": name, "type": float(grid[t])}
            else:
                xi, mi, ami, pi = (agent_view(a, i) for a in (x, m, am, joint))
                u = share * sign * (mi - grid[:, None] * xi)  # [t, r], every profile
                size = share * (ami + t_abs[:, None])
                rel = _ratio(-u, size)
                t, r = (int(v) for v in np.unravel_index(np.argmax(rel), rel.shape))
                ir_gap = max(0.0, -float(u.min()))
                ir_rel = float(rel[t, r])
                ir_where = {
                    "agent": name,
                    "type": float(grid[t]),
                    "others_profile": int(r),
                    "probability": float(pi[t, r]),
                }
        worst_ir = max(worst_ir, ir_gap)
        if ir_rel > rel_ir:
            rel_ir, where_ir = ir_rel, ir_where
        per_agent.append(
            {
                "agent": name,
                "ic_violation": ic_gap,
                "ir_violation": ir_gap,
                "ic_relative": ic_rel,
                "ir_relative": ir_rel,
                "interim_utility": truthful.tolist(),
            }
        )
    # buy side E[b·x − m], sell side E[m − c·x]: E[σ (d·x − m)], σ = +1 (buy) or −1 (sell)
    d, sigma = instance.designer_value, instance.money_sign
    if profit is None:
        profit = float(np.sum(joint * (sigma * (d * x - m))))
    if bound is None:
        bound = float(max(0.0, -x.min(), x.max() - 1.0))
    return Audit(
        max_ic_violation=worst_ic,
        max_ir_violation=worst_ir,
        profit=profit,
        max_bound_violation=bound,
        worst_ic=where_ic,
        worst_ir=where_ir,
        per_agent=per_agent,
        ic=ic,
        participation=participation,
        ic_relative=rel_ic,
        ir_relative=rel_ir,
    )
