"""What the constraints cost: the compare table and the profit/surplus Pareto frontier.

:func:`compare` solves the general LP (:mod:`lpmech.general`) under Bayesian or dominant-strategy
IC and interim or ex post participation, and sets the four values against the best collective
posted price (docs/model.md, section 7) and the first-best surplus. Whether dominant-strategy IC or
ex post participation cost the designer anything on a grid is a numerical finding: with
independent types and private transfers they are free on a continuum (Gershkov, Goeree,
Kushnir, Moldovanu and Shi, Econometrica 2013), but a group shares one transfer
(Haghpanah, Kuvalekar and Lipnowski, "Selling to a Group", EC 2021; "Buying from a Group",
2024), and with correlated types Bayesian IC can extract what dominant-strategy IC cannot.

:func:`frontier` sweeps the Pareto weight λ of ``profit + λ·surplus`` over [0, 1] (λ > 1 makes the
LP unbounded, see :mod:`lpmech.general`) and writes the frontier as CSV and PNG.
"""

from __future__ import annotations

import csv
import os
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .errors import InstanceError
from .files import write_atomic
from .general import _fmt, first_best, solve_general
from .instance import Instance
from .posted import constrained_posted_price, constraint_words
from .tolerances import CHECK_RTOL, limit

__all__ = ["compare", "CompareTable", "frontier", "Frontier", "DEFAULT_LAMBDAS", "g_at_shares", "fixed_shares_cost"]

VARIANTS = (("bayesian", "interim"), ("bayesian", "ex-post"), ("dominant", "interim"), ("dominant", "ex-post"))
_LABEL = {
    "bayesian": "BIC",
    "dominant": "DSIC",
    "interim": "interim IR",
    "ex-post": "ex post IR",
    "ex-ante": "ex-ante IR",
}
_IC_LABEL = {"bayesian": "BIC", "dominant": "DSIC", "ex-post": "ex-post IC"}

#: Default Pareto weights: dense near 0, where the designer's distortion starts to give way,
#: and near 1, the welfare end.
DEFAULT_LAMBDAS = tuple(
    float(v)
    for v in np.unique(
        np.round(
            np.concatenate([[0.0], np.geomspace(0.005, 0.2, 9), np.linspace(0.25, 0.9, 14), [0.95, 0.98, 0.99, 1.0]]), 6
        )
    )
)


def _share(value: float, fb: float) -> float | None:
    return value / fb if fb > 0 else None


