"""The result object of :func:`lpmech.solve`, its JSON form and its readable summary.

Like :class:`scipy.optimize.OptimizeResult` it carries status and diagnostics beside the
answer, and like POT's solvers it returns the dual (the weights ω) beside the primal plan x.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from .instance import Instance
from .posted import PostedPrice

__all__ = [
    "Result",
    "SolveResult",
    "STATUSES",
    "INTERIM_KEYS",
    "JSON_KEYS",
    "interim_row",
    "fmt",
    "units_line",
    "CACHE_MAX_PROFILES",
    "JSON_FULL_MAX_PROFILES",
    "FULL_JSON_WARN_BYTES",
    "full_json_bytes",
]

# ------------------------------------------------------------------ size limits of the result's forms
#: A result holding its mechanism in compact form (``Result.compact``) keeps the ``allocation`` and
#: ``transfer`` it computes on demand when the grid has at most this many profiles (2 x 8 bytes
#: each: 16 MB); above, each access recomputes them (use ``compact.blocks`` or ``user_slab``).
CACHE_MAX_PROFILES = 1_000_000
#: :meth:`Result.to_dict` writes ``allocation`` and ``transfer`` profile by profile up to this many
#: profiles; above, they are null and the ``compact`` entry is the mechanism (``full=True``, and
#: ``lpmech solve --full``, write every profile anyway).
JSON_FULL_MAX_PROFILES = 1_000_000
#: ``lpmech solve --json PATH --full`` warns on standard error when the document will exceed this.
FULL_JSON_WARN_BYTES = 100_000_000
#: Bytes per profile of a written allocation and transfer: about 5 for x ("1.0, ") and 24 for m
#: (17 significant digits, a sign, an exponent, ", "): the estimate of :func:`full_json_bytes`.
_BYTES_PER_PROFILE = 29


def full_json_bytes(profiles: int) -> int:
    """About how many bytes the allocation and transfer of ``profiles`` profiles take in JSON.

    Parameters
    ----------
    profiles : int
        K_1 ... K_N.

    Returns
    -------
    int
        An estimate (about 29 bytes per profile), for the size warning of ``--full``.
    """
    return int(profiles) * _BYTES_PER_PROFILE


def fmt(v: float | None, digits: int = 6) -> str:
    """A number with ``digits`` significant digits (``-`` for None)."""
    if v is None:
        return "-"
    if v == 0:
        return "0"
    return f"{v:.{digits}g}"


def units_line(instance: Instance) -> str:
    """One line saying what the types and prices of a report are measured in.

    Types are per share: θ_i, agent i's cost (buy side) or value (sell side) of the whole good,
    so that its payoff is σ_i(m − θ_i x) (buy) or σ_i(θ_i x − m) (sell). A file with
    ``types = "total"`` gives v_i = σ_i θ_i, the total for agent i's share; lpmech reports
    θ_i = v_i / σ_i. The designer's value, prices and transfers are totals for the whole good.
    """
    kind = "costs" if instance.side == "buy" else "values"
    if getattr(instance, "types", "per-share") == "total":
        src = f"the file's total {kind} of each agent's share divided by its share"
    else:
        src = "as in the file"
    return (
        f"units: types are per-share {kind} θ_i ({src}); "
        f"{'b' if instance.side == 'buy' else 'c'}, prices and transfers are totals for the whole good"
    )


def _finite(obj: Any) -> Any:
    """NaN and ±inf become None (JSON has neither)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _json_ready(obj: Any) -> Any:
    """:func:`_jsonable` and :func:`_finite` in one pass; numpy arrays are converted in bulk (one
    vectorized finiteness test and one ``tolist``), never walked element by element in Python."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc" and obj.size and not np.isfinite(obj).all():
            out = obj.astype(object)
            out[~np.isfinite(obj)] = None
            return out.tolist()
        return obj.tolist()
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return obj.item()
    if isinstance(obj, Fraction):
        return f"{obj.numerator}/{obj.denominator}" if obj.denominator != 1 else str(obj.numerator)
    if isinstance(obj, dict):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    return obj


#: The older name (lpmech.general uses it): the same conversion.
_jsonable = _json_ready


#: Every value ``Result.status`` takes: ``"optimal"`` (solved, every check passed) or
#: ``"inaccurate"`` (the continuum only, and never from :func:`lpmech.solve`, which raises
#: CheckError instead: a :class:`lpmech.continuous.ContinuousResult` whose estimated error is
#: above the requested tolerance, converted by hand with :func:`from_continuous`; the message is in
#: ``info["status_message"]``). A failed solve or check raises instead.
STATUSES = ("optimal", "inaccurate")

#: The keys of every interim row, for every formulation (None where a formulation does not define one).
INTERIM_KEYS = (
    "agent",
    "share",
    "grid",
    "trade_probability",
    "expected_transfer",
    "expected_payout",
    "utility",
    "virtual",
    "virtual_ironed",
    "ironing_intervals",
)

#: The top-level keys of :meth:`Result.to_dict` (``lpmech solve --json``), the same for every formulation;
#: the command line adds ``provenance``. lpmech/schemas/result.schema.json is the contract.
JSON_KEYS = (
    "status",
    "side",
    "instance",
    "agents",
    "shares",
    "type_units",
    "types_in_file",
    "formulation",
    "method",
    "mechanism",
    "value",
    "omega",
    "omega_canonical",
    "omega_range",
    "posted_price",
    "ratio",
    "trade_probability",
    "binding_agent",
    "allocation",
    "transfer",
    "compact",
    "interim",
    "checks",
    "certificate",
    "highs_status",
    "lp_size",
    "iterations",
    "value_error",
    "solve_seconds",
    "total_seconds",
    "info",
)


def interim_row(**values) -> dict:
    """One interim row with exactly :data:`INTERIM_KEYS` (missing ones None).

    Parameters
    ----------
    **values
        Any of :data:`INTERIM_KEYS` (per-agent lists over its grid, in the user's units).

    Returns
    -------
    dict
        Every key of :data:`INTERIM_KEYS`, in that order.

    Raises
    ------
    KeyError
        A key that is not an interim key (a programming error, not bad input).
    """
    unknown = set(values) - set(INTERIM_KEYS)
    if unknown:
        raise KeyError(f"not interim keys: {sorted(unknown)}")
    return {k: values.get(k) for k in INTERIM_KEYS}


@dataclass(repr=False)
class Result:
    """The optimal mechanism of an instance, for every formulation (maximin LP, structured,
    general LP, continuum), with its weights, diagnostics, checks and certificate.

    Like :class:`scipy.optimize.OptimizeResult` it carries status and diagnostics beside the
    answer; like POT's ``OTResult`` it returns the dual (the weights ω) beside the primal plan x.
    Fields a formulation does not define are None.

    Attributes
    ----------
    instance : Instance
    status : str
        One of :data:`STATUSES`.
    value : float
        The designer's optimal expected objective (profit; profit + λ·surplus with a Pareto
        weight), in the instance's money units.
    allocation : ndarray, shape K_1 x ... x K_N, or None
        Trade probability on every profile, in the file's grid order (None in the continuum).
    transfer : ndarray, same shape, or None
        Total transfer: designer to group (buy side), group to designer (sell side). Agent i
        receives (buy) or pays (sell) ``share_i * transfer``.
    interim : list of dict
        Per agent, the keys :data:`INTERIM_KEYS` (None where undefined).
    omega : ndarray, shape (N,), or None
        Optimal weights (one minimizer of g); None for the general LP, where the theory gives none.
    omega_canonical : ndarray, shape (N,), or None
        The least-norm minimizer of g (maximin path only).
    omega_range : ndarray, shape (N, 2), or None
        For each agent, [min, max] of ω_i over all minimizers of g (maximin path only).
    posted : PostedPrice or None
        The best collective posted price (None for the general LP); ``ratio`` = value / posted value.
    ratio : float or None
    checks : dict
        Every cross-check's measured value (:mod:`lpmech.checks`), ``limits``, ``report``
        ({name: {gap, limit, passed}}) and ``passed``.
    solve_seconds, total_seconds : float
        Wall time of the core solver, and of the whole solve with its checks.
    formulation : {"maximin", "general", "continuous"}
    method : {"lp", "structured", "general", "continuous"}
    info : dict
        Method-specific details: ``highs_status``, ``iterations``, ``lp_size`` (maximin LP size or
        structured solver's figures, ``method_reason``, ``unit``), ``mechanism`` and ``vetoes``
        (general LP), ``value_error`` (continuum), ``binding_agent``.
    certificate : lpmech.exact.Certificate or None
        ``method="exact"`` with ``certify="exact"`` (proven), else the float one (never ``proven``).
    compact : lpmech.compact.CompactMechanism or None
        The mechanism in the theorem's form (ω, φ̄ per agent, the tie set's completion, M_i and T;
        maximin path). When ``allocation`` / ``transfer`` are given as None they are computed
        from it on each access (kept when the grid has at most :data:`CACHE_MAX_PROFILES`
        profiles); :meth:`to_dict` writes this form instead of the full arrays above
        :data:`JSON_FULL_MAX_PROFILES` profiles.
    """

    instance: Instance
    status: str
    value: float
    allocation: np.ndarray | None
    transfer: np.ndarray | None
    interim: list[dict]
    omega: np.ndarray | None
    omega_canonical: np.ndarray | None
    omega_range: np.ndarray | None
    posted: PostedPrice | None
    ratio: float | None
    checks: dict
    solve_seconds: float
    total_seconds: float
    formulation: str
    method: str
    info: dict = field(default_factory=dict)
    certificate: Any = None
    phi_bar: list[np.ndarray] | None = field(repr=False, default=None)
    #: the formulation's own solution object (GeneralResult, ContinuousResult), None for the maximin path
    native: Any = field(repr=False, default=None)
    #: the mechanism in compact form (lpmech.compact.CompactMechanism), maximin path; see the docstring
    compact: Any = field(repr=False, default=None)
    #: individual transfers (general LP, ``transfers = "individual"``): m_i(θ), shape (N, K_1, ..., K_N),
    #: designer to agent i (buy side) or agent i to designer (sell side), the file's money units;
    #: None with one shared transfer
    agent_transfers: np.ndarray | None = field(repr=False, default=None)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {STATUSES}")

    # ---------------------------------------------------------------- old names
    @property
    def highs_status(self) -> str | None:
        return self.info.get("highs_status")

    @property
    def lp_size(self) -> dict:
        return self.info.get("lp_size", {})

    @property
    def iterations(self) -> int | None:
        return self.info.get("iterations")

    @property
    def binding_agent(self) -> str | None:
        return self.info.get("binding_agent")

    @property
    def mechanism(self):
        return self.info.get("mechanism", self.instance.mechanism)

    @property
    def vetoes(self) -> tuple[str, ...]:
        return tuple(self.info.get("vetoes", self.instance.names))

    @property
    def value_error(self) -> float | None:
        return self.info.get("value_error")

    @property
    def side(self) -> str:
        return self.instance.side

    @property
    def names(self) -> list[str]:
        return list(self.instance.names)

    @property
    def profit(self) -> float:
        return float(self.checks.get("profit", self.value))

    @property
    def surplus(self) -> float | None:
        return self.checks.get("surplus")

    @property
    def posted_price(self) -> float | None:
        return None if self.posted is None else self.posted.price

    @property
    def posted_value(self) -> float | None:
        return None if self.posted is None else self.posted.value

    @property
    def seconds(self) -> float:
        return self.total_seconds

    # ---------------------------------------------------------------- views
    def __repr__(self) -> str:
        from .views import repr_line

        return repr_line(self)

    def _repr_html_(self) -> str:
        from .views import repr_html

        return repr_html(self)

    def to_xarray(self):
        """The mechanism as an :class:`xarray.Dataset` (see :func:`lpmech.views.to_xarray`)."""
        from .views import to_xarray

        return to_xarray(self)

    def interim_frame(self):
        """Per agent and type, the interim quantities as a :class:`pandas.DataFrame`
        (see :func:`lpmech.views.interim_frame`)."""
        from .views import interim_frame

        return interim_frame(self)

    @property
    def success(self) -> bool:
        return self.status == "optimal" and bool(self.checks.get("passed"))

    @property
    def trade_probability(self) -> float | None:
        if "trade_probability" in self.info:
            return self.info["trade_probability"]
        cm = self.compact
        if self.__dict__.get("allocation") is None and cm is not None and cm.profiles > CACHE_MAX_PROFILES:
            # no K^N array: E[x] = Σ_t p_1(t) X_1(t), the first agent's interim trade probability
            row = self.interim[0].get("trade_probability") if self.interim else None
            if row is not None:
                return float(np.dot(self.instance.probs[0], np.asarray(row, dtype=float)))
            return cm.trade_probability()  # block by block
        if self.allocation is None:
            return None
        return float(np.sum(self.instance.joint_pmf() * self.allocation))

    @property
    def profiles(self) -> int | None:
        """K_1 ... K_N (None in the continuum)."""
        if self.compact is not None:
            return self.compact.profiles
        return None if self.instance.is_continuous else int(self.instance.n_profiles)

    def writes_full(self, full: bool | None = None) -> bool:
        """Whether :meth:`to_dict` writes ``allocation`` and ``transfer`` profile by profile.

        Parameters
        ----------
        full : bool or None
            True or False: as asked; None (default): unless the mechanism is held in compact
            form and the grid has more than :data:`JSON_FULL_MAX_PROFILES` profiles.

        Returns
        -------
        bool
        """
        if full is not None:
            return bool(full)
        return self.compact is None or self.compact.profiles <= JSON_FULL_MAX_PROFILES

    def to_dict(self, full: bool | None = None) -> dict:
        """JSON-ready dictionary: the keys :data:`JSON_KEYS` for every formulation (None where
        undefined), validated by lpmech/schemas/result.schema.json.

        Parameters
        ----------
        full : bool or None
            Write ``allocation`` and ``transfer`` over every profile (True), or null with the
            mechanism in its ``compact`` entry (False; only when the result holds one). None
            (default): full up to :data:`JSON_FULL_MAX_PROFILES` profiles. For large grids
            :meth:`json_chunks` writes the full document without holding it in memory.

        Returns
        -------
        dict
        """
        inst = self.instance
        write_full = self.writes_full(full) or self.compact is None
        mech = self.mechanism
        posted = self.posted
        info = {k: v for k, v in self.info.items() if k not in ("mechanism", "vetoes")}
        cert = self.certificate.to_dict() if self.certificate is not None else None
        out = {
            "status": self.status,
            "side": inst.side,
            "instance": inst.name or inst.source,
            "agents": inst.names,
            "shares": inst.shares,
            "type_units": "per-share",
            "types_in_file": inst.types,
            "formulation": self.formulation,
            "method": self.method,
            "mechanism": {
                "ic": mech.ic,
                "participation": mech.participation,
                "veto": list(self.vetoes),
                "objective": "profit" if mech.pareto is None else "pareto",
                "pareto": mech.pareto,
            },
            "value": self.value,
            "omega": self.omega,
            "omega_canonical": self.omega_canonical,
            "omega_range": self.omega_range,
            "posted_price": None
            if posted is None
            else {"price": posted.price, "value": posted.value, "trade_probability": posted.trade_probability},
            "ratio": self.ratio,
            "trade_probability": self.trade_probability,
            "binding_agent": self.binding_agent,
            "allocation": self.allocation if write_full else None,
            "transfer": self.transfer if write_full else None,
            "compact": None if self.compact is None else self.compact.to_dict(arrays=True),
            "interim": self.interim,
            "checks": self.checks,
            "certificate": cert,
            "highs_status": self.highs_status,
            "lp_size": self.info.get("lp_size"),
            "iterations": self.iterations,
            "value_error": self.value_error,
            "solve_seconds": self.solve_seconds,
            "total_seconds": self.total_seconds,
            "info": info,
        }
        if self.agent_transfers is not None:  # optional key: individual transfers only
            out["agent_transfers"] = self.agent_transfers
        return _json_ready(out)

    def json_chunks(self, document: dict | None = None, *, indent: int = 1) -> Iterator[str]:
        """The JSON text of ``document`` with ``allocation`` and ``transfer`` written over every
        profile, piece by piece: one slab (the first agent at one type) at a time, from
        ``compact.user_slab``, so no K^N array is held (``lpmech solve --json PATH --full``).

        Parameters
        ----------
        document : dict, optional
            The document to write (default :meth:`to_dict`); when the result holds a compact
            form its ``allocation`` and ``transfer`` entries are replaced by the full arrays
            computed slab by slab; its other keys are written as they are, in order.
        indent : int
            As for :func:`json.dumps` (the arrays are written without line breaks).

        Returns
        -------
        iterator of str
            Concatenated: the document, whose :func:`json.loads` equals ``to_dict(full=True)``
            (plus any keys ``document`` adds), ending with a newline.

        Raises
        ------
        ValueError
            A number that is not finite outside the arrays (as ``json.dumps(allow_nan=False)``).
        """
        doc = self.to_dict(full=self.compact is None) if document is None else document
        # without a compact form the arrays are stored whole and the document already holds them
        streamed = {} if self.compact is None else {"allocation": 0, "transfer": 1}
        return self._chunks(doc, streamed, indent)

    def _chunks(self, doc: dict, streamed: dict, indent: int) -> Iterator[str]:
        pad = "\n" + " " * indent
        yield "{"
        for j, (key, value) in enumerate(doc.items()):
            yield ("," if j else "") + pad + json.dumps(key) + ": "
            if key in streamed:
                yield from self._profile_array(streamed[key])
            else:
                text = json.dumps(value, indent=indent, allow_nan=False)
                yield text.replace("\n", pad)
        yield "\n}\n"

    def _profile_array(self, which: int) -> Iterator[str]:
        """One of the full arrays as nested JSON lists, slab by slab (0: allocation, 1: transfer)."""
        k1 = self.compact.shape[0]
        yield "["
        for i in range(k1):
            slab = self.compact.user_slab(i)[which]
            values = slab.tolist() if np.isfinite(slab).all() else _finite(slab.tolist())
            yield (", " if i else "") + json.dumps(values, allow_nan=False)
        yield "]"

    def _method_line(self) -> str:
        size = self.lp_size
        if self.method == "lp":
            dropped = size.get("dropped_entries", 0)
            extra = f", {dropped} tiny matrix entries dropped by HiGHS" if dropped else ""
            if size.get("strategy") == "sifting":
                extra += (
                    f"; sifting: {size['sifting_rounds']} rounds, {size['working_columns']:,} columns "
                    f"in the working set, every column priced (violation {size['dual_infeasibility']:.1e})"
                )
            head = (
                f"method: maximin LP ({size['columns']:,} columns, {size['rows']:,} rows{extra}), "
                f"HiGHS: {self.highs_status}, {self.iterations} iterations"
            )
        else:
            head = (
                f"method: structured (g minimized by {size['cutting_planes']} cutting planes, x_ω completed "
                f"by an LP over {size['tie_profiles']:,} tied profiles, certificate gap "
                f"{size['certificate_gap']:.1e})"
            )
        return f"{head}, {self.solve_seconds:.3f} s (total with checks {self.total_seconds:.3f} s)"

    def units_line(self) -> str:
        """What the types and prices in the report are measured in."""
        return units_line(self.instance)

    def summary(self) -> str:
        """A readable summary: value, weights with ranges, posted price and ratio, checks, certificate."""
        if self.formulation == "maximin":
            text = self._maximin_summary()
        else:
            text = self.native.summary()
        return text + "\n" + "\n".join(self.certificate_lines())

    def certificate_lines(self) -> list[str]:
        """The report's lines about the certificate (empty when there is none)."""
        cert = self.certificate
        if cert is None:
            return []
        checks = cert.checks or {}
        # what the proof is about: the LP it proves (consent: which coalition's) and how (closed form)
        about = [f"    {key}: {checks[key]}" for key in ("certifies", "method") if checks.get(key)]
        if checks.get("covers"):
            about.append(f"    covers: {', '.join(checks['covers'])}")
        if cert.method == "exact" and cert.proven:
            v = cert.value
            frac = f"{v.numerator}/{v.denominator}" if v.denominator != 1 else str(v.numerator)
            return [
                "",
                f"  certificate: proven optimal in exact arithmetic ({cert.formulation}): value {frac} "
                f"= {float(v):.17g}; lower = upper bound, exact gap 0 ({cert.seconds:.3f} s)",
                *about,
            ]
        if cert.method == "exact":
            return ["", f"  certificate: exact, NOT proven: {cert.reason}", *about]
        return [
            "",
            f"  certificate: floating point only ({cert.reason or 'no exact proof'}); "
            "'--certify exact' (certify=\"exact\") proves the value in rational arithmetic",
        ]

    def _compact_lines(self) -> list[str]:
        """The report's line on the compact form (large grids only): its size, what JSON writes."""
        cm = self.compact
        if cm is None or self.writes_full(None):
            return []
        return [
            f"  mechanism held compactly  ω, φ̄ and M_i per agent, T, and {cm.ties:,} tie profiles "
            f"(x given there) for {cm.profiles:,} profiles; JSON writes this form (--full: every profile)"
        ]

    def _maximin_summary(self) -> str:
        inst = self.instance
        c = self.checks
        dv = f"b = {fmt(inst.buyer_value)}" if inst.side == "buy" else f"c = {fmt(inst.seller_cost)}"
        rule = "trade iff  Σ ω_i φ̄_i(θ_i) <= b" if inst.side == "buy" else "trade iff  Σ ω_i φ̄_i(θ_i) >= c"
        lines = [
            f"lpmech: {inst.name or inst.source or 'instance'}",
            f"  {inst.describe()}",
            f"  {self.units_line()}",
            f"  {self._method_line()}",
            "",
            f"  optimal expected profit   {fmt(self.value, 8)}",
            f"  probability of trade      {fmt(self.trade_probability, 6)}",
            f"  allocation rule           {rule} ({dv})",
            *self._compact_lines(),
            "",
            "  weights ω                 solver    canonical   range over all optimal ω",
        ]
        width = max(len(n) for n in inst.names)
        for i, name in enumerate(inst.names):
            lo, hi = self.omega_range[i]
            rng = f"[{lo:.6f}, {hi:.6f}]" if hi - lo > 1e-6 else f"unique ({(lo + hi) / 2:.6f})"
            lines.append(
                f"    {name:<{width}}  share {inst.shares[i]:.4g}".ljust(28)
                + f"{self.omega[i]:.6f}  {self.omega_canonical[i]:.6f}    {rng}"
            )
        if np.any(self.omega_range[:, 1] - self.omega_range[:, 0] > 1e-6):
            lines.append(
                "    (ties on the grid: the optimal weights form a set; the canonical ω is its least-norm member)"
            )
        lines.append(f"  IR binds for: {self.binding_agent} (at its least favourable type)")
        iron = [(row["agent"], row["ironing_intervals"]) for row in self.interim if row["ironing_intervals"]]
        for name, ivs in iron:
            spans = ", ".join(f"[{fmt(a, 4)}, {fmt(b, 4)}]" for a, b in ivs)
            lines.append(f"  ironing: {name} pooled on per-share types {spans}")
        lines.append("")
        if self.posted.price is None:
            lines.append("  best posted price          none profitable (value 0)")
        else:
            lines.append(
                f"  best posted price          p = {fmt(self.posted.price)}, expected profit "
                f"{fmt(self.posted.value, 8)}, trade probability {fmt(self.posted.trade_probability, 4)}"
            )
        ratio = "undefined (posted value 0)" if self.ratio is None else fmt(self.ratio, 6)
        lines.append(f"  optimal / posted           {ratio}")
        lines += [
            "",
            f"  checks (all passed; each within {c['tolerance']:.0e} of the magnitude of what it compares):",
            f"    audit of (x, m): max IC violation {c['max_ic_violation']:.1e}, "
            f"max IR violation {c['max_ir_violation']:.1e}, profit {fmt(c['values']['audit'], 8)}",
            f"    solver value = V(x) = V(x_ω) = g(ω) = g(ω canonical) = audited profit: "
            f"max gap {c['analytic_gap']:.1e}",
            f"    x = x_ω off the tie set: max gap {c['offtie_mismatch']:.1e} (solver's ω), "
            f"{c['offtie_mismatch_canonical']:.1e} (canonical ω); tie probability {fmt(c['tie_probability'], 4)}",
            f"    support condition gap {c['support_gap']:.1e}; posted-price mechanism audited "
            f"(IC {c['posted_ic_violation']:.1e}, IR {c['posted_ir_violation']:.1e})",
        ]
        return "\n".join(lines)


