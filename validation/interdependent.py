"""Claim interdependent (docs/model.md, section 11): how the weights ω and the value move with γ on
a two-seller family (a finding, with a figure); γ = 0 reproduces the private-values (maximin)
value and weights.

ω in the general LP is each agent's normalised total shadow price of its participation rows
(:attr:`lpmech.general.GeneralResult.participation_weights`). It is checked here against an
independent computation, the one-sided derivatives of the optimal value as seller 1's IR rows are
relaxed: with an outside option r_1 = −σ_1·ε (each row relaxed by ε per unit of share) the value
V(ε) is piecewise linear and concave, and since the participation duals sum to 1 at every dual
optimum (profit objective, no transfer constraints), ω_1 over the optimal duals ranges over
[(V(ε) − V(0))/ε, (V(0) − V(−ε))/ε] for ε small enough; where the range is a point ω_1 is unique.
"""

from __future__ import annotations

import numpy as np

import lpmech
from lpmech.general import first_best, solve_general

from .common import Context, Entry, close, holds, uniform_sellers

CLAIM = "interdependent"
#: The relaxation of seller 1's IR rows (per unit of share, in the money units of b = 1) whose
#: one-sided differences bound ω_1; the value is piecewise linear, and ε = 1e-4 and 1e-6 gave the
#: same slopes to 1e-8 on this family (K = 8, 12).
EPS = 1e-4
#: ω_1 (unitless) must lie in its difference range within this; the differences carry the LP
#: value's error (about 1e-12 here) divided by EPS.
OMEGA_TOL = 1e-6


def _range_of_first_weight(inst: lpmech.Instance, value: float) -> tuple[float, float]:
    """[V'(0+), V'(0−)] of the value as seller 1's IR rows are relaxed by ε (outside option −σ_1·ε)."""
    name, share = inst.names[0], float(inst.shares[0])
    up = solve_general(inst, mechanism={"outside_option": {name: -share * EPS}}).value
    down = solve_general(inst, mechanism={"outside_option": {name: share * EPS}}).value
    return (up - value) / EPS, (value - down) / EPS


def run(ctx: Context) -> list[Entry]:
    k = 8 if ctx.quick else 16
    base = uniform_sellers(2, k, 1.0)
    gammas = np.linspace(0.0, 0.5, 3 if ctx.quick else 6)
    values, fbs = [], []
    for g in gammas:
        inst = lpmech.Instance("buy", base.agents, buyer_value=1.0, interdependence=[[0.0, g], [g, 0.0]])
        values.append(solve_general(inst).value)
        fbs.append(first_best(inst))
    maximin = lpmech.solve(base)
    out = [
        close(
            CLAIM,
            f"uniform pair K={k}, γ = 0",
            maximin.value,
            values[0],
            1e-7,
            note="general LP with γ = 0 against the maximin LP",
        )
    ]
    drops = bool(np.all(np.diff(values) <= 1e-9))
    out.append(
        holds(
            CLAIM,
            f"uniform pair K={k}, γ_12 = γ_21 = γ in {np.round(gammas, 2).tolist()}",
            "a finding: the value as γ grows",
            [round(v, 6) for v in values],
            True,
            note=("non-increasing in γ" if drops else "not monotone in γ")
            + f"; first best {[round(v, 6) for v in fbs]}",
        )
    )

    # asymmetric family: seller 1's cost θ_1 + γ·θ_2 loads on seller 2's type, seller 2's does not
    asym = np.linspace(0.0, 1.0, 3 if ctx.quick else 6)
    a_values, weights, ranges = [], [], []
    for g in asym:
        inst = lpmech.Instance("buy", base.agents, buyer_value=1.0, interdependence=[[0.0, g], [0.0, 0.0]])
        res = solve_general(inst)
        a_values.append(res.value)
        weights.append(res.participation_weights)
        ranges.append(_range_of_first_weight(inst, res.value))
    w1 = np.array([w[0] for w in weights])
    lo, hi = np.array(ranges).T
    inside = bool(np.all((w1 >= lo - OMEGA_TOL) & (w1 <= hi + OMEGA_TOL)))
    span = np.asarray(maximin.omega_range)[0]
    out.append(
        holds(
            CLAIM,
            f"uniform pair K={k}, γ = 0: general LP's participation weights",
            f"in the maximin LP's optimal set, ω_1 in [{span[0]:.6g}, {span[1]:.6g}]",
            [round(float(v), 6) for v in weights[0]],
            bool(span[0] - OMEGA_TOL <= w1[0] <= span[1] + OMEGA_TOL)
            and bool(abs(lo[0] - span[0]) <= OMEGA_TOL and abs(hi[0] - span[1]) <= OMEGA_TOL),
            f"{OMEGA_TOL:g} absolute",
            note=f"value derivative range of ω_1 [{lo[0]:.6g}, {hi[0]:.6g}]"
            + (" (ω not unique at γ = 0: a tie on the grid)" if hi[0] - lo[0] > OMEGA_TOL else " (ω unique)"),
        )
    )
    rises = bool(np.all(np.diff(w1[1:]) >= -OMEGA_TOL))
    unique = [bool(h - l <= OMEGA_TOL) for l, h in zip(lo, hi)]
    out.append(
        holds(
            CLAIM,
            f"uniform pair K={k}, γ_12 = γ in {np.round(asym, 2).tolist()}, γ_21 = 0",
            "a finding: ω (γ: [ω_1, ω_2]) as seller 1's cost loads on seller 2's type",
            {f"{g:.2f}": [round(float(v), 6) for v in w] for g, w in zip(asym, weights)},
            inside,
            f"ω_1 in [V'(0+), V'(0−)] within {OMEGA_TOL:g}",
            note=(
                f"ω_1 {'non-decreasing' if rises else 'not monotone'} in γ > 0; unique (derivative range a point) "
                f"at γ = {[round(float(g), 2) for g, u in zip(asym, unique) if u]}; value {[round(v, 6) for v in a_values]}"
            ),
        )
    )

    from matplotlib.figure import Figure  # no pyplot: no backend or global figure state changed

    fig = Figure(figsize=(9, 3.4))
    ax, bx = fig.subplots(1, 2)
    ax.plot(gammas, values, "o-", label="γ_12 = γ_21 = γ: optimal")
    ax.plot(gammas, fbs, "s--", label="γ_12 = γ_21 = γ: first best")
    ax.plot(asym, a_values, "^-", label="γ_12 = γ, γ_21 = 0: optimal")
    ax.set_xlabel("γ")
    ax.set_ylabel("designer's profit")
    ax.legend(fontsize=7)
    bx.fill_between(asym, lo, hi, color="0.85", label="optimal ω_1 (value derivatives)")
    bx.vlines(asym, lo, hi, color="0.6", lw=4)
    bx.plot(asym, w1, "^-", label="ω_1 (participation duals)")
    bx.set_xlabel("γ_12 (γ_21 = 0)")
    bx.set_ylabel("seller 1's weight ω_1")
    bx.set_ylim(-0.02, 1.02)
    bx.legend(fontsize=7)
    fig.tight_layout()
    ctx.save(
        fig,
        "interdependent.png",
        f"Two uniform sellers (K={k}), BIC and interim IR. Left: value (and first best) against γ. "
        "Right: seller 1's weight ω_1 (its participation duals' share) when its cost is θ_1 + γ·θ_2; "
        "the band is the set of optimal ω_1 from the value's one-sided derivatives.",
    )
    return out