@dataclass
class CompareTable:
    """What each assumption of an instance file is worth: profit row by row, each row's assumptions named.

    ``file_row``: the file's own mechanism (its IC and participation notions, veto or consent,
    outside options, transfer and trade constraints, interdependence), key ``"file"``;
    ``rows``: the four IC x participation variants (label, ic, participation, value,
    share_of_first_best, and value_tolerance: the bound CHECK_RTOL x (E|d·x| + E|m|) the value
    was cross-checked to), each keeping the file's other settings;
    ``extra_rows``: rows beyond the four variants, each with the keys of ``rows``: "individual
    transfers" (each agent its own transfer, BIC and interim IR; ``closed_form`` g(σ) when types
    are independent), the file's IC with ex-ante participation, and, when the file sets them, the
    file's mechanism without its transfer/trade constraints (and without each one), without its
    outside options, with private values (γ = 0), with every agent a veto, and with the consent
    of k = 1..N agents (``coalition``: the best coalition, ``coalitions``: every coalition's value);
    ``posted``: the best collective posted price that respects the file's constraints
    (:func:`lpmech.posted.constrained_posted_price`: price, value, trade_probability,
    share_of_first_best, ``note``; value None with the reason when no posted price qualifies).
    Every LP row carries ``key`` (a machine name), ``in_force`` (the constraints the row
    imposes beyond IC and participation, as short words), ``assumes`` (every setting of the row)
    and ``differs`` (what it changes from the file). A variant the LP finds infeasible has
    value None and ``note`` with HiGHS's status. DSIC holds against every profile of the others
    and ex-post IR at every profile, zero-probability profiles included (docs/model.md, section 2).
    """

    description: str
    side: str
    vetoes: tuple[str, ...]
    rows: list[dict]
    posted: dict
    first_best: float
    extra_rows: list[dict] = field(default_factory=list)
    file_row: dict | None = None
    file_assumptions: dict = field(default_factory=dict)

    def _posted_row(self) -> dict:
        p = self.posted
        if p.get("value") is None:
            label = "best posted price (n/a)"
        else:
            label = "best posted price (" + ("no trade" if p["price"] is None else f"p = {p['price']:.6g}") + ")"
        return {
            "key": "posted_price",
            "label": label,
            "value": p.get("value"),
            "share_of_first_best": p.get("share_of_first_best"),
            "value_tolerance": p.get("value_tolerance"),
            "in_force": p.get("in_force", []),
            "note": p.get("note"),
        }

    def table(self) -> list[dict]:
        """Every row in the printed order: the file's mechanism, the variants, posted price, first best."""
        fb = {
            "key": "first_best",
            "label": "first best",
            "value": self.first_best,
            "share_of_first_best": 1.0 if self.first_best > 0 else None,
            "in_force": [],
        }
        head = [self.file_row] if self.file_row is not None else []
        return [*head, *self.rows, *self.extra_rows, self._posted_row(), fb]

    def to_dict(self) -> dict:
        return {
            "instance": self.description,
            "side": self.side,
            "veto": list(self.vetoes),
            "file_assumptions": self.file_assumptions,
            "file": self.file_row,
            "rows": self.rows,
            "extra_rows": self.extra_rows,
            "posted_price": self.posted,
            "first_best": self.first_best,
            "table": self.table(),
        }

    def summary(self) -> str:
        """An aligned text table; each value carries the digits its cross-check supports (a
        value within its tolerance of 0 prints as 0), each row names the constraints it imposes
        when the file sets any, and the notions are defined below it."""

        def pct(x):
            return "n/a" if x is None else f"{x:.2%}"

        def value(v, tol):
            if v is None:
                return "n/a"
            return _fmt(v, (tol if tol is not None else limit(v)) / CHECK_RTOL, digits=8)

        rows = self.table()
        show = any(r.get("in_force") for r in rows)
        by_key = {r["key"]: r for r in rows}

        def cert_of(r):  # the file's row shares the certificate of the variant it equals
            c = r.get("certificate")
            if c is None and r.get("same_as") in by_key:
                c = by_key[r["same_as"]].get("certificate")
            return c

        exact = any(cert_of(r) is not None for r in rows)

        def exact_cell(r):
            c = cert_of(r)
            return "" if c is None else ("proven" if c.get("proven") else "no")

        lines = [
            (
                r["label"]
                + (
                    f" ({r['note']})" if r.get("note") and r.get("value") is None and r["key"] != "posted_price" else ""
                ),
                value(r["value"], r.get("value_tolerance")),
                pct(r["share_of_first_best"]),
                *([exact_cell(r)] if exact else []),
                *([(", ".join(r.get("in_force") or []) or "none") if r["key"] != "first_best" else ""] if show else []),
            )
            for r in rows
        ]
        head = ("mechanism", "value", "of first best", *(["exact"] if exact else []))
        head += ("constraints in force",) if show else ()
        w = [max(len(r[j]) for r in [*lines, head]) for j in range(len(head))]

        def line(cells):
            out = f"{cells[0]:<{w[0]}}  {cells[1]:>{w[1]}}  {cells[2]:>{w[2]}}"
            for j in range(3, len(head)):
                out += f"  {cells[j]:<{w[j]}}"
            return out.rstrip()

        fa = self.file_assumptions
        out = [
            self.description,
            f"veto: {', '.join(self.vetoes)}",
            "the file assumes: " + fa.get("text", ""),
            line(head),
            line(["-" * k for k in w]),
        ]
        out += [line(r) for r in lines]
        if exact:
            out += _certificate_notes(rows)
        if self.posted.get("note"):
            out += textwrap.wrap(f"best posted price: {self.posted['note']}.", 100)
        out += [
            "as in the file: the file's own mechanism; each other row changes what its label says and keeps",
            "the rest of the file; individual transfers: each agent its own transfer (BIC, interim IR, every",
            "agent a veto); ex-ante IR: each veto holder's expected payoff over its own types.",
        ]
        if (self.file_row or {}).get("transfers") == "individual":
            out += [
                "shared transfer (in force): one transfer m(θ) split by the fixed shares, in place of the",
                "file's individual transfers (the rows without it keep the file's individual transfers).",
            ]
        above = [r["label"] for r in rows if (r.get("share_of_first_best") or 0.0) > 1.0 + CHECK_RTOL]
        if above:
            out += textwrap.wrap(
                f"above 100% of first best ({'; '.join(above)}): correct, not an error. The first best "
                "is the gains from trade, which leave every agent at least its cost; an agent without a "
                "veto (consent of k < N agents, or a fixed veto set) need not be left a nonnegative "
                "payoff, so it can be charged more than its share of the gains, and the designer's "
                "profit can exceed them.",
                100,
            )
        if show:
            out += [
                "constraints in force: no subsidy m(θ) >= 0; m <= X at every profile; budget E[m] <= X;",
                "P(trade) >= q; outside options r_i(θ_i) in participation; γ: interdependent costs",
                "θ_i + Σ_j γ_ij θ_j; consent of k: the best coalition of k veto holders; veto: a fixed set.",
            ]
        out += [
            "value: the designer's expected profit; BIC/DSIC: Bayesian / dominant-strategy IC (DSIC against",
            "every profile of the others); interim IR: every type; ex post IR: every profile, zero-probability",
            "profiles included; first best: the expected gains from trade.",
        ]
        return "\n".join(out)


