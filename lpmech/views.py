"""Views of one result: an xarray Dataset, a pandas DataFrame, HTML and one-line reprs, CSV files.

One solved mechanism, many views. Every function reads the result by
attribute and works for :class:`lpmech.Result` of every formulation (the general LP has no
weights ω, posted price or virtual costs: those entries are NaN or absent; the continuum has no
grid: its frame and dataset are per agent), so the result class delegates to them:

* :func:`to_xarray` — ``allocation`` and ``transfer`` over one dimension per agent (named by the
  agent, coordinates the grid points in the file's units), the profile pmf, and each agent's
  interim quantities over that agent's dimension;
* :func:`interim_frame` — one row per agent and type: the interim allocation (probability of
  trade given the type), expected transfer and payout, utility, virtual and ironed virtual cost
  (sell side: value);
* :func:`repr_html` (for ``_repr_html_`` in notebooks) and :func:`repr_line` (``__repr__``);
* :func:`write_csv` — ``interim.csv`` and ``allocation.csv`` (long form), written atomically.

pandas and xarray are optional dependencies (``pip install 'lpmech[sweep]'``).
"""

from __future__ import annotations

import html
import math
import os
from typing import Any

import numpy as np

__all__ = ["to_xarray", "interim_frame", "repr_html", "repr_line", "write_csv", "csv_outputs", "INTERIM_COLUMNS"]

#: Per-agent interim quantities, by their key in ``result.interim`` (the JSON keys), in table order.
INTERIM_COLUMNS = ("trade_probability", "expected_transfer", "expected_payout", "utility", "virtual", "virtual_ironed")
_DESCRIPTION = {
    "trade_probability": "interim allocation: probability of trade given the agent's type",
    "expected_transfer": "expected total transfer given the agent's type (buy side: designer to group; "
    "sell side: group to designer)",
    "expected_payout": "the agent's share of the expected transfer",
    "utility": "the agent's interim expected payoff (share included)",
    "virtual": "discrete virtual cost (sell side: virtual value)",
    "virtual_ironed": "ironed virtual cost (sell side: virtual value)",
}


def _instance(result):
    inst = getattr(result, "instance", None)
    if inst is None:
        raise ValueError(f"{type(result).__name__} carries no instance: its grids are unknown")
    # a compact result (Result.compact) has an allocation, computed on demand: not formed here
    has_grid = getattr(result, "compact", None) is not None or getattr(result, "allocation", None) is not None
    if not has_grid or not getattr(result, "interim", None):
        raise ValueError(f"{type(result).__name__} has no grid allocation (a continuous-type result?)")
    return inst


def _file_grid(inst, i: int) -> np.ndarray:
    """Agent i's grid in the file's units: per-share types, or totals with ``types = "total"``."""
    grid = np.asarray(inst.grids[i], dtype=float)
    if getattr(inst, "types", "per-share") == "total":
        return grid * float(inst.shares[i])
    return grid


def _type_unit(inst) -> str:
    kind = "cost" if inst.side == "buy" else "value"
    if getattr(inst, "types", "per-share") == "total":
        return f"total {kind} of the agent's share (as in the file)"
    return f"per-share {kind} θ_i (as in the file)"


def _interim_array(row: dict, key: str, size: int) -> np.ndarray:
    v = row.get(key)
    if v is None:
        return np.full(size, np.nan)
    a = np.asarray(v, dtype=float).ravel()
    return a if a.size == size else np.full(size, np.nan)


def _omega(result) -> tuple[np.ndarray | None, np.ndarray | None]:
    w = getattr(result, "omega", None)
    r = getattr(result, "omega_range", None)
    return (
        None if w is None else np.asarray(w, dtype=float).ravel(),
        None if r is None else np.asarray(r, dtype=float).reshape(-1, 2),
    )


def _posted(result) -> tuple[float, float, float]:
    p = getattr(result, "posted", None)
    price = getattr(p, "price", None) if p is not None else None
    value = getattr(p, "value", None) if p is not None else None
    ratio = getattr(result, "ratio", None)
    f = lambda v: math.nan if v is None else float(v)
    return f(price), f(value), f(ratio)


def _trade_probability(result, inst) -> float:
    tp = getattr(result, "trade_probability", None)
    if tp is None:
        tp = float(np.sum(inst.joint_pmf() * np.asarray(result.allocation, dtype=float)))
    return float(tp)


