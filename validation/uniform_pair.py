"""Claim a (uniform-pair): two U[0,1] sellers get ω = (1/2, 1/2) and trade iff θ_1 + θ_2 <= b,
and in the indirect mechanism (bid s_i, price s_1 + s_2, trade iff b >= price) bidding one's
type is an equilibrium ("Buying from a Group", the example after the main theorem).
"""

from __future__ import annotations

import numpy as np
from scipy import integrate

import lpmech
from lpmech.plot import figure

from .common import Context, Entry, close, holds, uniform_sellers

CLAIM = "uniform-pair"


def bid_payoff(bid: float, cost: float, b: float) -> float:
    """Seller 1's expected payoff (share 1/2) from bidding ``bid`` with cost ``cost`` against a
    truthful seller 2 with cost U[0,1]: E[(bid + θ_2 - cost)/2 · 1{bid + θ_2 <= b}], by quadrature."""
    upper = min(max(b - bid, 0.0), 1.0)
    if upper <= 0:
        return 0.0
    value, _ = integrate.quad(lambda t2: 0.5 * (bid + t2 - cost), 0.0, upper, epsabs=1e-13)
    return value


def run(ctx: Context) -> list[Entry]:
    b = 1.0
    k = 40 if ctx.quick else 120
    inst = uniform_sellers(2, k, b)
    res = lpmech.solve(inst)
    out = [
        close(
            CLAIM,
            inst.name,
            0.5,
            float(res.omega_canonical[0]),
            1e-7,
            relative=False,
            note=f"canonical ω = {np.round(res.omega_canonical, 8).tolist()}; "
            f"optimal set ω_1 in [{res.omega_range[0, 0]:.6f}, {res.omega_range[0, 1]:.6f}]",
        ),
        holds(
            CLAIM,
            inst.name,
            "ω_1 = 1/2 lies in the set of optimal weights",
            [float(res.omega_range[0, 0]), float(res.omega_range[0, 1])],
            res.omega_range[0, 0] - 1e-9 <= 0.5 <= res.omega_range[0, 1] + 1e-9,
        ),
    ]
    # The grid allocation against the line θ_1 + θ_2 <= b: disagreement only in the O(1/K) band.
    t1, t2 = inst.grids
    line = (t1[:, None] + t2[None, :] <= b).astype(float)
    pmf = inst.joint_pmf()
    mismatch = float(np.sum(pmf * np.abs(res.allocation - line)))
    band = np.abs(t1[:, None] + t2[None, :] - b) <= 1.0 / k + 1e-12
    outside = float(np.max(np.abs(res.allocation - line) * ~band))
    out.append(
        close(
            CLAIM,
            inst.name + " (x vs the line, outside the 1/K band)",
            0.0,
            outside,
            1e-9,
            relative=False,
            note=f"probability where x differs from 1{{θ1+θ2<=b}}: {mismatch:.2e} (all within |θ1+θ2-b| <= 1/K)",
        )
    )
    # Indirect mechanism: seller 1's best bid against a truthful seller 2 equals its cost.
    bids = np.linspace(0.0, b, 2001)
    worst = 0.0
    for cost in (0.1, 0.3, 0.5, 0.7, 0.9):
        payoffs = np.array([bid_payoff(s, cost, b) for s in bids])
        best = float(bids[int(np.argmax(payoffs))])
        worst = max(worst, abs(best - cost))
    step = bids[1] - bids[0]
    out.append(
        close(
            CLAIM,
            "indirect mechanism, b = 1 (best bid vs own cost, 5 costs)",
            0.0,
            worst,
            step,
            relative=False,
            note=f"best responses on a bid grid of step {step:g} by quadrature",
        )
    )
    fig = figure(res)
    ctx.save(
        fig,
        "uniform_pair_allocation.png",
        f"Optimal allocation of the uniform pair (K = {k}, b = 1) with the boundary ω·φ̄ = b",
    )
    return out
