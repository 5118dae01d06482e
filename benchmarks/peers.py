"""Peer benchmark: lpmech against the hand-written cvxpy LP, scipy linprog and mechaudit.

``python -m benchmarks --only peers`` runs only the peer table's instances
(:data:`benchmarks.scaling.PEER_SIZES`: N = 2, K = 16, 24, 32, 48, 64 and N = 3, K = 4, 6, 8,
10; uniform, :func:`benchmarks.core.uniform`), every method of :mod:`benchmarks.scaling` on
each, in one run, and prints the peer table (median seconds, the value each found and its
agreement with lpmech, each time as a multiple of lpmech's and of the floor, the targets
beside: lpmech auto at least 100x faster than mechaudit at N = 2, K = 32 and 1000x at K = 64,
growing with K) and the growth table. The full ``scaling`` suite measures the same sizes (and
larger ones) and prints the same peer table; this suite is the quick way to get it (no figure).

Each peer is checked against ``lpmech.solve`` on the instance before it is timed; a peer over
its budget (:data:`benchmarks.scaling.PEER_BUDGET` seconds per run, extrapolated from the
smaller sizes) is reported as "> budget" and not run.
"""

from __future__ import annotations

from . import scaling

CASES = [(n, k, None) for n, k in scaling.PEER_SIZES]


def run(repeats: int = 3, budget: float = 60.0, verbose: bool = True) -> list[dict]:
    """Measure every method on the peer sizes; print the peer and growth tables; return the rows.

    Parameters
    ----------
    repeats : int
        Runs per measurement (median reported).
    budget : float
        Seconds of repeated runs per measurement (at least one run).
    verbose : bool
        Print progress and the tables.

    Returns
    -------
    list of dict
        The rows of :func:`benchmarks.scaling.run` (suite "peers").
    """
    rows = scaling.run(repeats=repeats, cases=CASES, budget=budget, verbose=verbose, figure=False)
    for r in rows:
        r["suite"] = "peers"
    return rows