def _array_property(name: str, method: str, doc: str) -> property:
    """``allocation`` / ``transfer``: the stored array, else computed from ``compact`` on demand
    (and kept when the grid has at most :data:`CACHE_MAX_PROFILES` profiles)."""

    def get(self):
        value = self.__dict__.get(name)
        compact = self.__dict__.get("compact")
        if value is None and compact is not None:
            value = getattr(compact, method)()
            if compact.profiles <= CACHE_MAX_PROFILES:
                self.__dict__[name] = value
        return value

    def set(self, value):
        self.__dict__[name] = value

    return property(get, set, doc=doc)


# the dataclass's __init__ assigns these through the properties (the value given, None included)
Result.allocation = _array_property(  # type: ignore[assignment]  # (the dataclass field: an array)
    "allocation", "allocation", "Trade probability on every profile (file's grid order), or None; see Result."
)
Result.transfer = _array_property(  # type: ignore[assignment]
    "transfer", "transfer", "Total transfer on every profile (file's money units), or None; see Result."
)

#: The old name of :class:`Result` (one result type for every formulation).
SolveResult = Result


def from_general(general, instance: Instance, *, total_seconds: float) -> Result:
    """The :class:`Result` of a general-LP solution (:class:`lpmech.general.GeneralResult`).

    Parameters
    ----------
    general : lpmech.general.GeneralResult
    instance : Instance
    total_seconds : float

    Returns
    -------
    Result
        No ``omega`` (that is the maximin LP's dual), no posted price; ``info["participation_weights"]``
        the agents' total shadow prices of their participation rows, normalised
        (:attr:`lpmech.general.GeneralResult.participation_weights`; absent when None); ``agent_transfers``
        the individual transfers m_i(θ), shape (N, K_1, ..., K_N) in the file's money units
        (None with one shared transfer).
    """
    inst = general.instance or instance
    interim = [
        interim_row(
            agent=row["agent"],
            share=float(inst.shares[i]),
            grid=row["grid"],
            trade_probability=row["trade_probability"],
            expected_transfer=row["expected_transfer"],
            expected_payout=row["expected_payout"],
            utility=row["utility"],
        )
        for i, row in enumerate(general.interim)
    ]
    info = {
        "highs_status": general.highs_status,
        "mechanism": general.mechanism,
        "vetoes": tuple(general.vetoes),
        "mechanism_options": general.mechanism_dict(),
    }
    weights = getattr(general, "participation_weights", None)
    if weights is not None:  # the agents' weights ω in the general LP (GeneralResult.participation_weights)
        info["participation_weights"] = [float(w) for w in weights]
    return Result(
        instance=inst,
        status=general.status.lower(),
        value=float(general.value),
        allocation=general.allocation,
        transfer=general.transfer,
        interim=interim,
        omega=None,
        omega_canonical=None,
        omega_range=None,
        posted=None,
        ratio=None,
        checks=general.checks,
        solve_seconds=general.solve_seconds,
        total_seconds=total_seconds,
        formulation="general",
        method="general",
        info=info,
        native=general,
        agent_transfers=general.agent_transfers,
    )


