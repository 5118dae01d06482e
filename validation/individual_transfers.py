"""Claim individual-transfers (docs/model.md, section 10): with individual transfers the optimum
is g(σ) = E[(b − σ·φ̄)_+]; fixed shares cost the designer g(σ) − min_ω g(ω) >= 0."""

from __future__ import annotations

import itertools

import numpy as np

import lpmech
from lpmech.compare import fixed_shares_cost
from lpmech.general import solve_individual
from lpmech.virtual import iron, virtual_costs

from .common import Context, Entry, close, holds, uniform_sellers

CLAIM = "individual-transfers"


def _g_sigma(inst) -> float:
    """E[(b − σ·φ̄)_+] by enumerating the profile grid (buy side)."""
    phis = [iron(virtual_costs(np.asarray(g), np.asarray(p)), np.asarray(p)) for g, p in zip(inst.grids, inst.probs)]
    total = 0.0
    for idx in itertools.product(*[range(len(g)) for g in inst.grids]):
        prob = float(np.prod([p[j] for p, j in zip(inst.probs, idx)]))
        total += prob * max(inst.designer_value - sum(s * f[j] for s, f, j in zip(inst.shares, phis, idx)), 0.0)
    return total


def run(ctx: Context) -> list[Entry]:
    rng = np.random.default_rng(13)
    out = []
    for _ in range(3 if ctx.quick else 8):
        n = int(rng.integers(2, 4))
        k = int(rng.integers(3, 6))
        shares = rng.dirichlet(np.ones(n))
        agents = [
            lpmech.Agent(
                f"a{i}",
                np.sort(rng.choice(np.arange(1, 60), k, replace=False)) / 50.0,
                rng.dirichlet(np.ones(k)),
                share=float(s),
            )
            for i, s in enumerate(shares)
        ]
        inst = lpmech.Instance("buy", agents, buyer_value=float(rng.uniform(0.8, 1.6)))
        lp = solve_individual(inst).value
        out.append(
            close(
                CLAIM,
                f"random N={n} K={k} shares={np.round(shares, 3).tolist()}",
                _g_sigma(inst),
                lp,
                1e-7,
                note="LP with one transfer per agent against g(σ) by enumeration",
            )
        )
    costs = []
    for k in (8, 16) if ctx.quick else (8, 16, 32, 64):
        inst = uniform_sellers(2, k, 1.0)
        info = fixed_shares_cost(inst, lpmech.solve(inst).value)
        costs.append((k, info["cost"]))
        out.append(
            holds(
                CLAIM,
                f"uniform pair K={k}",
                "fixed shares cost 0 (σ = (1/2, 1/2) is an optimal ω)",
                f"{info['cost']:.3g}",
                info["cost"] <= info["tolerance"],
                f"{info['tolerance']:.1e}",
                note=f"g(σ) = {info['individual_value']:.8g}, min_ω g(ω) = {info['shared_value']:.8g}",
            )
        )
    for k in (8,) if ctx.quick else (8, 32):
        agents = [
            lpmech.Agent.from_distribution(f"s{i + 1}", "uniform", {}, k, share=s) for i, s in enumerate((0.7, 0.3))
        ]
        inst = lpmech.Instance("buy", agents, buyer_value=1.0)
        info = fixed_shares_cost(inst, lpmech.solve(inst).value)
        out.append(
            holds(
                CLAIM,
                f"uniform pair, shares (0.7, 0.3), K={k}",
                "fixed shares cost > 0 (a finding)",
                f"{info['cost']:.6g}",
                info["cost"] > info["tolerance"],
                f"{info['tolerance']:.1e}",
                note=f"g(σ) = {info['individual_value']:.8g}, min_ω g(ω) = {info['shared_value']:.8g}",
            )
        )
    return out
