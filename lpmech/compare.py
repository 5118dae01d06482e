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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .errors import InstanceError
from .files import write_atomic
from .general import _fmt, first_best, solve_general
from .instance import Instance
from .posted import best_posted_price
from .tolerances import CHECK_RTOL, limit

__all__ = ["compare", "CompareTable", "frontier", "Frontier", "DEFAULT_LAMBDAS", "g_at_shares", "fixed_shares_cost"]

VARIANTS = (("bayesian", "interim"), ("bayesian", "ex-post"), ("dominant", "interim"), ("dominant", "ex-post"))
_LABEL = {"bayesian": "BIC", "dominant": "DSIC", "interim": "interim IR", "ex-post": "ex post IR"}
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
    """Values of the four IC x participation variants, the best posted price and the first best.

    ``rows``: one dict per variant (label, ic, participation, value, share_of_first_best, and
    value_tolerance: the bound CHECK_RTOL x (E|d·x| + E|m|) the value was cross-checked to);
    ``extra_rows``: rows beyond the four variants, each with the keys of ``rows``: "individual
    transfers" (each agent its own transfer, BIC and interim IR; ``closed_form`` g(σ) when types
    are independent);
    ``posted``: the best collective posted price (:func:`lpmech.posted.best_posted_price`:
    price, value, trade_probability, share_of_first_best). DSIC holds against every profile of
    the others and ex-post IR at every profile, zero-probability profiles included
    (docs/model.md, section 2).
    """

    description: str
    side: str
    vetoes: tuple[str, ...]
    rows: list[dict]
    posted: dict
    first_best: float
    extra_rows: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "instance": self.description,
            "side": self.side,
            "veto": list(self.vetoes),
            "rows": self.rows,
            "extra_rows": self.extra_rows,
            "posted_price": self.posted,
            "first_best": self.first_best,
        }

    def summary(self) -> str:
        """An aligned text table; each value carries the digits its cross-check supports (a
        value within its tolerance of 0 prints as 0), and the notions are defined below it."""

        def pct(x):
            return "n/a" if x is None else f"{x:.2%}"

        def value(v, tol):
            return _fmt(v, tol / CHECK_RTOL, digits=8)

        lines = [
            (r["label"], value(r["value"], r.get("value_tolerance", limit(r["value"]))), pct(r["share_of_first_best"]))
            for r in [*self.rows, *self.extra_rows]
        ]
        p = self.posted
        if p.get("value") is None:
            lines.append((f"best posted price ({p.get('note', 'not computed')})", "n/a", "n/a"))
        else:
            price = "no trade" if p["price"] is None else f"p = {p['price']:.6g}"
            lines.append(
                (
                    f"best posted price ({price})",
                    value(p["value"], p.get("value_tolerance", limit(p["value"]))),
                    pct(p["share_of_first_best"]),
                )
            )
        lines.append(
            ("first best", value(self.first_best, limit(self.first_best)), "100.00%" if self.first_best > 0 else "n/a")
        )
        head = ("mechanism", "value", "of first best")
        w = [max(len(r[j]) for r in [*lines, head]) for j in range(3)]
        out = [
            self.description,
            f"veto: {', '.join(self.vetoes)}",
            f"{head[0]:<{w[0]}}  {head[1]:>{w[1]}}  {head[2]:>{w[2]}}",
            f"{'-' * w[0]}  {'-' * w[1]}  {'-' * w[2]}",
        ]
        out += [f"{a:<{w[0]}}  {b:>{w[1]}}  {c:>{w[2]}}" for a, b, c in lines]
        certs = [
            (r["label"], r["certificate"]) for r in [*self.rows, *self.extra_rows] if r.get("certificate") is not None
        ]
        for label, c in certs:
            if c.get("proven"):
                out.append(f"{label}: proven optimal in exact arithmetic, value {c['value']} = {c['value_float']:.17g}")
            else:
                out.append(f"{label}: not certified ({c.get('reason', '')})")
        if self.extra_rows:
            out += [
                "individual transfers: each agent its own transfer (BIC, interim IR, every agent a veto);",
                "ex-ante IR: each veto holder's expected payoff over its own types.",
            ]
        out += [
            "value: the designer's expected profit; BIC/DSIC: Bayesian / dominant-strategy IC (DSIC against",
            "every profile of the others); interim IR: every type; ex post IR: every profile, zero-probability",
            "profiles included; first best: the expected gains from trade.",
        ]
        return "\n".join(out)


def _certify_row(instance: Instance, mech) -> dict:
    """The exact certificate of one variant as JSON (or why it has none): proven, or CheckError."""
    from .errors import InstanceError as _InstanceError
    from .exact import prove

    variant = replace(instance, mechanism=mech, agents=instance.agents)
    try:
        return prove(variant).to_dict()
    except _InstanceError as err:  # above the exact path's size limit: say so, row uncertified
        return {"method": "exact", "proven": False, "reason": str(err.message if hasattr(err, "message") else err)}


