"""Exact data and an exact brute-force audit for the general LP's families (docs/model.md, sections 9-11).

The families are individual transfers, ex-ante participation, outside options, consent of k
agents, the transfer and trade constraints (no subsidy, a cap on the transfer, a budget, a
minimum trade probability) and interdependent values (BIC and ex-post IC with the true cost).

:func:`exact_numbers` reads the numbers these options carry (γ, outside options, the caps, the
budget, the minimum trade probability, the Pareto weight) exactly: :class:`lpmech.Mechanism` and
:class:`lpmech.Instance` keep them as floats, so when the instance came from a file its text is
read again (tomllib with :func:`lpmech.instance.exact_float`, decimal text an exact rational) and a
file number is used whenever it rounds to the float the solver used; otherwise (options from the
command line or the API) the float is taken at its exact binary value, as everywhere on the exact
path. ``ExactNumbers.origin`` records which.

:func:`audit_mechanism` evaluates a mechanism (x and each agent's transfer) against the
definitions, in rational arithmetic, with every pair (true type, report) and every profile of the
others written out (no neighbour chain, no interim factoring): the independent second check of the
exact LP's primal.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from .data import ZERO, ExactData, frac, q, qarray

__all__ = ["ExactNumbers", "exact_numbers", "audit_mechanism", "others_cost", "FamilyAudit"]


@dataclass(frozen=True)
class ExactNumbers:
    """The mechanism's numbers as exact rationals.

    Attributes
    ----------
    gamma : tuple of tuple of Fraction or None
        Interdependence γ (N x N, zero diagonal); None for private values.
    outside : tuple of (tuple of Fraction or None)
        Per agent (instance order), its outside option r_i(θ_i) over its grid (file order), in its
        payoff units σ_i·sign·(m − c_i x); None when 0.
    max_transfer, budget, min_trade_probability, pareto : Fraction or None
    origin : dict of str to str
        For each number given, ``"exact"`` (kept exactly by the Mechanism or the Instance, e.g.
        a Fraction given through the API, and not a double), ``"file"`` (the file's decimal
        text, exactly) or ``"float"`` (the float's exact binary value); a key with several
        entries is ``"float"`` once one of them is.
    """

    gamma: tuple[tuple[Fraction, ...], ...] | None
    outside: tuple[tuple[Fraction, ...] | None, ...]
    max_transfer: Fraction | None = None
    budget: Fraction | None = None
    min_trade_probability: Fraction | None = None
    pareto: Fraction | None = None
    origin: dict = field(default_factory=dict)


def _file_document(source: Any) -> dict | None:
    """The instance file parsed exactly, or None (no file, unreadable, not the same kind of data)."""
    if not isinstance(source, (str, os.PathLike)) or not os.path.isfile(source):
        return None
    from ..errors import LpmechError
    from ..loader import read_toml

    try:
        _, data = read_toml(source)
    except (LpmechError, OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _exact_or_none(value: Any) -> Fraction | None:
    from ..errors import LpmechError
    from ..instance import exact_number

    if value is None or isinstance(value, (bool, str, dict, list, tuple)):
        return None
    try:
        return exact_number(value, field="value")
    except (LpmechError, ValueError, TypeError):
        return None


_RANK = {"file": 0, "exact": 1, "float": 2}  # a key with several entries shows its weakest origin


def _pick(used: float, given: Any, key: str, origin: dict, kept: Any = None) -> Fraction:
    """The exact number behind the float the solver used (records where it came from in ``origin``).

    ``kept`` (the exact value the Mechanism or Instance kept) when it rounds to ``used`` and is
    more than its binary value (``"file"`` if the file's text is that number, else ``"exact"``);
    otherwise the file's exact number when it rounds to ``used`` (``"file"``); else the float's
    binary value (``"float"``; no origin when its shortest decimal is that value: 0, 0.5, 2).
    """
    kv, fv = _exact_or_none(kept), _exact_or_none(given)
    if kv is not None and float(kv) + 0.0 == float(used) and kv != Fraction(float(used)):
        value, label = kv, ("file" if fv == kv else "exact")
    elif fv is not None and float(fv) + 0.0 == float(used):
        value, label = fv, "file"
    else:
        value = Fraction(float(used))
        label = None if Fraction(repr(float(used))) == value else "float"
    labels = origin.setdefault(key, set())
    if label is not None:
        labels.add(label)
    return value


def _resolve(origin: dict) -> dict:
    """Each key's weakest origin (``"exact"`` when every entry was exactly its float's decimal)."""
    return {k: max(v, key=_RANK.__getitem__) if v else "exact" for k, v in origin.items()}


def exact_numbers(instance) -> ExactNumbers:
    """The exact γ, outside options, caps, budget, minimum trade probability and Pareto weight.

    Parameters
    ----------
    instance : lpmech.Instance
        With the mechanism to certify.

    Returns
    -------
    ExactNumbers
        The file's numbers exactly where they are the ones solved with; floats at their exact
        binary value otherwise (``origin`` says which).
    """
    mech = instance.mechanism
    doc = _file_document(getattr(instance, "source", None))
    table = doc.get("mechanism", {}) if doc else {}
    table = table if isinstance(table, dict) else {}
    agents_raw = doc.get("agents", []) if doc else []
    agents_raw = agents_raw if isinstance(agents_raw, list) else []
    origin: dict[str, set] = {}
    scalars: dict[str, Fraction | None] = {}
    for key in ("max_transfer", "budget", "min_trade_probability", "pareto"):
        used = getattr(mech, key)
        kept = getattr(mech, f"exact_{key}", None)  # the Mechanism keeps its numbers exactly
        scalars[key] = None if used is None else _pick(used, table.get(key), key, origin, kept)
    gamma_f = getattr(instance, "interdependence", None)
    gamma = None
    if gamma_f is not None:
        arr = np.asarray(gamma_f, dtype=float)
        kept_gamma = getattr(instance, "exact_interdependence", None)  # the Instance keeps γ exactly
        given = doc.get("interdependence") if doc else None
        rows = []
        for i in range(arr.shape[0]):
            row = []
            for j in range(arr.shape[1]):
                try:
                    g = given[i][j]  # type: ignore[index]
                except (TypeError, IndexError, KeyError):
                    g = None
                k = kept_gamma[i][j] if kept_gamma is not None else None
                row.append(_pick(arr[i, j], g, "interdependence", origin, k))
            rows.append(tuple(row))
        gamma = tuple(rows)
    table_oo = mech.outside_options()
    outside: list[tuple[Fraction, ...] | None] = []
    for k, (name, grid) in enumerate(zip(instance.names, instance.grids)):
        if name not in table_oo:
            outside.append(None)
            continue
        used = table_oo[name]
        raw = agents_raw[k] if k < len(agents_raw) and isinstance(agents_raw[k], dict) else {}
        if raw.get("name", name) != name:
            raw = {}
        given = raw.get("outside_option")
        if isinstance(used, tuple):
            given_list = given if isinstance(given, list) and len(given) == len(used) else [None] * len(used)
            vals = tuple(_pick(u, g, f"outside_option.{name}", origin) for u, g in zip(used, given_list))
        else:
            vals = (_pick(used, given, f"outside_option.{name}", origin),) * len(grid)
        outside.append(None if all(v == 0 for v in vals) else vals)
    return ExactNumbers(gamma, tuple(outside), origin=_resolve(origin), **scalars)


def others_cost(data: ExactData, gamma, i: int) -> np.ndarray | None:
    """Σ_{j≠i} γ_ij θ_j on the profile grid (fmpq object array of ``data.shape``), None for private values."""
    if gamma is None:
        return None
    out = np.full(data.shape, ZERO, dtype=object)
    for j in range(data.n):
        if j == i or gamma[i][j] == 0:
            continue
        shp = [1] * data.n
        shp[j] = -1
        out = out + q(gamma[i][j]) * qarray(data.grids[j]).reshape(shp)
    return out


@dataclass
class FamilyAudit:
    """What :func:`audit_mechanism` found (Fractions; violations in the agents' payoff units)."""

    max_ic_violation: Fraction
    max_participation_violation: Fraction
    max_limit_violation: Fraction
    max_bound_violation: Fraction
    profit: Fraction
    surplus: Fraction
    where: dict

    def ok(self) -> bool:
        return (
            not (self.max_ic_violation or self.max_participation_violation or self.max_limit_violation)
            and not self.max_bound_violation
        )


def audit_mechanism(
    data: ExactData,
    nums: ExactNumbers,
    mech,
    vetoes: Sequence[str],
    x: np.ndarray,
    transfers: Sequence[np.ndarray],
) -> FamilyAudit:
    """Audit a mechanism by brute force in exact arithmetic, from the definitions.

    Parameters
    ----------
    data : ExactData
    nums : ExactNumbers
    mech : lpmech.Mechanism
        ``ic`` ("bayesian", "dominant" or "ex-post"), ``participation`` ("interim", "ex-post",
        "ex-ante"), the transfer and trade constraints (their values from ``nums``).
    vetoes : sequence of str
        The agents whose participation is imposed.
    x : ndarray of fmpq, shape K_1 x ... x K_N
        Trade probability on every profile (file order).
    transfers : sequence of ndarray of fmpq
        Each agent's transfer per unit of its share (the total transfer m for every agent with
        shared transfers; m_i / σ_i with individual transfers), designer to group on the buy side.

    Returns
    -------
    FamilyAudit
        The largest IC gain over every (true t, report s) pair (Bayesian: expected under t's
        belief with the true cost t + Σ_j γ_ij θ_j; dominant / ex-post: at every profile of the
        others, possible or not), the largest participation shortfall below the outside option,
        the largest transfer/trade constraint violation, x outside [0, 1], and the designer's
        expected profit and the agents' total expected surplus.
    """
    shape = data.shape
    n = data.n_profiles
    pmf = data.joint_pmf()
    sign = data.sign
    flat = np.arange(n, dtype=np.int64).reshape(shape)
    xr = x.ravel()
    worst_ic = worst_ir = ZERO
    where: dict = {}
    surplus = ZERO
    for i, name in enumerate(data.names):
        share = q(data.shares[i])
        grid = qarray(data.grids[i])
        k = grid.size
        view = np.moveaxis(flat, i, 0).reshape(k, -1)
        weight = pmf.ravel()[view]
        marg = weight.sum(axis=1)
        belief = weight / marg[:, None]
        extra = others_cost(data, nums.gamma, i)
        e = np.full(view.shape[1], ZERO, dtype=object) if extra is None else extra.ravel()[view[0]]
        X = xr[view]  # [report s, others r]
        T = transfers[i].ravel()[view]
        cost = grid[:, None] + e[None, :]  # [true t, r]
        u = (share * sign) * (T[None, :, :] - cost[:, None, :] * X[None, :, :])  # [t, s, r]
        truth_r = np.array([[u[t, t, r] for r in range(u.shape[2])] for t in range(k)], dtype=object)
        truth = (truth_r * belief).sum(axis=1)  # interim truthful payoff of each type
        if mech.ic == "bayesian":
            U = (u * belief[:, None, :]).sum(axis=2)  # [t, s]: expected under t's belief
            gains = U - truth[:, None]
        else:  # every profile of the others, possible or not
            gains = u - truth_r[:, None, :]
        g = max(gains.ravel().tolist())
        if g > worst_ic:
            worst_ic, where["ic"] = g, {"agent": name, "notion": mech.ic}
        surplus += (marg * truth).sum()
        if name in vetoes:
            r_out = np.full(k, ZERO, dtype=object) if nums.outside[i] is None else qarray(list(nums.outside[i]))
            if mech.participation == "interim":
                short = max((r_out - truth).tolist())
            elif mech.participation == "ex-post":
                short = max((r_out[:, None] - truth_r).ravel().tolist())
            else:  # ex-ante: the expected payoff over the agent's own types
                short = (marg * (r_out - truth)).sum()
            if short > worst_ir:
                worst_ir, where["participation"] = short, {"agent": name, "notion": mech.participation}
    if mech.transfers == "individual":
        total = sum((q(s) * t for s, t in zip(data.shares, transfers)), np.full(shape, ZERO, dtype=object))
    else:
        total = transfers[0]
    tr = total.ravel()
    pr = pmf.ravel()
    limit = ZERO
    if mech.no_subsidy:
        limit = max([limit] + [-v for v in tr.tolist()])
    if nums.max_transfer is not None:
        cap = q(nums.max_transfer)
        limit = max([limit] + [v - cap for v in tr.tolist()])
    if nums.budget is not None:
        limit = max(limit, (pr * tr).sum() - q(nums.budget))
    if nums.min_trade_probability is not None:
        limit = max(limit, q(nums.min_trade_probability) - (pr * xr).sum())
    bound = max([ZERO] + [-v for v in xr.tolist()] + [v - 1 for v in xr.tolist()])
    profit = (pr * (q(data.designer_value) * xr - tr)).sum() * sign
    return FamilyAudit(
        max_ic_violation=frac(max(worst_ic, ZERO)),
        max_participation_violation=frac(max(worst_ir, ZERO)),
        max_limit_violation=frac(max(limit, ZERO)),
        max_bound_violation=frac(bound),
        profit=frac(profit),
        surplus=frac(surplus),
        where=where,
    )