def _certificate_notes(rows: list[dict]) -> list[str]:
    """The lines under a compare table with exact certificates: each proven row's exact value, the
    rows not proven grouped by the reason, and what the exact path does not prove."""
    out = ["exact certificates (rational arithmetic, docs/model.md, section 12):"]
    unproven: dict[str, list[str]] = {}
    for r in rows:
        c = r.get("certificate")
        if c is None:
            continue
        if c.get("proven"):
            v = str(c["value"])
            if len(v) > 60:
                num, _, den = v.partition("/")
                v = f"a fraction of {len(num.lstrip('-'))}/{len(den) or 1} digits (in --json)"
            how = "closed form g(σ)" if (c.get("checks") or {}).get("method") else c.get("formulation", "exact")
            out.append(f"{r['label']}: proven optimal in exact arithmetic ({how}), value {v} = {c['value_float']:.17g}")
        else:
            unproven.setdefault(c.get("reason") or "no reason given", []).append(r["label"])
    for reason, labels in unproven.items():
        out += textwrap.wrap(f"not certified ({reason.rstrip('.')}): {'; '.join(labels)}.", 100)
    same = [r for r in rows if r.get("same_as") and r.get("certificate") is None]
    if same:
        out.append(f"{same[0]['label']}: the same LP as the row {same[0]['same_as']!r}, so the same certificate.")
    out.append(
        "best posted price, first best: not LP optima, computed in floating point (not covered by the exact path)."
    )
    return out


def _certify_row(instance: Instance, mech, row: dict | None = None) -> dict:
    """The exact certificate of one row as JSON (or why it has none): proven, or CheckError.

    Parameters
    ----------
    instance : Instance
        The row's instance (its mechanism is replaced by ``mech``).
    mech : Mechanism
        The row's mechanism.
    row : dict, optional
        The row's float ``value`` and ``value_tolerance``: a proven exact value farther than the
        tolerance from the float value is a wrong answer (CheckError).

    Returns
    -------
    dict
        :meth:`lpmech.exact.Certificate.to_dict`, or ``{"method": "exact", "proven": False,
        "reason": ...}`` when the exact path does not apply (a grid above its size limit, an
        option it refuses: the InstanceError's message).

    Raises
    ------
    CheckError
        The exact bounds do not meet (:func:`lpmech.exact.prove`), or the exact value disagrees
        with the row's float value.
    """
    from .errors import CheckError
    from .errors import InstanceError as _InstanceError
    from .exact import certify_general, check, prove

    variant = replace(instance, mechanism=mech, agents=instance.agents)
    try:
        if getattr(variant, "interdependence", None) is not None:
            # γ given (even all zero, even N = 1): the float row is the general LP's, so its proof
            # is too (lpmech.exact.prove would take the default mechanism's maximin route, whose
            # float ω the general LP does not have)
            cert = check(certify_general(variant)).to_dict()
        else:
            cert = prove(variant).to_dict()
    except _InstanceError as err:  # above the exact path's size limit: say so, row uncertified
        reason = str(err.message if hasattr(err, "message") else err)
        # the row's float value is shown beside it, so the solve command's "no float answer" does not apply
        reason = reason.replace(" (no float answer is given in its place)", "")
        return {"method": "exact", "proven": False, "reason": reason}
    if row is not None and row.get("value") is not None and row.get("value_tolerance") is not None:
        gap = abs(cert["value_float"] - row["value"])
        if gap > row["value_tolerance"]:
            raise CheckError(
                ["exact_vs_float"],
                {"exact_vs_float": gap, "exact": cert["value"], "float": row["value"]},
                {"exact_vs_float": row["value_tolerance"]},
                message=f"{row.get('label', 'a compare row')}: the exact value {cert['value']} "
                f"(≈ {cert['value_float']:.12g}) differs from the float value {row['value']:.12g}",
            )
    return cert


def in_force(instance: Instance, mech) -> list[str]:
    """The constraints a mechanism imposes beyond IC and participation, as short words.

    Consent of k < N agents, a fixed veto set that leaves agents out, outside options, the
    transfer and trade constraints, and interdependent costs (γ).
    """
    words = []
    if mech.consent is not None and mech.consent < instance.n:
        words.append(f"consent of {mech.consent}")
    elif mech.veto is not None and set(mech.veto) != set(instance.names):
        words.append("veto " + "+".join(mech.veto))
    words += constraint_words(mech)
    if instance.interdependent:
        words.append("γ")
    return words


