"""The best collective posted price for continuous types (the benchmark the optimum is compared with)."""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from .optimise import _Model


# ----------------------------------------------------------------------------- posted prices
def _lower_end(law) -> float:
    """The lower end of a law's support: ppf(0), or a tiny quantile when unbounded below.

    (scipy's beta ppf does not converge at 1e-300 and returns NaN, so ppf(0) comes first.)
    """
    with np.errstate(all="ignore"):
        for q in (0.0, 1e-300, 1e-15):
            v = float(law.ppf(q))
            if math.isfinite(v):
                return v
    raise ValueError("the law's lower quantiles are not finite")


def _posted(model: _Model) -> tuple[float, float]:
    """Best collective posted price in engine form: argmax (b - p) Π F_i(p), and its value.

    A scan in logarithms finds the best region; the first-order condition
    Σ f_i/F_i = 1/(b - p) is then solved by brentq (the price to ~1e-15, not the ~1e-8 a
    direct maximization of a flat function gives).
    """
    laws = [v.law for v in model.virtuals]
    b = model.b
    lo = max(_lower_end(law) for law in laws)
    hi = min(b, max(v.hi for v in model.virtuals))  # above every top type raising p only loses
    if not lo < b:
        return math.nan, 0.0

    def log_profit(p):
        p = np.atleast_1d(np.asarray(p, dtype=float))
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log(b - p) + sum(law.logcdf(p) for law in laws)
        return np.where(np.isnan(out), -np.inf, out)

    def foc(p):
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(sum(np.exp(np.log(law.pdf(p)) - law.logcdf(p)) for law in laws) - 1.0 / (b - p))

    t = np.unique(np.concatenate([np.linspace(0, 1, 4001), np.logspace(-12, 0, 200), 1 - np.logspace(-12, 0, 200)]))
    grid = lo + (hi - lo) * t[(t > 0) & (t <= 1)]
    grid = grid[grid < b]
    vals = log_profit(grid)
    k = int(np.argmax(vals))
    if not np.isfinite(vals[k]):
        return math.nan, 0.0
    p = float(grid[k])
    left, right = float(grid[max(k - 1, 0)]), float(grid[min(k + 1, grid.size - 1)])
    try:
        if left < right and foc(left) > 0 > foc(right):
            p = optimize.brentq(foc, left, right, xtol=1e-300, rtol=4 * np.finfo(float).eps)
    except (ValueError, ZeroDivisionError):
        pass
    v = float(log_profit(p)[0])
    if v < vals[k]:
        p, v = float(grid[k]), float(vals[k])
    return p, math.exp(v)