def compare(instance: Instance, *, certify: str = "float") -> CompareTable:
    """Profit under BIC/DSIC x interim/ex post IR, individual transfers, the best posted price and
    the first best.

    The instance's veto set is kept; the objective is profit. The four IC x participation rows
    share one transfer in the fixed shares; the row "individual transfers" (BIC, interim IR,
    every agent a veto) gives each agent its own transfer (:func:`lpmech.general.solve_individual`)
    and, with independent types, is cross-checked against g(σ) (:func:`g_at_shares`). Every LP solution is audited
    (see :func:`lpmech.general.solve_general`).

    Parameters
    ----------
    instance : Instance
        Independent or correlated types, either side.

    certify : {"float", "exact"}
        ``"exact"``: prove every row the exact path can handle (:func:`lpmech.exact.prove`); a
        row's ``certificate`` says whether it is proven, and why not (a grid above the exact
        path's size limit). A row whose exact bounds do not meet raises CheckError.

    Returns
    -------
    CompareTable
        Values in the instance's money units.

    Raises
    ------
    InstanceError
        For bad input (not an Instance, a veto set that makes the LP unbounded).
    SolverError, CheckError
        If HiGHS reports no optimum or an audit fails (see :func:`lpmech.general.solve_general`).

    Examples
    --------
    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    >>> table = compare(inst)
    >>> [round(r["value"], 4) for r in table.rows], table.posted["value"], table.first_best
    ([0.3125, 0.3125, 0.3125, 0.25], 0.25, 0.5)
    >>> [(r["label"], round(r["value"], 4)) for r in table.extra_rows]
    [('individual transfers', 0.3125), ('BIC, ex-ante IR', 0.5)]
    """
    if certify not in ("float", "exact"):
        raise InstanceError(f"certify must be 'float' or 'exact', got {certify!r}", field="certify")
    fb = first_best(instance)
    rows: list[dict] = []
    vetoes: tuple[str, ...] = ()
    gamma = getattr(instance, "interdependence", None)
    interdependent = gamma is not None and bool(np.any(gamma != 0))
    for ic, participation in VARIANTS:
        if interdependent and ic == "dominant":  # DSIC is not defined with interdependent values
            ic = "ex-post"
        mech = replace(instance.mechanism, ic=ic, participation=participation, pareto=None, transfers="shares")
        res = solve_general(instance, mechanism=mech)
        vetoes = res.vetoes
        rows.append(
            {
                "label": f"{_IC_LABEL[ic]}, {_LABEL[participation]}",
                "ic": ic,
                "participation": participation,
                "value": res.value,
                "share_of_first_best": _share(res.value, fb),
                "value_tolerance": CHECK_RTOL * res.checks["value_magnitude"],
            }
        )
        if certify == "exact":
            rows[-1]["certificate"] = _certify_row(instance, mech)
    base = replace(instance.mechanism, ic="bayesian", participation="interim", pareto=None)
    extra = [_individual_row(replace(instance, mechanism=base, agents=instance.agents), fb)]
    ante = replace(base, participation="ex-ante", transfers="shares")
    res = solve_general(instance, mechanism=ante)
    extra.append(
        {
            "label": "BIC, ex-ante IR",
            "ic": "bayesian",
            "participation": "ex-ante",
            "value": res.value,
            "share_of_first_best": _share(res.value, fb),
            "value_tolerance": CHECK_RTOL * res.checks["value_magnitude"],
        }
    )
    if certify == "exact":
        extra[0]["certificate"] = {
            "method": "exact",
            "proven": False,
            "reason": "the exact certificate covers one shared transfer only",
        }
        extra[1]["certificate"] = {
            "method": "exact",
            "proven": False,
            "reason": "the exact certificate covers interim and ex-post participation only",
        }
    if interdependent:  # lpmech.posted prices private values only
        return CompareTable(
            instance.describe(),
            instance.side,
            vetoes,
            rows,
            {
                "price": None,
                "value": None,
                "share_of_first_best": None,
                "note": "not computed with interdependent values",
            },
            fb,
            extra,
        )
    pp = best_posted_price(instance)
    posted = {**pp.to_dict(), "share_of_first_best": _share(pp.value, fb)}
    if pp.price is not None:  # the posted profit (d - p)·P(trade) is summed from |d| and |p| per trade
        posted["value_tolerance"] = limit((abs(instance.designer_value) + abs(pp.price)) * pp.trade_probability)
    return CompareTable(instance.describe(), instance.side, vetoes, rows, posted, fb, extra)


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