def assumptions(instance: Instance, mech) -> dict:
    """Every setting a compare row assumes, as a JSON-ready dict (``text``: one readable line)."""
    gamma = getattr(instance, "interdependence", None)
    out = {
        "ic": mech.ic,
        "participation": mech.participation,
        "transfers": mech.transfers,
        "veto": None if mech.veto is None else list(mech.veto),
        "consent": mech.consent,
        "outside_option": None
        if mech.outside_option is None
        else {k: (list(v) if isinstance(v, tuple) else v) for k, v in mech.outside_option},
        "no_subsidy": mech.no_subsidy,
        "max_transfer": mech.max_transfer,
        "budget": mech.budget,
        "min_trade_probability": mech.min_trade_probability,
        "interdependence": None if not instance.interdependent else np.asarray(gamma).tolist(),
    }
    words = [_IC_LABEL[mech.ic], _LABEL[mech.participation]]
    words.append("individual transfers" if mech.transfers == "individual" else "one shared transfer")
    words += in_force(instance, mech) or ["no other constraint"]
    out["text"] = ", ".join(words)
    return out


def _differs(instance: Instance, mech, file_inst: Instance, file_mech) -> list[str]:
    """What a row's settings change from the file's (short words; empty for the file's row)."""
    a, b = assumptions(instance, mech), assumptions(file_inst, file_mech)
    return [k for k in a if k != "text" and a[k] != b[k]]