def from_continuous(cont, instance: Instance, checks: dict | None = None) -> Result:
    """The :class:`Result` of a solution in the continuum (:class:`lpmech.continuous.ContinuousResult`).

    This is the one place the continuum's fields are mapped to the common ones.

    Parameters
    ----------
    cont : lpmech.continuous.ContinuousResult
    instance : Instance
    checks : dict, optional
        The passed cross-checks of :func:`lpmech.checks.continuous_checks` (as
        :func:`lpmech.solve` runs them). Without them (a result converted by hand) the
        checks hold the error estimate only, ``passed`` is False, and the status is
        ``"inaccurate"`` unless the solver reached its target accuracy.

    Returns
    -------
    Result
        ``allocation``, ``transfer``, ``omega_canonical``, ``omega_range`` None; interim rows
        carry the agent and share only; ``info["value_error"]`` is the estimated error.
    """
    fin = lambda v: float(v) if v is not None and math.isfinite(v) else None
    status = "optimal" if cont.status == "optimal" else "inaccurate"
    price, pvalue = fin(cont.posted_price), fin(cont.posted_value)
    posted = PostedPrice(
        price=price, value=pvalue if pvalue is not None else 0.0, trade_probability=None, allocation=None, transfer=None
    )
    if checks is None:
        checks = {"value_error": float(cont.value_error), "limits": {}, "report": {}, "passed": False}
    checks = dict(checks)
    checks["value_error_relative"] = float(cont.value_error / cont.value) if cont.value > 0 else 0.0
    info = {"value_error": float(cont.value_error), "trade_probability": fin(cont.trade_probability)}
    if status != "optimal":
        info["status_message"] = cont.status
    interim = [interim_row(agent=name, share=float(instance.shares[i])) for i, name in enumerate(instance.names)]
    return Result(
        instance=instance,
        status=status,
        value=float(cont.value),
        allocation=None,
        transfer=None,
        interim=interim,
        omega=np.asarray(cont.omega, dtype=float),
        omega_canonical=None,
        omega_range=None,
        posted=posted,
        ratio=fin(cont.ratio),
        checks=checks,
        solve_seconds=float(cont.seconds),
        total_seconds=float(cont.seconds),
        formulation="continuous",
        method="continuous",
        info=info,
        native=cont,
    )
