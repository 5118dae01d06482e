"""Claim h (dominant-vs-bayesian): does dominant-strategy IC or ex-post participation cost the
designer anything on a grid? The general LP (docs/model.md, section 9) answers it numerically for each of
BIC/DSIC x interim/ex-post; whether the values coincide is reported as a finding, not assumed.
What must hold is only the ordering implied by the constraint sets: DSIC <= BIC, ex-post <=
interim, every value >= the best posted price (a posted price is DSIC and ex-post IR) and <=
the first best."""

from __future__ import annotations

import numpy as np

import lpmech
from lpmech.compare import compare

from .common import Context, Entry, holds

CLAIM = "dominant-vs-bayesian"


def _instances(quick: bool):
    k = 6 if quick else 10
    yield lpmech.Instance(
        "buy",
        [lpmech.Agent.from_distribution(f"s{i + 1}", "uniform", {}, k) for i in range(2)],
        buyer_value=1.0,
        name=f"uniform pair, K = {k}, b = 1",
    )
    yield lpmech.Instance(
        "buy",
        [
            lpmech.Agent.from_distribution("uniform", "uniform", {}, k, share=0.6),
            lpmech.Agent.from_distribution("power", "powerlaw", {"a": 2.0}, k, share=0.4),
        ],
        buyer_value=1.2,
        name=f"U[0,1] and F = θ², shares 0.6/0.4, K = {k}, b = 1.2",
    )
    yield lpmech.Instance(
        "sell",
        [lpmech.Agent.from_distribution(f"b{i + 1}", "beta", {"a": 2.0, "b": 2.0}, 4) for i in range(3)],
        seller_cost=0.3,
        name="three buyers Beta(2,2), K = 4, c = 0.3",
    )
    # correlated pair: a joint pmf with positive dependence
    grid = np.linspace(0.1, 0.9, 4)
    joint = np.array(
        [[0.10, 0.05, 0.02, 0.01], [0.05, 0.10, 0.05, 0.02], [0.02, 0.05, 0.10, 0.05], [0.01, 0.02, 0.05, 0.30]]
    )
    yield lpmech.Instance(
        "buy",
        [lpmech.Agent("north", grid), lpmech.Agent("south", grid)],
        buyer_value=1.2,
        joint=joint / joint.sum(),
        name="correlated pair, K = 4, b = 1.2",
    )


def run(ctx: Context) -> list[Entry]:
    out = []
    for inst in _instances(ctx.quick):
        table = compare(inst)
        v = {(r["ic"], r["participation"]): r["value"] for r in table.rows}
        tol = 1e-7 * max(1.0, table.first_best)
        values = {f"{'BIC' if ic == 'bayesian' else 'DSIC'}/{part}": round(val, 8) for (ic, part), val in v.items()}
        ordered = (
            v["dominant", "interim"] <= v["bayesian", "interim"] + tol
            and v["bayesian", "ex-post"] <= v["bayesian", "interim"] + tol
            and v["dominant", "ex-post"] <= min(v["dominant", "interim"], v["bayesian", "ex-post"]) + tol
            and min(v.values()) >= table.posted["value"] - tol
            and max(v.values()) <= table.first_best + tol
        )
        out.append(
            holds(
                CLAIM,
                inst.name,
                "DSIC <= BIC, ex-post <= interim, posted <= all <= first best",
                values,
                ordered,
                f"{tol:.1e}",
                note=f"posted {table.posted['value']:.6g}, first best {table.first_best:.6g}",
            )
        )
        dsic_free = abs(v["dominant", "interim"] - v["bayesian", "interim"]) <= tol
        expost_free = abs(v["bayesian", "ex-post"] - v["bayesian", "interim"]) <= tol
        finding = (
            f"DSIC {'costs nothing' if dsic_free else 'costs ' + format(v['bayesian', 'interim'] - v['dominant', 'interim'], '.4g')}; "
            f"ex-post IR {'costs nothing' if expost_free else 'costs ' + format(v['bayesian', 'interim'] - v['bayesian', 'ex-post'], '.4g')}"
        )
        out.append(
            holds(
                CLAIM,
                inst.name,
                "finding: do the values coincide?",
                finding,
                True,
                note="reported, not assumed (docs/model.md, section 9)",
            )
        )
    return out