def compare(instance: Instance, *, certify: str = "float") -> CompareTable:
    """What each assumption is worth: the file's mechanism, IC x participation variants, individual
    transfers, the file's constraints on and off, consent of k, the best posted price, the first best.

    The objective is profit (a Pareto weight in the file is ignored). The row "as in the file"
    solves the instance's own mechanism. The four IC x participation rows (BIC/DSIC, or ex-post IC
    with interdependent values, x interim/ex-post IR) and the ex-ante row keep everything else the
    file sets (veto or consent, outside options, transfer and trade constraints, γ) with one
    shared transfer; the row "individual transfers" (BIC, interim IR, every agent a veto, the
    file's outside options and constraints) gives each agent its own transfer
    (:func:`lpmech.general.solve_individual`) and, with independent types and none of those
    options, is cross-checked against g(σ) (:func:`g_at_shares`). When the file sets them, rows
    drop the transfer and trade constraints (all of them, and each one when there are several),
    the outside options, or the interdependence, give every agent a veto, or ask the consent of
    k = 1..N agents, so each assumption's cost is visible. The posted price respects the file's
    constraints (:func:`lpmech.posted.constrained_posted_price`); the first best uses the
    interdependent costs. Every LP solution is audited (see :func:`lpmech.general.solve_general`).

    Parameters
    ----------
    instance : Instance
        Independent or correlated types, either side.

    certify : {"float", "exact"}
        ``"exact"``: prove every LP row the exact path can handle (:func:`lpmech.exact.prove`:
        the maximin proof for the default mechanism with independent types, the exact general LP
        for every option up to :data:`lpmech.exact.GENERAL_EXACT_MAX_PROFILES` profiles, the
        closed form g(σ) for plain individual transfers above it). Each LP row's
        ``certificate`` (:meth:`lpmech.exact.Certificate.to_dict`) says whether it is proven,
        and why not (a grid above the exact path's size limit, no optimum); the file's row
        shares the certificate of the variant it equals (``same_as``). The posted price and
        the first best are not LP optima and stay floating point. A row whose exact bounds do
        not meet, or whose exact value is farther than its ``value_tolerance`` from the float
        value, raises CheckError.

    Returns
    -------
    CompareTable
        Values in the instance's money units.

    Raises
    ------
    InstanceError
        For bad input (not an Instance, a veto set that makes the LP unbounded).
    SolverError
        If HiGHS reports no optimum for the file's own mechanism (e.g. ``Infeasible``: a budget
        or trade constraint no mechanism meets); a variant row HiGHS finds infeasible is shown
        as n/a with HiGHS's status instead.
    CheckError
        If an audit fails (see :func:`lpmech.general.solve_general`).

    Examples
    --------
    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    >>> table = compare(inst)
    >>> [round(r["value"], 4) for r in table.rows], table.posted["value"], table.first_best
    ([0.3125, 0.3125, 0.3125, 0.25], 0.25, 0.5)
    >>> [(r["label"], round(r["value"], 4)) for r in table.extra_rows]
    [('individual transfers', 0.3125), ('BIC, ex-ante IR', 0.5)]
    >>> table.file_row["label"], round(table.file_row["value"], 4)
    ('as in the file (BIC, interim IR)', 0.3125)
    """
    from .errors import SolverError

    if certify not in ("float", "exact"):
        raise InstanceError(f"certify must be 'float' or 'exact', got {certify!r}", field="certify")
    if not isinstance(instance, Instance):
        raise InstanceError(f"must be an lpmech.Instance, got {type(instance).__name__}", field="instance")
    fb = first_best(instance)
    file_mech = replace(instance.mechanism, pareto=None)
    interdependent = instance.interdependent
    cache: dict = {}
    proofs: dict = {}

    def solve(inst, mech):
        key = (id(inst), mech)
        if key not in cache:
            cache[key] = solve_general(inst, mechanism=mech)
        return cache[key]

    def prove_row(row, mech, inst=instance):
        """Attach the row's exact certificate (one proof per distinct mechanism)."""
        if certify != "exact":
            return
        if row.get("value") is None:
            status = row.get("highs_status")
            row["certificate"] = {
                "method": "exact",
                "proven": False,
                "reason": f"no optimum to prove (HiGHS: {status})" if status else "no optimum to prove",
            }
            return
        key = (id(inst), mech)
        if key not in proofs:
            proofs[key] = _certify_row(inst, mech, row)
        row["certificate"] = proofs[key]

    def lp_row(key, label, mech, inst=instance, *, required=False, certify_row=True):
        row = {
            "key": key,
            "label": label,
            "ic": mech.ic,
            "participation": mech.participation,
            "transfers": mech.transfers,
            "in_force": in_force(inst, mech),
            "assumes": assumptions(inst, mech),
            "differs": _differs(inst, mech, instance, file_mech),
        }
        if mech.transfers == "shares" and file_mech.transfers == "individual":
            row["in_force"] = ["shared transfer", *row["in_force"]]  # the file's individual transfers replaced
        try:
            res = solve(inst, mech)
        except SolverError as err:
            if required:
                raise
            row.update(value=None, share_of_first_best=None, note=f"HiGHS: {err.status}", highs_status=err.status)
            return row, None
        row.update(
            value=res.value,
            share_of_first_best=_share(res.value, fb),
            value_tolerance=CHECK_RTOL * res.checks["value_magnitude"],
        )
        if res.coalitions is not None:
            row["coalition"] = list(res.vetoes)
            row["coalitions"] = res.coalitions
        if certify_row:
            prove_row(row, mech, inst)
        return row, res

    # the file's own mechanism: an infeasible one is the file's error (SolverError, exit 1)
    file_label = f"as in the file ({_IC_LABEL[file_mech.ic]}, {_LABEL[file_mech.participation]}"
    if file_mech.transfers == "individual":
        file_label += ", individual transfers"
    file_row, file_res = lp_row("file", file_label, file_mech, required=True, certify_row=False)
    if file_res.coalitions is not None:
        file_label += f", best coalition {'+'.join(file_res.vetoes)}"
    file_row["label"] = file_label + ")"
    vetoes = tuple(file_res.vetoes)

    rows: list[dict] = []
    for ic, participation in VARIANTS:
        if interdependent and ic == "dominant":  # DSIC is not defined with interdependent values
            ic = "ex-post"
        mech = replace(file_mech, ic=ic, participation=participation, transfers="shares")
        row, _ = lp_row(f"{_KEY[ic]}_{_KEY[participation]}", f"{_IC_LABEL[ic]}, {_LABEL[participation]}", mech)
        rows.append(row)
        if mech == file_mech:
            file_row["same_as"] = row["key"]
            if row.get("certificate") is not None:  # the same LP, so the same certificate
                file_row["certificate"] = row["certificate"]
    if "same_as" not in file_row:  # else its certificate is that row's
        prove_row(file_row, file_mech)

    base = replace(file_mech, ic="bayesian", participation="interim")
    extra = [_individual_row(replace(instance, mechanism=base, agents=instance.agents), fb)]
    indiv_mech = extra[0].pop("_mech")
    extra[0].update(key="individual_transfers", differs=_differs(instance, indiv_mech, instance, file_mech))
    prove_row(extra[0], indiv_mech)
    ante_ic = file_mech.ic if file_mech.ic != "dominant" or not interdependent else "ex-post"
    ante, _ = lp_row(
        f"{_KEY[ante_ic]}_ex_ante",
        f"{_IC_LABEL[ante_ic]}, ex-ante IR",
        replace(file_mech, ic=ante_ic, participation="ex-ante", transfers="shares"),
    )
    extra.append(ante)
    # the file's constraints, off (all of them, then each one): their cost is the difference
    limits_set = [k for k in LIMIT_KEYS if getattr(file_mech, k) not in (None, False)]
    if limits_set:
        off: dict[str, Any] = {k: (False if k == "no_subsidy" else None) for k in limits_set}
        extra.append(lp_row("without_limits", "without the transfer/trade constraints", replace(file_mech, **off))[0])
        if len(limits_set) > 1:
            for name in limits_set:
                mech = replace(file_mech, **{name: off[name]})
                extra.append(lp_row(f"without_{name}", f"without {_LIMIT_LABEL[name]}", mech)[0])
    if file_mech.outside_option is not None:
        extra.append(
            lp_row("without_outside_options", "without outside options", replace(file_mech, outside_option=None))[0]
        )
    if interdependent:
        private = replace(instance, interdependence=None, agents=instance.agents)
        extra.append(lp_row("private_values", "private values (γ = 0)", file_mech, private)[0])
    if file_mech.veto is not None and set(file_mech.veto) != set(instance.names):
        extra.append(lp_row("every_agent_a_veto", "every agent a veto", replace(file_mech, veto=None))[0])
    if file_mech.consent is not None:
        for k in range(1, instance.n + 1):
            row, res = lp_row(f"consent_{k}", f"consent of any {k}", replace(file_mech, consent=k))
            if res is not None:
                row["label"] += f" (best: {'+'.join(res.vetoes)})"
            extra.append(row)

    posted_inst = replace(instance, mechanism=file_mech, agents=instance.agents)
    pp = constrained_posted_price(posted_inst)
    posted = {**pp.to_dict(), "share_of_first_best": None if pp.value is None else _share(pp.value, fb)}
    posted["in_force"] = constraint_words(file_mech) + (["γ"] if interdependent else [])
    if pp.price is not None:  # the posted profit (d - p)·P(trade) is summed from |d| and |p| per trade
        posted["value_tolerance"] = limit((abs(instance.designer_value) + abs(pp.price)) * pp.trade_probability)
    return CompareTable(
        instance.describe(),
        instance.side,
        vetoes,
        rows,
        posted,
        fb,
        extra,
        file_row=file_row,
        file_assumptions=assumptions(instance, file_mech),
    )