def to_xarray(result):
    """The mechanism as an :class:`xarray.Dataset`.

    Parameters
    ----------
    result : Result (every formulation; the continuum has no grid: see below)
        With ``instance`` set.

    Returns
    -------
    xarray.Dataset
        Dimensions: one per agent, named by the agent, with the agent's grid points in the
        file's units as coordinates (with ``types = "total"`` also the per-share types as the
        coordinate ``"<agent> per share"``); ``agent`` for the weights.
        Variables: ``allocation`` x(θ) and ``transfer`` m(θ) (shape K_1 x ... x K_N),
        ``probability`` (the pmf of the profiles); for each agent and each interim quantity
        the result has (:data:`INTERIM_COLUMNS`), ``"<quantity>_<agent>"`` over the agent's
        dimension; ``omega``, ``omega_lo``, ``omega_hi`` over ``agent`` when the formulation
        has weights. Attributes: ``value``, ``formulation``, ``side``, ``trade_probability``,
        ``posted_price``, ``posted_value``, ``ratio`` (NaN when undefined), ``instance`` and
        the units.

    Raises
    ------
    ValueError
        A result without an instance or without a grid allocation.
    """
    import xarray as xr

    if getattr(result, "formulation", None) == "continuous":
        return _continuum_dataset(result)
    inst = _instance(result)
    names = list(inst.names)
    dims = tuple(names)
    coords: dict[str, Any] = {}
    for i, name in enumerate(names):
        coords[name] = (name, _file_grid(inst, i), {"units": _type_unit(inst)})
        if getattr(inst, "types", "per-share") == "total":
            coords[f"{name} per share"] = (
                name,
                np.asarray(inst.grids[i], dtype=float),
                {"units": "per-share type θ_i = file value / share"},
            )
    data_vars: dict[str, Any] = {
        "allocation": (dims, np.asarray(result.allocation, dtype=float), {"long_name": "trade probability x(θ)"}),
        "transfer": (
            dims,
            np.asarray(result.transfer, dtype=float),
            {
                "long_name": "total transfer m(θ): designer to group (buy side), group to designer "
                "(sell side); agent i's part is share_i · m"
            },
        ),
        "probability": (dims, np.asarray(inst.joint_pmf(), dtype=float), {"long_name": "pmf of the profile θ"}),
    }
    for i, row in enumerate(result.interim):
        name = names[i]
        size = len(inst.grids[i])
        for key in INTERIM_COLUMNS:
            if row.get(key) is not None:
                data_vars[f"{key}_{name}"] = (
                    (name,),
                    _interim_array(row, key, size),
                    {"long_name": _DESCRIPTION[key], "agent": name},
                )
    omega, rng = _omega(result)
    if omega is not None:
        coords["agent"] = ("agent", names)
        data_vars["omega"] = (("agent",), omega, {"long_name": "the LP's weights ω (duals of the maximin rows)"})
        if rng is not None:
            data_vars["omega_lo"] = (("agent",), rng[:, 0], {"long_name": "least ω_i over all optimal weights"})
            data_vars["omega_hi"] = (("agent",), rng[:, 1], {"long_name": "largest ω_i over all optimal weights"})
        can = getattr(result, "omega_canonical", None)
        if can is not None:
            data_vars["omega_canonical"] = (
                ("agent",),
                np.asarray(can, dtype=float),
                {"long_name": "least-norm optimal ω"},
            )
    price, pvalue, ratio = _posted(result)
    attrs = {
        "value": float(result.value),
        "formulation": str(getattr(result, "formulation", "")),
        "side": inst.side,
        "trade_probability": _trade_probability(result, inst),
        "posted_price": price,
        "posted_value": pvalue,
        "ratio": ratio,
        "instance": str(inst.name or inst.source or ""),
        "money_units": "designer's value, prices and transfers are totals for the whole good",
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def interim_frame(result):
    """The interim table: one row per agent and type.

    Parameters
    ----------
    result : Result (every formulation; the continuum has no grid: see below)

    Returns
    -------
    pandas.DataFrame
        Columns ``agent``, ``share``, ``type`` (per-share type θ_i), ``type_in_file`` (the
        grid point as the file states it), ``probability`` (its marginal probability), then
        :data:`INTERIM_COLUMNS`: ``trade_probability`` (interim allocation), ``expected_transfer``,
        ``expected_payout``, ``utility``, ``virtual``, ``virtual_ironed``; NaN where the
        formulation does not give a column (the general LP has no virtual costs). Rows in the
        file's grid order, agent by agent.

    Raises
    ------
    ValueError
        A result without an instance or without a grid allocation.
    """
    import pandas as pd

    if getattr(result, "formulation", None) == "continuous":
        return pd.DataFrame(_continuum_columns(result))
    inst = _instance(result)
    frames = []
    probs = inst.probs
    for i, row in enumerate(result.interim):
        size = len(inst.grids[i])
        cols: dict[str, Any] = {
            "agent": [inst.names[i]] * size,
            "share": np.full(size, float(inst.shares[i])),
            "type": np.asarray(inst.grids[i], dtype=float),
            "type_in_file": _file_grid(inst, i),
            "probability": np.asarray(probs[i], dtype=float),
        }
        for key in INTERIM_COLUMNS:
            cols[key] = _interim_array(row, key, size)
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True)


