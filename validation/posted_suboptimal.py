"""Claim c (posted-suboptimal): no posted price is optimal once N >= 2 with continuous types
("Buying from a Group", Suboptimality of posted prices), and with N = 1 the posted price is
optimal (Myerson 1981; Riley and Zeckhauser 1983). On coarse grids a posted price can be
optimal: how often, as K shrinks, and one such instance."""

from __future__ import annotations

import numpy as np
import scipy.stats

import lpmech
from lpmech.continuous import solve_continuous
from lpmech.sweep import map_points

from .common import Context, Entry, close, holds

CLAIM = "posted-suboptimal"


def random_law(rng: np.random.Generator) -> tuple[str, dict]:
    kind = rng.integers(3)
    if kind == 0:
        return "uniform", {"loc": float(rng.uniform(0, 0.3)), "scale": float(rng.uniform(0.5, 1.5))}
    if kind == 1:
        return "powerlaw", {"a": float(rng.uniform(0.5, 4.0))}
    return "beta", {"a": float(rng.uniform(1.0, 4.0)), "b": float(rng.uniform(1.0, 4.0))}


def random_continuous(rng: np.random.Generator, n: int) -> lpmech.Instance:
    """N random laws and a buyer's value inside every agent's support (the talks' premise
    θ̲_i < b < θ̄_i: otherwise trade can be sure under both mechanisms and they tie)."""
    laws = [random_law(rng) for _ in range(n)]
    agents = [
        lpmech.Agent.from_distribution(f"a{i + 1}", law, params, points=4) for i, (law, params) in enumerate(laws)
    ]
    supports = [scipy.stats.__dict__[law](**params).support() for law, params in laws]
    lo, hi = max(s[0] for s in supports), min(s[1] for s in supports)
    b = float(lo + (hi - lo) * rng.uniform(0.15, 0.95))
    return lpmech.Instance("buy", agents, buyer_value=b)


def random_grid(rng: np.random.Generator, k: int) -> lpmech.Instance:
    agents = []
    for i in range(2):
        grid = np.round(np.sort(rng.choice(np.arange(1, 20), size=k, replace=False)) / 10, 2)
        probs = rng.dirichlet(np.ones(k))
        agents.append(lpmech.Agent(f"a{i + 1}", grid, probs / probs.sum()))
    return lpmech.Instance("buy", agents, buyer_value=float(np.round(rng.uniform(0.8, 3.0), 2)))


def _values(inst: lpmech.Instance) -> tuple[float, float]:
    res = solve_continuous(inst)
    return res.value, res.posted_value


def run(ctx: Context) -> list[Entry]:
    rng = np.random.default_rng(7)
    out = []
    count = 40 if ctx.quick else 200  # the full run is the reproduction; --quick samples fewer
    family = [random_continuous(rng, int(rng.integers(2, 5))) for _ in range(count)]
    # the sweep machinery: one single-threaded dask worker process per core (lpmech.sweep)
    solved = map_points(_values, family, progress=ctx.progress, desc="posted-suboptimal")
    margins = [(v / p - 1.0, inst, v, p) for inst, (v, p) in zip(family, solved) if p > 0]
    smallest, worst, value, posted = min(margins, key=lambda m: m[0])
    laws = "; ".join(f"{a.distribution['name']}{a.distribution['params']}" for a in worst.agents)
    sizes = {n: sum(inst.n == n for _, inst, _, _ in margins) for n in (2, 3, 4)}
    out.append(
        holds(
            CLAIM,
            f"{len(margins)} random continuous instances, N = 2..4 ({sizes})",
            "optimal > best posted in every instance",
            f"smallest margin {smallest:.3e}",
            smallest > 0,
            "> 0",
            note=f"smallest at b = {worst.buyer_value:.4g}, laws {laws}: optimal {value:.6g}, "
            f"posted {posted:.6g}; median margin {np.median([m[0] for m in margins]):.3g}"
            + ("; --quick samples 40 instances, the full run 200" if ctx.quick else ""),
        )
    )
    for _ in range(5):
        inst = random_continuous(rng, 1)
        res = solve_continuous(inst)
        out.append(
            close(
                CLAIM,
                f"N = 1, {inst.agents[0].distribution['name']}, b = {inst.buyer_value:.3g}",
                1.0,
                res.ratio,
                1e-6,
                note="continuum: posted price optimal",
            )
        )
    # Coarse grids: how often is the best posted price optimal?
    trials = 60 if ctx.quick else 200
    example = None
    freq = {}
    for k in (2, 3, 4, 6, 8, 12):
        hits = 0
        for _ in range(trials):
            inst = random_grid(rng, k)
            res = lpmech.solve(inst)
            if res.posted.value > 0 and res.value - res.posted.value <= 1e-9 * max(1.0, res.value):
                hits += 1
                if example is None or k > example[0]:
                    example = (k, inst, res)
        freq[k] = hits / trials
    out.append(
        holds(
            CLAIM,
            f"coarse grids, N = 2, {trials} random instances per K",
            "finding: share where a posted price is optimal",
            {str(k): v for k, v in freq.items()},
            True,
            note="frequency by K (it falls as grids refine)",
        )
    )
    if example:
        k, inst, res = example
        desc = "; ".join(
            f"{a.name}: grid {a.grid.tolist()}, probs {np.round(a.probs, 4).tolist()}" for a in inst.agents
        )
        out.append(
            close(
                CLAIM,
                f"example with K = {k}: b = {inst.buyer_value}; {desc}",
                res.value,
                res.posted.value,
                1e-9,
                note=f"posted price p = {res.posted.price} is optimal on this grid",
            )
        )
    return out