_KEY = {"bayesian": "bic", "dominant": "dsic", "ex-post": "expost", "interim": "interim", "ex-ante": "ex_ante"}
LIMIT_KEYS = ("no_subsidy", "max_transfer", "budget", "min_trade_probability")
_LIMIT_LABEL = {
    "no_subsidy": "no subsidy",
    "max_transfer": "the transfer cap",
    "budget": "the budget",
    "min_trade_probability": "the minimum trade probability",
}


# --------------------------------------------------------------------------- individual transfers
def g_at_shares(instance: Instance) -> tuple[float, float]:
    """g(σ) = E[(b − σ·φ̄)_+] at the shares σ, and the magnitude of its terms (docs/model.md, section 10).

    The value of the optimal mechanism with individual transfers when types are independent:
    revenue equivalence agent by agent gives profit E[x(b − Σ_i σ_i φ̄_i)] minus rents, so x_σ is
    optimal. φ̄_i are the ironed virtual costs of the per-share grids in the buy-side (engine)
    form, so on the sell side this is E[(σ·ψ̄ − c)_+] with ψ̄ the ironed virtual values.
    Evaluated by :class:`lpmech.structured.oracle.GOracle`.

    Parameters
    ----------
    instance : Instance
        Independent types on grids.

    Returns
    -------
    g : float
        In the instance's money units.
    magnitude : float
        E[(|b| + σ·|φ̄|) 1{σ·φ̄ < b}], the size of the terms g is summed from.

    Raises
    ------
    InstanceError
        Correlated types (the closed form needs independent types).
    """
    from .structured.oracle import DEFAULT_CHUNK, GOracle
    from .virtual import iron, virtual_costs

    if not instance.independent:
        raise InstanceError(
            "g(σ) is the individual-transfer value for independent types only; this instance has a joint pmf",
            field="joint",
            source=instance.source,
        )
    eng = instance.engine()
    phi_bar = [iron(virtual_costs(g, p), p) for g, p in zip(eng.grids, eng.probs)]
    cut = GOracle(phi_bar, eng.probs, eng.b, DEFAULT_CHUNK)(np.asarray(instance.shares, dtype=float), magnitude=True)
    return float(cut.g), float(cut.magnitude)


