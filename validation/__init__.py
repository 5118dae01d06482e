"""Numerical validation of the theory: one module per claim of docs/model.md, section 8.

``lpmech validate [--quick] [--out DIR]`` runs every claim and writes ``results.json`` (a list
of entries ``claim, instance, expected, measured, tolerance, passed``), ``report.md`` (a table,
notes and figures) and PNG figures into DIR.
"""

from __future__ import annotations

import importlib
import os
import time

from .common import Context, Entry

CLAIMS = [
    ("uniform-pair", "uniform_pair"),
    ("posted-ratio", "posted_ratio"),
    ("posted-suboptimal", "posted_suboptimal"),
    ("weight-ranking", "weight_ranking"),
    ("shares-neutral", "shares_neutral"),
    ("grid-convergence", "grid_convergence"),
    ("software-example", "software_example"),
    ("dominant-vs-bayesian", "dominant_vs_bayesian"),
    ("individual-transfers", "individual_transfers"),
    ("interdependent", "interdependent"),
    ("consent", "consent"),
]


def run(out_dir: str, quick: bool = False, claims: list[str] | None = None, progress: bool = True) -> list[Entry]:
    """Run the claims (all by default), write the report into ``out_dir``, return the entries."""
    from tqdm import tqdm

    from . import report

    os.makedirs(out_dir, exist_ok=True)
    ctx = Context(quick=quick, out_dir=out_dir, progress=progress)
    selected = [(c, m) for c, m in CLAIMS if claims is None or c in claims]
    entries: list[Entry] = []
    timings: dict[str, float] = {}
    start = time.perf_counter()
    bar = tqdm(selected, desc="validate", unit="claim", disable=not progress)
    for claim, module in bar:
        bar.set_postfix_str(claim)
        t0 = time.perf_counter()
        mod = importlib.import_module(f"{__name__}.{module}")
        entries += mod.run(ctx)
        timings[claim] = time.perf_counter() - t0
    report.write(out_dir, entries, ctx.figures, time.perf_counter() - start, quick, timings)
    return entries
