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

__all__ = ["compare", "CompareTable", "frontier", "Frontier", "DEFAULT_LAMBDAS"]

VARIANTS = (("bayesian", "interim"), ("bayesian", "ex-post"), ("dominant", "interim"), ("dominant", "ex-post"))
_LABEL = {"bayesian": "BIC", "dominant": "DSIC", "interim": "interim IR", "ex-post": "ex post IR"}

#: Default Pareto weights: dense near 0, where the designer's distortion starts to give way,
#: and near 1, the welfare end.
DEFAULT_LAMBDAS = tuple(float(v) for v in np.unique(np.round(np.concatenate(
    [[0.0], np.geomspace(0.005, 0.2, 9), np.linspace(0.25, 0.9, 14), [0.95, 0.98, 0.99, 1.0]]), 6)))


def _share(value: float, fb: float) -> float | None:
    return value / fb if fb > 0 else None


@dataclass
class CompareTable:
    """Values of the four IC x participation variants, the best posted price and the first best.

    ``rows``: one dict per variant (label, ic, participation, value, share_of_first_best, and
    value_tolerance: the bound CHECK_RTOL x (E|d·x| + E|m|) the value was cross-checked to);
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

    def to_dict(self) -> dict:
        return {"instance": self.description, "side": self.side, "veto": list(self.vetoes),
                "rows": self.rows, "posted_price": self.posted, "first_best": self.first_best}

    def summary(self) -> str:
        """An aligned text table; each value carries the digits its cross-check supports (a
        value within its tolerance of 0 prints as 0), and the notions are defined below it."""
        def pct(x):
            return "n/a" if x is None else f"{x:.2%}"

        def value(v, tol):
            return _fmt(v, tol / CHECK_RTOL, digits=8)

        lines = [(r["label"], value(r["value"], r.get("value_tolerance", limit(r["value"]))),
                  pct(r["share_of_first_best"])) for r in self.rows]
        p = self.posted
        price = "no trade" if p["price"] is None else f"p = {p['price']:.6g}"
        lines.append((f"best posted price ({price})", value(p["value"], p.get("value_tolerance", limit(p["value"]))),
                      pct(p["share_of_first_best"])))
        lines.append(("first best", value(self.first_best, limit(self.first_best)),
                      "100.00%" if self.first_best > 0 else "n/a"))
        head = ("mechanism", "value", "of first best")
        w = [max(len(r[j]) for r in [*lines, head]) for j in range(3)]
        out = [self.description, f"veto: {', '.join(self.vetoes)}",
               f"{head[0]:<{w[0]}}  {head[1]:>{w[1]}}  {head[2]:>{w[2]}}",
               f"{'-' * w[0]}  {'-' * w[1]}  {'-' * w[2]}"]
        out += [f"{a:<{w[0]}}  {b:>{w[1]}}  {c:>{w[2]}}" for a, b, c in lines]
        certs = [(r["label"], r["certificate"]) for r in self.rows if r.get("certificate") is not None]
        for label, c in certs:
            if c.get("proven"):
                out.append(f"{label}: proven optimal in exact arithmetic, value {c['value']} = {c['value_float']:.17g}")
            else:
                out.append(f"{label}: not certified ({c.get('reason', '')})")
        out += ["value: the designer's expected profit; BIC/DSIC: Bayesian / dominant-strategy IC (DSIC against",
                "every profile of the others); interim IR: every type; ex post IR: every profile, zero-probability",
                "profiles included; first best: the expected gains from trade."]
        return "\n".join(out)


def _certify_row(instance: Instance, mech) -> dict:
    """The exact certificate of one variant as JSON (or why it has none): proven, or CheckError."""
    from .errors import InstanceError as _InstanceError
    from .exact import prove

    variant = replace(instance, mechanism=mech, agents=instance.agents)
    try:
        return prove(variant).to_dict()
    except _InstanceError as err:          # above the exact path's size limit: say so, row uncertified
        return {"method": "exact", "proven": False, "reason": str(err.message if hasattr(err, "message") else err)}


def compare(instance: Instance, *, certify: str = "float") -> CompareTable:
    """Profit under BIC/DSIC x interim/ex post IR, the best posted price and the first best.

    The instance's veto set is kept; the objective is profit. Every LP solution is audited
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
    """
    if certify not in ("float", "exact"):
        raise InstanceError(f"certify must be 'float' or 'exact', got {certify!r}", field="certify")
    fb = first_best(instance)
    rows: list[dict] = []
    vetoes: tuple[str, ...] = ()
    for ic, participation in VARIANTS:
        mech = replace(instance.mechanism, ic=ic, participation=participation, pareto=None)
        res = solve_general(instance, mechanism=mech)
        vetoes = res.vetoes
        rows.append({"label": f"{_LABEL[ic]}, {_LABEL[participation]}", "ic": ic,
                     "participation": participation, "value": res.value,
                     "share_of_first_best": _share(res.value, fb),
                     "value_tolerance": CHECK_RTOL * res.checks["value_magnitude"]})
        if certify == "exact":
            rows[-1]["certificate"] = _certify_row(instance, mech)
    pp = best_posted_price(instance)
    posted = {**pp.to_dict(), "share_of_first_best": _share(pp.value, fb)}
    if pp.price is not None:     # the posted profit (d - p)·P(trade) is summed from |d| and |p| per trade
        posted["value_tolerance"] = limit((abs(instance.designer_value) + abs(pp.price)) * pp.trade_probability)
    return CompareTable(instance.describe(), instance.side, vetoes, rows, posted, fb)


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
        return {"instance": self.description, "mechanism": self.mechanism, "first_best": self.first_best,
                "rows": self.rows}

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
                ax.annotate(f"λ={r['lambda']:g}", (r["surplus"], r["profit"]), textcoords="offset points",
                            xytext=(5, 5), fontsize=8)
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
    return {"lambda": float(lam), "profit": res.profit, "surplus": res.surplus,
            "welfare": res.profit + res.surplus}


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
    info = {"ic": mech.ic, "participation": mech.participation,
            "veto": list(instance.names if mech.veto is None else mech.veto)}
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
    return (abs(a["profit"] - b["profit"]) <= limit(a["profit"], b["profit"], rtol=rtol)
            and abs(a["surplus"] - b["surplus"]) <= limit(a["surplus"], b["surplus"], rtol=rtol))