def fixed_shares_cost(instance: Instance, maximin_value: float) -> dict:
    """What fixed shares cost the designer: g(σ) − min_ω g(ω) (docs/model.md, section 10).

    Parameters
    ----------
    instance : Instance
        Independent types on grids.
    maximin_value : float
        min_ω g(ω), the value of the optimal shared-transfer mechanism (the maximin LP's value),
        in the instance's money units.

    Returns
    -------
    dict
        ``individual_value`` g(σ), ``shared_value`` min_ω g(ω), ``cost`` their difference
        (clipped at 0 within CHECK_RTOL of the magnitude of g(σ)'s terms: it is >= 0 in exact
        arithmetic) and ``tolerance``.

    Raises
    ------
    InstanceError
        Correlated types.
    CheckError
        g(σ) below min_ω g(ω) by more than the tolerance (one of the two values is wrong).
    """
    from .errors import CheckError

    g_sigma, size = g_at_shares(instance)
    tol = CHECK_RTOL * max(size, abs(maximin_value), abs(g_sigma))
    cost = g_sigma - float(maximin_value)
    if cost < -tol:
        raise CheckError(
            ["fixed_shares_cost"],
            {"fixed_shares_cost": cost, "g_sigma": g_sigma, "maximin_value": maximin_value},
            {"fixed_shares_cost": tol},
            message=f"g(σ) = {g_sigma:.12g} is below min_ω g(ω) = {maximin_value:.12g}",
        )
    return {
        "individual_value": g_sigma,
        "shared_value": float(maximin_value),
        "cost": max(cost, 0.0) if abs(cost) <= tol else cost,
        "tolerance": tol,
    }


def fixed_shares_line(instance: Instance, result) -> tuple[str, dict] | None:
    """The solve report's line on what fixed shares cost, for a maximin result (None otherwise)."""
    if getattr(result, "omega", None) is None or getattr(instance, "is_continuous", False) or not instance.independent:
        return None
    info = fixed_shares_cost(instance, result.value)
    size = info["tolerance"] / CHECK_RTOL
    text = (
        f"fixed shares cost the designer g(σ) − min_ω g(ω) = {_fmt(info['cost'], size, digits=8)} "
        f"(individual transfers: g(σ) = {_fmt(info['individual_value'], size, digits=8)}, "
        f"shared transfer: {_fmt(info['shared_value'], size, digits=8)})"
    )
    return text, info


def _individual_row(instance: Instance, fb: float) -> dict:
    """The compare row "individual transfers": the LP, cross-checked against g(σ) when independent."""
    from .errors import CheckError
    from .general import solve_individual

    mech = replace(instance.mechanism, transfers="individual", pareto=None, veto=None, consent=None)
    res = solve_individual(instance, mechanism=mech)
    tol = CHECK_RTOL * res.checks["value_magnitude"]
    partial = instance.mechanism.veto is not None or (instance.mechanism.consent or instance.n) < instance.n
    label = "individual transfers" + (" (every agent a veto)" if partial else "")
    row = {
        "label": label,
        "ic": mech.ic,
        "participation": mech.participation,
        "transfers": "individual",
        "value": res.value,
        "share_of_first_best": _share(res.value, fb),
        "value_tolerance": tol,
        "in_force": in_force(instance, mech),
        "assumes": assumptions(instance, mech),
        "_mech": mech,
    }
    if (
        instance.independent
        and mech.ic == "bayesian"
        and mech.participation == "interim"
        and getattr(instance, "interdependence", None) is None
        and not mech.has_limits
        and mech.outside_option is None
    ):
        g_sigma, size = g_at_shares(instance)
        gap = abs(g_sigma - res.value)
        lim = CHECK_RTOL * max(size, res.checks["value_magnitude"])
        row["closed_form"] = g_sigma
        if gap > lim:
            raise CheckError(
                ["individual_closed_form"],
                {"individual_closed_form": gap, "lp": res.value, "g_sigma": g_sigma},
                {"individual_closed_form": lim},
                message=f"individual-transfer LP {res.value:.12g} differs from g(σ) = {g_sigma:.12g}",
            )
    return row


# --------------------------------------------------------------------------- frontier
@dataclass
class Frontier:
    """Points (λ, profit, surplus) of the profit/surplus Pareto frontier.

    ``surplus`` is the agents' total expected surplus (shares included); ``welfare`` their sum
    with profit, at most ``first_best``.
    """

    description: str
    rows: list[dict]
    first_best: float
    mechanism: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "instance": self.description,
            "mechanism": self.mechanism,
            "first_best": self.first_best,
            "rows": self.rows,
        }

    @staticmethod
    def _to(path: str, write: Callable, binary: bool) -> None:
        with open(path, "wb") if binary else open(path, "w", newline="") as fh:
            write(fh)

    def _csv(self, fh) -> None:
        w = csv.writer(fh)
        w.writerow(["lambda", "profit", "surplus", "welfare"])
        for r in self.rows:
            w.writerow([repr(r["lambda"]), repr(r["profit"]), repr(r["surplus"]), repr(r["welfare"])])

    def _png(self, fh) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 4.5))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        s = np.array([r["surplus"] for r in self.rows])
        p = np.array([r["profit"] for r in self.rows])
        ax.plot(s, p, "o-", color="C0", label="frontier (profit + λ·surplus)")
        if self.first_best > 0:
            ax.plot([0, self.first_best], [self.first_best, 0], "--", color="0.6", label="first best")
        for r in self.rows:
            if r["lambda"] in (0.0, 0.1, 0.5, 0.9, 1.0):
                ax.annotate(
                    f"λ={r['lambda']:g}",
                    (r["surplus"], r["profit"]),
                    textcoords="offset points",
                    xytext=(5, 5),
                    fontsize=8,
                )
        ax.set_xlabel("agents' expected surplus")
        ax.set_ylabel("designer's expected profit")
        ax.set_title(self.description, fontsize=8)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(fh, format="png", dpi=120)

    def write(self, out_dir: str | os.PathLike) -> dict:
        """Write ``frontier.csv`` and ``frontier.png`` into ``out_dir`` atomically; return their paths."""
        out_dir = os.fspath(out_dir)
        os.makedirs(out_dir, exist_ok=True)
        paths = {"csv": os.path.join(out_dir, "frontier.csv"), "png": os.path.join(out_dir, "frontier.png")}
        write_atomic(paths["csv"], lambda tmp: self._to(tmp, self._csv, binary=False))
        write_atomic(paths["png"], lambda tmp: self._to(tmp, self._png, binary=True))
        return paths


