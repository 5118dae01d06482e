"""Claim b (posted-ratio): for θ_i iid U[0,1] and b <= 2/N, optimal / best posted value is
(N+1)^N / (N!·2^N) ("Buying from a Group", Quantifying gains of richer pricing): in the
continuum for N = 2, 5, 10, 25 (continuous solver), and on grids for N = 2, 3, 4 (grid LPs
with Richardson extrapolation of the O(1/K) error)."""

from __future__ import annotations

import numpy as np

import lpmech
from lpmech.continuous import solve_continuous

from .common import Context, Entry, close, ratio_formula, uniform_sellers

CLAIM = "posted-ratio"


def run(ctx: Context) -> list[Entry]:
    out = []
    measured = {}
    for n in (2, 5, 10, 25):
        b = 1.0 / n
        inst = uniform_sellers(n, 4, b)        # points are ignored by the continuous solver
        res = solve_continuous(inst)
        measured[n] = res.ratio
        out.append(close(CLAIM, f"continuum, N={n} iid U[0,1], b=1/{n}", ratio_formula(n), res.ratio, 1e-6,
                         note=f"value {res.value:.6e} ± {res.value_error:.1e}, posted {res.posted_value:.6e} "
                              f"at p = {res.posted_price:.6g}; trade probability {res.trade_probability:.3e}"))
    grids = {2: (40, 80), 3: (12, 24), 4: (6, 12)} if ctx.quick else {2: (80, 160), 3: (16, 32), 4: (8, 16)}
    for n, (k1, k2) in grids.items():
        b = 1.0 / n * 1.5
        r = [lpmech.solve(uniform_sellers(n, k, b)).ratio for k in (k1, k2)]
        extrapolated = 2 * r[1] - r[0]
        out.append(close(CLAIM, f"grids K={k1},{k2}, N={n} iid U[0,1], b={b:.3g}", ratio_formula(n), extrapolated,
                         1e-2, note=f"grid ratios {r[0]:.6f} (K={k1}), {r[1]:.6f} (K={k2}); Richardson 2r(2K) - r(K)"))
    _figure(ctx, measured)
    return out


def _figure(ctx: Context, measured: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = np.arange(1, 26)
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    ax.semilogy(ns, [ratio_formula(int(n)) for n in ns], "-", color="0.4", label="(N+1)^N / (N! 2^N)")
    ax.semilogy(list(measured), list(measured.values()), "o", color="crimson", label="continuous solver")
    ax.set_xlabel("number of agents N")
    ax.set_ylabel("optimal / best posted value")
    ax.legend()
    ax.set_title("Posted prices fall behind: iid U[0,1], b = 1/N")
    ctx.save(fig, "posted_ratio.png", "Optimal over best posted value against N (log scale)")
