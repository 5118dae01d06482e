"""Timing and memory measurement for the benchmarks.

:func:`measure` runs a zero-argument callable ``repeats`` times in a fresh child process
(multiprocessing, spawn) and reports the median wall-clock seconds and the child's peak
resident memory (``ru_maxrss``), which includes HiGHS's and cvxpy's native allocations.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import resource
import statistics
import time
from queue import Empty


def _child(module: str, func: str, kwargs: dict, repeats: int, queue) -> None:
    try:
        target = getattr(importlib.import_module(module), func)
        seconds, info = [], {}
        for _ in range(repeats):
            start = time.perf_counter()
            info = target(**kwargs) or {}
            seconds.append(time.perf_counter() - start)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        queue.put(
            {
                "seconds": statistics.median(seconds),
                "all_seconds": seconds,
                "peak_mb": peak_mb,
                "info": info,
                "error": None,
            }
        )
    except Exception as exc:  # noqa: BLE001 (reported in the table, not hidden)
        queue.put({"seconds": None, "all_seconds": [], "peak_mb": None, "info": {}, "error": repr(exc)})


def measure(module: str, func: str, kwargs: dict | None = None, repeats: int = 3, timeout: float = 1800) -> dict:
    """Median seconds and peak memory (MB) of ``module.func(**kwargs)`` in a fresh process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(module, func, kwargs or {}, repeats, queue))
    proc.start()
    try:
        out = queue.get(timeout=timeout)
    except Empty:
        proc.kill()
        out = {"seconds": None, "all_seconds": [], "peak_mb": None, "info": {}, "error": f"timeout {timeout}s"}
    proc.join()
    return out


def write_json(path: str, rows: list[dict]) -> None:
    """Write benchmark rows as JSON (non-JSON values as strings)."""
    import json

    with open(path, "w") as fh:
        json.dump(rows, fh, indent=1, default=str)


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """An aligned text table; ``columns`` is a list of (key, header, format)."""
    cells = [[h for _, h, _ in columns]]
    for r in rows:
        line = []
        for key, _, f in columns:
            v = r.get(key)
            line.append("-" if v is None else (format(v, f) if f else str(v)))
        cells.append(line)
    widths = [max(len(row[j]) for row in cells) for j in range(len(columns))]
    out = ["  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths))) for row in cells]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)
