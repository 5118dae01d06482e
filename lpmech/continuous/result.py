"""The result of :func:`lpmech.continuous.solve_continuous`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


# ----------------------------------------------------------------------------- public API
@dataclass
class ContinuousResult:
    """The continuous-type optimum of an instance (see :func:`lpmech.continuous.solve_continuous`).

    Attributes
    ----------
    status : str
        ``"optimal"``, or a message saying why the answer is less accurate than asked.
    value : float
        The designer's optimal expected profit g(ω*).
    omega : ndarray
        The optimal weights ω* (file order), on the simplex.
    posted_price : float
        The best collective posted price: the total paid for the whole good, agent i receiving
        (buy side) or paying (sell side) its share σ_i of it (nan when no price trades).
    posted_value : float
        The designer's expected profit at that price.
    ratio : float
        value / posted_value (nan when the posted value is 0).
    value_error : float
        Estimated absolute error of ``value``: suboptimality of ω (Newton model or
        Frank-Wolfe gap) + change between two quadrature resolutions + estimated Bromwich
        tail + clamping bound (see the module docstring).
    trade_probability : float
        P(ω*·φ̄ <= b) on the buy side, P(ω*·φ̄ >= c) on the sell side.
    seconds : float
        Wall-clock solve time.
    names : list of str
    side : str
    model : object
        The solver's internal model (ironed virtual costs), kept for the cross-checks of
        :func:`lpmech.checks.continuous_checks`; not part of the public result.
    """

    status: str
    value: float
    omega: np.ndarray
    posted_price: float
    posted_value: float
    ratio: float
    value_error: float
    trade_probability: float
    seconds: float
    names: list[str] = field(default_factory=list)
    side: str = "buy"
    model: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """JSON-ready dict (non-finite numbers become None)."""
        num = lambda x: float(x) if x is not None and math.isfinite(x) else None
        return {
            "status": self.status,
            "side": self.side,
            "value": num(self.value),
            "omega": [float(w) for w in self.omega],
            "posted_price": {"price": num(self.posted_price), "value": num(self.posted_value)},
            "ratio": num(self.ratio),
            "value_error": num(self.value_error),
            "trade_probability": num(self.trade_probability),
            "solve_seconds": float(self.seconds),
            "method": "continuous",
            "formulation": "continuous",
        }

    def summary(self) -> str:
        """A readable multi-line summary (value, ω, posted price and ratio, error estimate)."""
        rel = self.value_error / self.value if self.value > 0 else math.nan
        width = max([len(n) for n in self.names] + [1])
        cells = [f"{name:<{width}} {w:.8f}" for name, w in zip(self.names, self.omega)]
        per_line = 1 if len(cells) <= 10 else 4
        lines = [
            f"Continuous types, {self.side} side, {len(self.names)} agent(s): {self.status}",
            f"  optimal value      {self.value:.10g}   (estimated error {self.value_error:.1e}, relative {rel:.1e})",
            "  weights ω",
        ]
        lines += ["    " + "   ".join(cells[k : k + per_line]) for k in range(0, len(cells), per_line)]
        if math.isfinite(self.posted_price):
            lines.append(
                f"  best posted price  {self.posted_price:.8g} for the whole good (each agent paid its "
                f"share of it), value {self.posted_value:.8g}; optimal/posted = {self.ratio:.6g}"
            )
        else:
            lines.append("  best posted price  none (no price trades at a profit)")
        lines.append(f"  trade probability  {self.trade_probability:.6g}")
        lines.append(f"  solved in {self.seconds:.2f} s")
        return "\n".join(lines)