def _point(instance: Instance, lam: float) -> dict:
    res = solve_general(instance, mechanism=replace(instance.mechanism, pareto=float(lam)))
    return {"lambda": float(lam), "profit": res.profit, "surplus": res.surplus, "welfare": res.profit + res.surplus}


def frontier(instance: Instance, lambdas: Sequence[float] | None = None, progress: bool = True) -> Frontier:
    """Sweep the Pareto weight λ in profit + λ·surplus.

    Parameters
    ----------
    instance : Instance
        Its IC, participation and veto options are kept.
    lambdas : sequence of float, optional
        Weights in [0, 1] (λ > 1 is unbounded; anything else raises InstanceError). Default :data:`DEFAULT_LAMBDAS`; the default
        sweep solves λ = 1 first and stops once a point equals it (the surplus stops changing:
        a point optimal at λ and at 1 is optimal in between).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    Frontier
        One row per λ solved: ``lambda``, ``profit``, ``surplus`` and ``welfare`` (money, the
        instance's units), with the first-best surplus.

    Raises
    ------
    InstanceError
        A λ outside [0, 1], a bad mechanism option, or an instance too large for the general LP.
    lpmech.errors.SolverError
        HiGHS did not solve one of the LPs.

    Examples
    --------
    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    >>> f = frontier(inst, lambdas=[0.0, 0.4, 0.6, 1.0], progress=False)
    >>> [(r["lambda"], round(r["profit"], 4), round(r["surplus"], 4)) for r in f.rows]
    [(0.0, 0.3125, 0.125), (0.4, 0.3125, 0.125), (0.6, 0.25, 0.25), (1.0, 0.25, 0.25)]
    """
    from tqdm import tqdm

    default = lambdas is None
    grid = sorted(_weights(DEFAULT_LAMBDAS if default else lambdas))
    rows = []
    with tqdm(total=len(grid), desc="frontier", disable=not progress, leave=False) as bar:
        end = _point(instance, 1.0) if default else None
        for lam in grid:
            row = end if (default and lam == 1.0) else _point(instance, lam)
            rows.append(row)
            bar.update(1)
            if default and lam < 1.0 and _same(row, end):
                rows.append(end)
                bar.update(bar.total - bar.n)
                break
    mech = instance.mechanism
    info = {
        "ic": mech.ic,
        "participation": mech.participation,
        "veto": list(instance.names if mech.veto is None else mech.veto),
    }
    return Frontier(instance.describe(), rows, first_best(instance), info)


def _weights(lambdas) -> list[float]:
    """The Pareto weights as floats in [0, 1]; anything else is bad input (InstanceError)."""
    if isinstance(lambdas, (str, bytes)) or np.ndim(lambdas) != 1:
        raise InstanceError(f"must be a list of numbers in [0, 1], got {lambdas!r}", field="lambdas")
    out = []
    for v in lambdas:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            raise InstanceError(f"must be numbers in [0, 1], found {v!r}", field="lambdas") from None
    bad = [v for v in out if not 0.0 <= v <= 1.0]
    if bad:
        raise InstanceError(f"must lie in [0, 1] (λ > 1 makes the LP unbounded), got {bad}", field="lambdas")
    if not out:
        raise InstanceError("is empty", field="lambdas")
    return out


def _same(a: dict, b: dict, rtol: float = CHECK_RTOL) -> bool:
    """Two frontier points agree: profits within rtol of their magnitude, surpluses likewise."""
    return abs(a["profit"] - b["profit"]) <= limit(a["profit"], b["profit"], rtol=rtol) and abs(
        a["surplus"] - b["surplus"]
    ) <= limit(a["surplus"], b["surplus"], rtol=rtol)
