"""The result object of :func:`lpmech.solve`, its JSON form and its readable summary.

Like :class:`scipy.optimize.OptimizeResult` it carries status and diagnostics beside the
answer, and like POT's solvers it returns the dual (the weights ω) beside the primal plan x.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .instance import Instance
from .posted import PostedPrice

__all__ = ["SolveResult", "fmt", "units_line"]


def fmt(v: float | None, digits: int = 6) -> str:
    """A number with ``digits`` significant digits (``-`` for None)."""
    if v is None:
        return "-"
    if v == 0:
        return "0"
    return f"{v:.{digits}g}"


def units_line(instance: Instance) -> str:
    """One line saying what the types and prices of a report are measured in.

    Types are per share: θ_i, agent i's cost (buy side) or value (sell side) of the whole good,
    so that its payoff is σ_i(m − θ_i x) (buy) or σ_i(θ_i x − m) (sell). A file with
    ``types = "total"`` gives v_i = σ_i θ_i, the total for agent i's share; lpmech reports
    θ_i = v_i / σ_i. The designer's value, prices and transfers are totals for the whole good.
    """
    kind = "costs" if instance.side == "buy" else "values"
    if getattr(instance, "types", "per-share") == "total":
        src = f"the file's total {kind} of each agent's share divided by its share"
    else:
        src = "as in the file"
    return (f"units: types are per-share {kind} θ_i ({src}); "
            f"{'b' if instance.side == 'buy' else 'c'}, prices and transfers are totals for the whole good")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


@dataclass
class SolveResult:
    """The optimal mechanism of an instance, with its weights, diagnostics and checks.

    Attributes
    ----------
    value : float
        The designer's optimal expected profit.
    omega : ndarray
        The LP's weights (duals of the maximin rows): one minimizer of g.
    omega_canonical : ndarray
        The least-norm minimizer of g (symmetric instances get symmetric weights).
    omega_range : ndarray, shape (N, 2)
        For each agent, [min, max] of ω_i over all minimizers of g.
    allocation : ndarray, shape K_1 x ... x K_N
        Trade probability on every profile, in the file's grid order.
    transfer : ndarray, same shape
        Total transfer: designer to group (buy side), group to designer (sell side). Agent i
        receives (buy) or pays (sell) ``share_i * transfer``.
    interim : list of dict
        Per agent: grid, trade probability, expected transfer and payout, utility, virtual
        costs/values raw and ironed, ironing intervals.
    posted : PostedPrice
        The best collective posted price; ``ratio`` = value / posted.value (None if 0).
    checks : dict
        Every cross-check's measured gap (see :mod:`lpmech.checks`); ``passed`` is True.
    """

    instance: Instance
    status: str
    highs_status: str
    value: float
    omega: np.ndarray
    omega_canonical: np.ndarray
    omega_range: np.ndarray
    allocation: np.ndarray
    transfer: np.ndarray
    interim: list[dict]
    posted: PostedPrice
    ratio: float | None
    checks: dict
    solve_seconds: float
    total_seconds: float
    iterations: int
    lp_size: dict
    binding_agent: str
    formulation: str
    method: str
    phi_bar: list[np.ndarray] = field(repr=False, default_factory=list)

    def __repr__(self) -> str:
        from .views import repr_line

        return repr_line(self)

    def _repr_html_(self) -> str:
        from .views import repr_html

        return repr_html(self)

    def to_xarray(self):
        """The mechanism as an :class:`xarray.Dataset` (see :func:`lpmech.views.to_xarray`)."""
        from .views import to_xarray

        return to_xarray(self)

    def interim_frame(self):
        """Per agent and type, the interim quantities as a :class:`pandas.DataFrame`
        (see :func:`lpmech.views.interim_frame`)."""
        from .views import interim_frame

        return interim_frame(self)

    @property
    def success(self) -> bool:
        return self.status == "optimal" and bool(self.checks.get("passed"))

    @property
    def trade_probability(self) -> float:
        return float(np.sum(self.instance.joint_pmf() * self.allocation))

    def to_dict(self) -> dict:
        """JSON-ready dictionary (the keys of ``lpmech solve --json``)."""
        inst = self.instance
        checks = {k: v for k, v in self.checks.items()}
        return _jsonable({
            "status": self.status,
            "side": inst.side,
            "instance": inst.name or inst.source,
            "agents": inst.names,
            "shares": inst.shares,
            "type_units": "per-share",
            "types_in_file": inst.types,
            "formulation": self.formulation,
            "method": self.method,
            "value": self.value,
            "omega": self.omega,
            "omega_canonical": self.omega_canonical,
            "omega_range": self.omega_range,
            "posted_price": {"price": self.posted.price, "value": self.posted.value,
                             "trade_probability": self.posted.trade_probability},
            "ratio": self.ratio,
            "trade_probability": self.trade_probability,
            "binding_agent": self.binding_agent,
            "allocation": self.allocation,
            "transfer": self.transfer,
            "interim": self.interim,
            "checks": checks,
            "highs_status": self.highs_status,
            "lp_size": self.lp_size,
            "iterations": self.iterations,
            "solve_seconds": self.solve_seconds,
            "total_seconds": self.total_seconds,
        })

    def _method_line(self) -> str:
        size = self.lp_size
        if self.method == "lp":
            dropped = size.get("dropped_entries", 0)
            extra = f", {dropped} tiny matrix entries dropped by HiGHS" if dropped else ""
            if size.get("strategy") == "sifting":
                extra += (f"; sifting: {size['sifting_rounds']} rounds, {size['working_columns']:,} columns "
                          f"in the working set, every column priced (violation {size['dual_infeasibility']:.1e})")
            head = (f"method: maximin LP ({size['columns']:,} columns, {size['rows']:,} rows{extra}), "
                    f"HiGHS: {self.highs_status}, {self.iterations} iterations")
        else:
            head = (f"method: structured (g minimized by {size['cutting_planes']} cutting planes, x_ω completed "
                    f"by an LP over {size['tie_profiles']:,} tied profiles, certificate gap "
                    f"{size['certificate_gap']:.1e})")
        return f"{head}, {self.solve_seconds:.3f} s (total with checks {self.total_seconds:.3f} s)"

    def units_line(self) -> str:
        """What the types and prices in the report are measured in."""
        return units_line(self.instance)

    def summary(self) -> str:
        """A readable summary: value, weights with ranges, posted price and ratio, checks."""
        inst = self.instance
        c = self.checks
        dv = f"b = {fmt(inst.buyer_value)}" if inst.side == "buy" else f"c = {fmt(inst.seller_cost)}"
        rule = ("trade iff  Σ ω_i φ̄_i(θ_i) <= b" if inst.side == "buy" else "trade iff  Σ ω_i φ̄_i(θ_i) >= c")
        lines = [
            f"lpmech: {inst.name or inst.source or 'instance'}",
            f"  {inst.describe()}",
            f"  {self.units_line()}",
            f"  {self._method_line()}",
            "",
            f"  optimal expected profit   {fmt(self.value, 8)}",
            f"  probability of trade      {fmt(self.trade_probability, 6)}",
            f"  allocation rule           {rule} ({dv})",
            "",
            "  weights ω                 solver    canonical   range over all optimal ω",
        ]
        width = max(len(n) for n in inst.names)
        for i, name in enumerate(inst.names):
            lo, hi = self.omega_range[i]
            rng = f"[{lo:.6f}, {hi:.6f}]" if hi - lo > 1e-6 else f"unique ({(lo + hi) / 2:.6f})"
            lines.append(f"    {name:<{width}}  share {inst.shares[i]:.4g}".ljust(28)
                         + f"{self.omega[i]:.6f}  {self.omega_canonical[i]:.6f}    {rng}")
        if np.any(self.omega_range[:, 1] - self.omega_range[:, 0] > 1e-6):
            lines.append("    (ties on the grid: the optimal weights form a set; the canonical ω is its"
                         " least-norm member)")
        lines.append(f"  IR binds for: {self.binding_agent} (at its least favourable type)")
        iron = [(row["agent"], row["ironing_intervals"]) for row in self.interim if row["ironing_intervals"]]
        for name, ivs in iron:
            spans = ", ".join(f"[{fmt(a, 4)}, {fmt(b, 4)}]" for a, b in ivs)
            lines.append(f"  ironing: {name} pooled on per-share types {spans}")
        lines.append("")
        if self.posted.price is None:
            lines.append("  best posted price          none profitable (value 0)")
        else:
            lines.append(f"  best posted price          p = {fmt(self.posted.price)}, expected profit "
                         f"{fmt(self.posted.value, 8)}, trade probability {fmt(self.posted.trade_probability, 4)}")
        ratio = "undefined (posted value 0)" if self.ratio is None else fmt(self.ratio, 6)
        lines.append(f"  optimal / posted           {ratio}")
        lines += [
            "",
            "  checks (all passed; tolerance %.1e):" % c["tolerance"],
            f"    audit of (x, m): max IC violation {c['max_ic_violation']:.1e}, "
            f"max IR violation {c['max_ir_violation']:.1e}, profit {fmt(c['values']['audit'], 8)}",
            f"    solver value = V(x) = V(x_ω) = g(ω) = g(ω canonical) = audited profit: "
            f"max gap {c['analytic_gap']:.1e}",
            f"    x = x_ω off the tie set: max gap {c['offtie_mismatch']:.1e} (solver's ω), "
            f"{c['offtie_mismatch_canonical']:.1e} (canonical ω); tie probability {fmt(c['tie_probability'], 4)}",
            f"    support condition gap {c['support_gap']:.1e}; posted-price mechanism audited "
            f"(IC {c['posted_ic_violation']:.1e}, IR {c['posted_ir_violation']:.1e})",
        ]
        return "\n".join(lines)