def _continuum_columns(result) -> dict[str, Any]:
    """A continuum result's per-agent columns: no grid, so one row per agent (type columns NaN)."""
    inst = result.instance
    n = inst.n
    cols: dict[str, Any] = {
        "agent": list(inst.names),
        "share": np.asarray(inst.shares, dtype=float),
        "type": np.full(n, np.nan),
        "type_in_file": np.full(n, np.nan),
        "probability": np.full(n, np.nan),
    }
    for key in INTERIM_COLUMNS:
        cols[key] = np.full(n, np.nan)
    cols["omega"] = np.asarray(result.omega, dtype=float)
    return cols


def _continuum_dataset(result):
    """A continuum result as an :class:`xarray.Dataset` over ``agent`` (weights and shares; no grid)."""
    import xarray as xr

    inst = result.instance
    price, pvalue, ratio = _posted(result)
    tp = getattr(result, "trade_probability", None)
    attrs = {
        "value": float(result.value),
        "formulation": "continuous",
        "side": inst.side,
        "trade_probability": math.nan if tp is None else float(tp),
        "posted_price": price,
        "posted_value": pvalue,
        "ratio": ratio,
        "instance": str(inst.name or inst.source or ""),
        "money_units": "designer's value, prices and transfers are totals for the whole good",
    }
    return xr.Dataset(
        {
            "omega": (("agent",), np.asarray(result.omega, dtype=float), {"long_name": "optimal weights ω"}),
            "share": (("agent",), np.asarray(inst.shares, dtype=float), {"long_name": "share σ_i"}),
        },
        coords={"agent": ("agent", list(inst.names))},
        attrs=attrs,
    )


def _num(v: Any, digits: int = 6) -> str:
    if v is None:
        return "–"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return html.escape(str(v))
    if not math.isfinite(f):
        return "–"
    return "0" if f == 0 else f"{f:.{digits}g}"


def repr_line(result) -> str:
    """One line: type, formulation, instance, sizes, value, ω, posted price and ratio, status.

    Parameters
    ----------
    result : Result (or a formulation's own GeneralResult, ContinuousResult)

    Returns
    -------
    str

    Examples
    --------
    >>> import lpmech
    >>> inst = lpmech.Instance("buy", [lpmech.Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"],
    ...                        buyer_value=1.0)
    >>> repr_line(lpmech.solve(inst))  # doctest: +ELLIPSIS
    '<Result maximin: buy side, 2 agents, grid 2 x 2; value 0.3125; ω (a ..., b ...); posted price 0.75 (value 0.25, ratio 1.25); optimal>'
    """
    inst = getattr(result, "instance", None)
    kind = type(result).__name__
    form = getattr(result, "formulation", None) or ("continuous" if kind == "ContinuousResult" else "")
    names = list(getattr(result, "names", None) or (inst.names if inst is not None else []))
    parts = []
    if inst is not None:
        label = inst.name or (os.path.basename(inst.source) if inst.source else None)
        grid = (
            "continuous"
            if getattr(inst, "is_continuous", False) or getattr(result, "formulation", "") == "continuous"
            else " x ".join(str(k) for k in inst.shape)
        )
        parts.append(
            (f"{label}: " if label else "") + f"{inst.side} side, {inst.n} agent{'s' * (inst.n != 1)}, grid {grid}"
        )
    elif names:
        parts.append(f"{getattr(result, 'side', '?')} side, {len(names)} agents")
    head = f"<{kind} {form}: " + "; ".join(parts) if parts else f"<{kind} {form}"
    items = [f"value {_num(getattr(result, 'value', None))}"]
    omega, _ = _omega(result)
    if omega is not None and names:
        shown = ", ".join(f"{n} {_num(w, 4)}" for n, w in zip(names[:4], omega[:4]))
        items.append(f"ω ({shown}{', ...' if len(names) > 4 else ''})")
    mech = getattr(result, "mechanism", None)
    if mech is not None and form == "general":
        items.append(f"{mech.ic} IC, {mech.participation} participation")
    price, pvalue, ratio = _posted(result)
    if getattr(result, "posted", None) is not None:
        items.append(
            "no profitable posted price"
            if math.isnan(price)
            else f"posted price {_num(price)} (value {_num(pvalue)}, ratio {_num(ratio)})"
        )
    items.append(str(getattr(result, "status", "")))
    return f"{head}; " + "; ".join(items) + ">"


