"""Claim d (weight-ranking): if φ_i is above φ_j in the reversed hazard-rate order then
ω_i >= ω_j: the agent that is weaker for the designer gets the larger weight ("Buying from a
Group", Ranking weights; docs/model.md, section 8, claim 4). The order is checked numerically from the laws'
continuous virtual costs, then ω is compared on grids (canonical ω) and in the continuum."""

from __future__ import annotations

import itertools

import numpy as np
import scipy.stats

import lpmech
from lpmech.continuous import solve_continuous

from .common import Context, Entry, holds

CLAIM = "weight-ranking"

#: Scale families: a wider law has its virtual costs above a narrower one's in the reversed
#: hazard-rate order (F_H/F_L is constant below the narrower support's top, then rises). Families
#: that differ in shape on one support (F = θ^a with different a; Beta(α, 2) with different α) are
#: NOT ordered in φ (the ratio rises, then falls): the numerical check finds that, so they are
#: not used here.
FAMILIES = [
    ("uniform widths U[0, s]", "uniform", [{"scale": 0.7}, {"scale": 1.0}, {"scale": 1.3}], 1.0),
    ("power laws F = (θ/s)^2", "powerlaw", [{"a": 2.0, "scale": s} for s in (0.7, 1.0, 1.3)], 1.0),
    ("betas Beta(2, 3) on [0, s]", "beta", [{"a": 2.0, "b": 3.0, "scale": s} for s in (0.7, 1.0, 1.3)], 0.8),
]


def virtual_cost_cdf(law: str, params: dict, m: int = 20001):
    """(y, F_φ(y)): the cdf of the continuous virtual cost φ(θ) = θ + F/f on a quantile grid,
    refined geometrically towards both ends, where the cdfs are compared at small values."""
    dist = getattr(scipy.stats, law)(**params)
    ends = np.geomspace(1e-9, 1e-2, m // 4)
    u = np.unique(np.concatenate([ends, np.linspace(1e-2, 1 - 1e-2, m), 1 - ends]))
    theta = dist.ppf(u)
    phi = theta + u / dist.pdf(theta)
    phi = np.maximum.accumulate(phi)  # regular laws: already increasing; guards rounding
    return phi, u


def rh_above(h: tuple, l: tuple, tol: float = 1e-4, floor: float = 1e-3) -> bool:
    """Is φ_H above φ_L in the reversed hazard-rate order? inf supp L <= inf supp H and F_H/F_L
    weakly increasing above inf supp L, checked on a grid of y where F_L >= ``floor`` (below it
    the interpolated cdfs are too coarse to compare), up to a relative ``tol``."""
    yh, uh = h
    yl, ul = l
    if yl[0] > yh[0] + tol:
        return False
    ys = np.union1d(yh, yl)  # both laws' quantile points: dense where mass is
    ys = ys[ys > max(yl[0], yh[0])]
    fh = np.interp(ys, yh, uh, left=0.0, right=1.0)
    fl = np.interp(ys, yl, ul, left=0.0, right=1.0)
    keep = fl >= floor
    ratio = fh[keep] / fl[keep]
    # weakly increasing up to tol: never below (1 - tol) times the largest value so far
    return bool(np.all(ratio >= (1 - tol) * np.maximum.accumulate(ratio)))


GRID_KS = (12, 24, 48, 96)


def _instance(law: str, params_list: list[dict], b: float, k: int, family: str) -> lpmech.Instance:
    agents = [lpmech.Agent.from_distribution(f"{law}{i + 1}", law, p, k) for i, p in enumerate(params_list)]
    return lpmech.Instance("buy", agents, buyer_value=b, name=f"{family}, b = {b:g}")


def run(ctx: Context) -> list[Entry]:
    out = []
    k = GRID_KS[-1]  # the theorem is about the continuum; coarse grids can flip near-equal weights
    for family, law, params_list, b in FAMILIES:
        cdfs = [virtual_cost_cdf(law, p) for p in params_list]
        pairs = [(i, j) for i, j in itertools.permutations(range(len(params_list)), 2) if rh_above(cdfs[i], cdfs[j])]
        inst = _instance(law, params_list, b, k, family)
        grid = lpmech.solve(inst)
        cont = solve_continuous(inst)
        for i, j in pairs:
            label = f"{family}: φ({params_list[i]}) above φ({params_list[j]}), b = {b:g}"
            out.append(
                holds(
                    CLAIM,
                    label + f" [grid K={k}]",
                    "ω_i >= ω_j",
                    [float(grid.omega_canonical[i]), float(grid.omega_canonical[j])],
                    grid.omega_canonical[i] >= grid.omega_canonical[j] - 1e-7,
                    "1e-7",
                )
            )
            out.append(
                holds(
                    CLAIM,
                    label + " [continuum]",
                    "ω_i >= ω_j",
                    [float(cont.omega[i]), float(cont.omega[j])],
                    cont.omega[i] >= cont.omega[j] - 1e-6,
                    "1e-6",
                )
            )
        out.append(
            holds(
                CLAIM,
                f"{family}: the order is total on the family",
                "3 ordered pairs of 3",
                len(pairs),
                len(pairs) >= 3,
                note="pairs found ordered by the numerical check",
            )
        )
        # Finding: from which grid size on does the canonical ω respect every ordered pair?
        held = {}
        for kk in GRID_KS:
            w = (
                grid.omega_canonical
                if kk == k
                else lpmech.solve(_instance(law, params_list, b, kk, family)).omega_canonical
            )
            held[kk] = all(w[i] >= w[j] - 1e-7 for i, j in pairs)
        first = next((kk for kk in GRID_KS if all(held[q] for q in GRID_KS if q >= kk)), None)
        out.append(
            holds(
                CLAIM,
                f"{family}: grids K = {', '.join(map(str, GRID_KS))}",
                "finding: smallest K from which the grid order matches",
                first,
                True,
                note="order held on the grid: "
                + ", ".join(f"K={kk}: {'yes' if v else 'no'}" for kk, v in held.items())
                + f"; continuum ω = {np.round(cont.omega, 5).tolist()}",
            )
        )
    _figure(ctx)
    return out


def _figure(ctx: Context) -> None:
    from matplotlib.figure import Figure  # no pyplot: no backend or global figure state changed

    widths = np.linspace(0.5, 2.0, 7 if ctx.quick else 13)
    grid_w, cont_w = [], []
    for a in widths:
        inst = lpmech.Instance(
            "buy",
            [
                lpmech.Agent.from_distribution("ref", "uniform", {}, 30),
                lpmech.Agent.from_distribution("var", "uniform", {"scale": float(a)}, 30),
            ],
            buyer_value=1.0,
        )
        grid_w.append(lpmech.solve(inst).omega_canonical[1])
        cont_w.append(solve_continuous(inst).omega[1])
    fig = Figure(figsize=(6, 4), constrained_layout=True)
    ax = fig.subplots()
    ax.plot(widths, cont_w, "-", label="continuum")
    ax.plot(widths, grid_w, "o", label="grid LP, K = 30 (canonical ω)")
    ax.axvline(1.0, color="0.7", lw=0.8)
    ax.axhline(0.5, color="0.7", lw=0.8)
    ax.set_xlabel("width a of the second seller's cost law U[0, a] (first: U[0, 1])")
    ax.set_ylabel("weight ω_2 of the second seller")
    ax.set_title("Weaker sellers (higher costs) get larger weights, b = 1")
    ax.legend()
    ctx.save(fig, "weight_ranking.png", "ω of a seller against the width of its cost distribution")