def repr_html(result) -> str:
    """A compact HTML view for notebooks: the key numbers and one row per agent.

    Parameters
    ----------
    result : Result (a continuum result shows its key numbers only)

    Returns
    -------
    str
        An HTML fragment (every text escaped): a caption with the instance, a table of the
        value, trade probability, posted price, ratio, formulation and status, and a table
        of the agents (share, grid size and range, ω and its range where defined, ironing).
    """
    e = html.escape
    inst = getattr(result, "instance", None)
    kind = type(result).__name__
    title = e(str((inst.name or inst.source or "instance") if inst is not None else kind))
    price, pvalue, ratio = _posted(result)
    tp = getattr(result, "trade_probability", None)
    if tp is None and inst is not None and getattr(result, "allocation", None) is not None:
        tp = _trade_probability(result, inst)
    key = [
        ("optimal expected profit", _num(getattr(result, "value", None), 8)),
        ("probability of trade", _num(tp)),
        ("best posted price", "–" if math.isnan(price) else f"{_num(price)} (profit {_num(pvalue, 8)})"),
        ("optimal / posted", _num(ratio)),
        ("formulation", e(str(getattr(result, "formulation", "") or ""))),
        ("status", e(str(getattr(result, "status", "")))),
    ]
    if inst is not None:
        key.insert(0, ("instance", e(inst.describe())))
    rows = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{v}</td></tr>" for k, v in key)
    out = [f"<div class='lpmech-result'><b>lpmech {e(kind)}: {title}</b>", f"<table>{rows}</table>"]
    if inst is not None:
        omega, rng = _omega(result)
        head = ["agent", "share", "grid points", "types (per share)"]
        if omega is not None:
            head += ["ω", "range of optimal ω"]
        head.append("ironing")
        body = []
        for i, name in enumerate(inst.names):
            g = None if inst.agents[i].grid is None else inst.grids[i]  # per-share types
            cells = [e(name), _num(inst.shares[i], 4)]
            cells += ["–", "continuous"] if g is None else [str(len(g)), f"[{_num(g[0], 4)}, {_num(g[-1], 4)}]"]
            if omega is not None:
                cells.append(_num(omega[i]))
                cells.append("–" if rng is None else f"[{_num(rng[i, 0])}, {_num(rng[i, 1])}]")
            interim = getattr(result, "interim", None) or []
            iv = interim[i].get("ironing_intervals") if i < len(interim) else None
            cells.append("–" if not iv else e(", ".join(f"[{_num(a, 4)}, {_num(b, 4)}]" for a, b in iv)))
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        out.append(
            "<table><thead><tr>"
            + "".join(f"<th>{h}</th>" for h in head)
            + "</tr></thead><tbody>"
            + "".join(body)
            + "</tbody></table>"
        )
    out.append("</div>")
    return "\n".join(out)


def csv_outputs(result, directory: str | os.PathLike) -> list[tuple[str, Any]]:
    """The CSV files of :func:`write_csv` as ``(path, write)`` pairs, for
    :func:`lpmech.files.write_outputs` (so a command can commit them with its other outputs).

    Parameters
    ----------
    result : Result (every formulation; the continuum has no grid: see below)
    directory : str or path-like
        Where the files go (not created here).

    Returns
    -------
    list of (str, callable)
        ``interim.csv`` and ``allocation.csv``; ``write(tmp_path)`` writes one file.

    Raises
    ------
    ValueError
        A result without an instance or without a grid allocation.
    """
    directory = os.fspath(directory)
    interim = interim_frame(result)
    ds = to_xarray(result)
    names = list(result.instance.names)
    long = ds[["probability", "allocation", "transfer"]].to_dataframe().reset_index()
    long = long[[*names, "probability", "allocation", "transfer"]]
    return [
        (os.path.join(directory, "interim.csv"), lambda tmp: interim.to_csv(tmp, index=False)),
        (os.path.join(directory, "allocation.csv"), lambda tmp: long.to_csv(tmp, index=False)),
    ]


def write_csv(result, directory: str | os.PathLike) -> dict[str, str]:
    """Write the interim table and the allocation in long form as CSV, together and atomically.

    Parameters
    ----------
    result : Result (every formulation; the continuum has no grid: see below)
    directory : str or path-like
        Created if missing (its parent must exist).

    Returns
    -------
    dict
        ``{"interim": path, "allocation": path}``: ``interim.csv`` (:func:`interim_frame`) and
        ``allocation.csv``, one row per profile: a column per agent (its type in the file's
        units), ``probability``, ``allocation``, ``transfer``.

    Raises
    ------
    lpmech.errors.OutputError
        ``directory`` exists and is not a directory, or cannot be written (field ``--csv``).
    ValueError
        A result without an instance or without a grid allocation.
    """
    from .files import check_output_path, write_outputs

    directory = os.fspath(directory)
    check_output_path(directory, "--csv", directory=True)
    outputs = csv_outputs(result, directory)
    os.makedirs(directory, exist_ok=True)
    write_outputs(outputs)
    return {"interim": outputs[0][0], "allocation": outputs[1][0]}
