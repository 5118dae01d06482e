"""Exact data of an instance, exact scalars, and the :class:`Certificate` result.

Every number of an instance is rational: decimal text in a TOML file is an exact rational
(0.1 is 1/10), and a Python float is the rational it stores (its exact binary value). The
exact path reads an instance through :func:`exact_data`, which takes the exact numbers the
loader kept (``Agent.exact_grid``, ``Instance.exact_per_share_grids``, ... when the instance
has them) and otherwise the floats at their exact binary value.

Scalars are :class:`fractions.Fraction` at the API boundary and python-flint's ``fmpq``
inside (about ten times faster in numpy object arrays); :func:`q` and :func:`frac` convert.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import flint
import numpy as np

from ..errors import InstanceError

__all__ = [
    "ExactData",
    "ExactEngine",
    "Certificate",
    "exact_data",
    "to_fraction",
    "q",
    "frac",
    "qarray",
    "fraction_str",
    "EXACT_MAX_PROFILES",
    "GENERAL_EXACT_MAX_PROFILES",
    "check_exact_size",
]

#: The exact maximin path keeps a few object arrays over the profiles (an fmpq each): above this
#: many profiles it refuses (InstanceError) rather than answer in floats.
EXACT_MAX_PROFILES = 1_000_000
#: The exact general LP solves dense rational basis systems of the size of its binding rows;
#: above this many profiles it refuses.
GENERAL_EXACT_MAX_PROFILES = 1_024

ZERO = flint.fmpq(0)
ONE = flint.fmpq(1)


def to_fraction(value: Any, *, field: str | None = None, agent: str | None = None) -> Fraction:
    """An exact rational from a Fraction, int, fmpq, decimal string, or float (its binary value).

    Raises
    ------
    InstanceError
        For NaN, infinities, booleans and anything that is not a number.
    """
    if isinstance(value, Fraction):
        return value
    if isinstance(value, flint.fmpq):
        return Fraction(int(value.p), int(value.q))
    if isinstance(value, flint.fmpz):
        return Fraction(int(value))
    if isinstance(value, (bool, np.bool_)):
        raise InstanceError(f"must be a number, got {value!r}", field=field, agent=agent)
    if isinstance(value, (int, np.integer)):
        return Fraction(int(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise InstanceError(f"must be finite, got {value!r}", field=field, agent=agent)
        return Fraction(float(value))
    if isinstance(value, str):
        try:
            return Fraction(value)
        except (ValueError, ZeroDivisionError):
            pass
    raise InstanceError(f"must be a number, got {type(value).__name__} {value!r}", field=field, agent=agent)


def q(value: Any) -> flint.fmpq:
    """An fmpq from anything :func:`to_fraction` accepts."""
    if isinstance(value, flint.fmpq):
        return value
    f = to_fraction(value)
    return flint.fmpq(f.numerator, f.denominator)


def frac(value: flint.fmpq) -> Fraction:
    """A Fraction from an fmpq (or anything :func:`to_fraction` accepts)."""
    return to_fraction(value)


def qarray(values: Any) -> np.ndarray:
    """A numpy object array of fmpq with the shape of ``values`` (nested lists or arrays)."""
    arr = np.asarray(values, dtype=object)
    out = np.empty(arr.shape, dtype=object)
    flat_in, flat_out = arr.ravel(), out.reshape(-1)
    for k, v in enumerate(flat_in):
        flat_out[k] = q(v)
    return out


def fraction_str(value: Fraction | None) -> str | None:
    """``"15/512"`` (or ``"3"`` for an integer); None stays None."""
    if value is None:
        return None
    return str(value)


def _normalized(values: Sequence[Fraction]) -> tuple[Fraction, ...]:
    total = sum(values, Fraction(0))
    return tuple(v / total for v in values)


@dataclass(frozen=True)
class ExactEngine:
    """The buy-side engine form in exact arithmetic (fmpq object arrays).

    Sell side = buy side with types negated and grids reversed, b = −c (docs/model.md, section 1).
    """

    grids: tuple[np.ndarray, ...]  # increasing per-share costs, fmpq
    probs: tuple[np.ndarray, ...] | None  # marginal pmfs, fmpq (None when correlated)
    joint: np.ndarray | None  # joint pmf, fmpq (None when independent)
    b: flint.fmpq
    flip: bool

    @property
    def n(self) -> int:
        return len(self.grids)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(g.size for g in self.grids)

    def to_user(self, arr: np.ndarray, *, negate: bool = False) -> np.ndarray:
        """An engine array over profiles in the file's order (every axis reversed on the sell side)."""
        if not self.flip:
            return arr
        out = arr[(slice(None, None, -1),) * arr.ndim]
        return -out if negate else out

    def from_user(self, arr: np.ndarray, *, negate: bool = False) -> np.ndarray:
        """The inverse of :meth:`to_user` (the same map: reversal and negation are involutions)."""
        return self.to_user(arr, negate=negate)


@dataclass(frozen=True)
class ExactData:
    """An instance's numbers as exact rationals (user form, the file's grid order).

    Attributes
    ----------
    side : {"buy", "sell"}
    names : tuple of str
    shares : tuple of Fraction
        Summing to exactly 1.
    grids : tuple of tuple of Fraction
        Per-share types, increasing.
    probs : tuple of tuple of Fraction or None
        Marginal pmfs (each summing to exactly 1); None when the instance gives a joint pmf.
    joint : ndarray of Fraction or None
        The joint pmf (object array, shape K_1 x ... x K_N, summing to exactly 1).
    designer_value : Fraction
        b on the buy side, c on the sell side.
    source : str or None
    exact_input : bool
        True when the instance supplied its exact numbers; False when floats were taken at
        their exact binary value (and pmfs and shares divided by their exact sums).
    """

    side: str
    names: tuple[str, ...]
    shares: tuple[Fraction, ...]
    grids: tuple[tuple[Fraction, ...], ...]
    probs: tuple[tuple[Fraction, ...], ...] | None
    joint: np.ndarray | None
    designer_value: Fraction
    source: str | None = None
    exact_input: bool = False

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(g) for g in self.grids)

    @property
    def n_profiles(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def independent(self) -> bool:
        return self.joint is None

    @property
    def sign(self) -> int:
        """+1 on the buy side, −1 on the sell side (agent payoff σ_i·sign·(m − θ_i x))."""
        return 1 if self.side == "buy" else -1

    def joint_pmf(self) -> np.ndarray:
        """The pmf over profiles as an fmpq object array (outer product when independent)."""
        if self.joint is not None:
            return qarray(self.joint)
        out = np.array(ONE, dtype=object).reshape(())
        for p in self.probs:
            out = np.multiply.outer(out, qarray(p))
        return out

    def engine(self) -> ExactEngine:
        """The buy-side engine form (sell side: types negated, grids reversed, b = −c)."""
        grids = tuple(qarray(g) for g in self.grids)
        probs = None if self.probs is None else tuple(qarray(p) for p in self.probs)
        joint = None if self.joint is None else qarray(self.joint)
        if self.side == "buy":
            return ExactEngine(grids, probs, joint, q(self.designer_value), False)
        grids = tuple(-g[::-1] for g in grids)
        probs = None if probs is None else tuple(p[::-1].copy() for p in probs)
        if joint is not None:
            joint = joint[(slice(None, None, -1),) * joint.ndim].copy()
        return ExactEngine(grids, probs, joint, -q(self.designer_value), True)


def _get(obj: Any, name: str) -> Any:
    """An exact attribute of the instance, or None if this version of Instance has none."""
    return getattr(obj, name, None)


def exact_data(instance) -> ExactData:
    """The exact numbers of an instance.

    Uses ``Instance.exact_per_share_grids``, ``Instance.exact_shares``,
    ``Instance.exact_designer_value``, ``Instance.exact_joint`` and ``Agent.exact_probs`` when
    the instance has them (the loader read the file's decimal text exactly); otherwise every
    float at its exact binary value, with each pmf and the shares divided by their exact sum
    (the float validation accepted them within a tolerance; the exact model needs sums of 1).

    Parameters
    ----------
    instance : lpmech.Instance

    Returns
    -------
    ExactData

    Examples
    --------
    >>> import lpmech
    >>> inst = lpmech.Instance("buy", [lpmech.Agent("a", [0.25, 0.75], [0.5, 0.5])], buyer_value=0.1)
    >>> exact_data(inst).designer_value      # a Python float: its binary value
    Fraction(3602879701896397, 36028797018963968)
    """
    agents = instance.agents
    names = tuple(a.name for a in agents)
    exact = True

    shares = _get(instance, "exact_shares")
    if shares is None:
        exact = False
        if all(a.share is not None for a in agents):
            shares = _normalized([to_fraction(a.share, field="share", agent=a.name) for a in agents])
        else:
            shares = tuple(Fraction(1, len(agents)) for _ in agents)
    shares = tuple(to_fraction(s, field="share") for s in shares)

    grids = _get(instance, "exact_per_share_grids")
    if grids is None:
        exact = False
        grids = []
        for a, s in zip(agents, shares):
            g = [to_fraction(v, field="grid", agent=a.name) for v in np.asarray(a.grid).tolist()]
            if instance.types == "total":
                g = [v / s for v in g]
            grids.append(g)
    grids = tuple(tuple(to_fraction(v, field="grid") for v in g) for g in grids)

    dv = _get(instance, "exact_designer_value")
    if dv is None:
        exact = False
        dv = instance.buyer_value if instance.side == "buy" else instance.seller_cost
    dv = to_fraction(dv, field="buyer_value" if instance.side == "buy" else "seller_cost")

    joint: np.ndarray | None = None
    probs: tuple[tuple[Fraction, ...], ...] | None = None
    if instance.joint is not None:
        ej = _get(instance, "exact_joint")
        if ej is None:
            exact = False
            arr = np.asarray(instance.joint, dtype=float)
            flat = [to_fraction(v, field="joint.probs") for v in arr.ravel().tolist()]
            total = sum(flat, Fraction(0))
            joint = np.empty(arr.shape, dtype=object)
            joint.reshape(-1)[:] = [v / total for v in flat]
        else:
            arr = np.asarray(ej, dtype=object)
            joint = np.empty(arr.shape, dtype=object)
            joint.reshape(-1)[:] = [to_fraction(v, field="joint.probs") for v in arr.ravel().tolist()]
    else:
        marginals: list[tuple[Fraction, ...]] = []
        for a in agents:
            ep = _get(a, "exact_probs")
            if ep is None:
                exact = False
                marginals.append(
                    _normalized([to_fraction(v, field="probs", agent=a.name) for v in np.asarray(a.probs).tolist()])
                )
            else:
                marginals.append(tuple(to_fraction(v, field="probs", agent=a.name) for v in ep))
        probs = tuple(marginals)
    return ExactData(
        side=instance.side,
        names=names,
        shares=shares,
        grids=grids,
        probs=probs,
        joint=joint,
        designer_value=dv,
        source=instance.source,
        exact_input=exact,
    )


def check_exact_size(n_profiles: int, limit: int, what: str, source: str | None = None) -> None:
    """Raise :class:`InstanceError` naming ``limit`` when ``n_profiles`` exceeds it."""
    if n_profiles > limit:
        raise InstanceError(
            f"the exact certificate of the {what} handles at most {limit:,} profiles; "
            f"this grid has {n_profiles:,} (no float answer is given in its place)",
            field="agents",
            source=source,
        )


def _num(v: Fraction | None) -> float | None:
    return None if v is None else float(v)


@dataclass
class Certificate:
    """A proof (or an attempt) that a value is the optimum.

    Attributes
    ----------
    method : {"exact", "float"}
        Rational arithmetic, or floating point within a tolerance.
    proven : bool
        True iff ``lower == upper`` (exact) or their gap is within the float tolerance.
    value : Fraction or None
        The certified value when proven; otherwise the best lower bound found.
    lower : Fraction or None
        The value of a feasible mechanism, computed exactly (None if none was found).
    upper : Fraction or None
        A dual bound no feasible mechanism exceeds (None if none was found).
    gap : Fraction or None
        ``upper − lower`` (None if either is missing).
    seconds : float
        Wall time of the certificate.
    formulation : {"maximin", "general"}
    omega : tuple of Fraction or None
        The exact weights ω (maximin path).
    checks : dict
        The exact checks behind the bounds (violations as Fractions, booleans).
    reason : str
        Why the certificate is not proven ("" when it is).
    allocation, transfer : ndarray of Fraction or None
        The exact mechanism (file order, JSON sign of the transfer), when computed.
    """

    method: str
    proven: bool
    value: Fraction | None
    lower: Fraction | None
    upper: Fraction | None
    gap: Fraction | None
    seconds: float
    formulation: str = "maximin"
    omega: tuple[Fraction, ...] | None = None
    checks: dict = field(default_factory=dict)
    reason: str = ""
    allocation: np.ndarray | None = field(default=None, repr=False)
    transfer: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_bounds(
        cls,
        lower: Fraction | None,
        upper: Fraction | None,
        *,
        seconds: float,
        formulation: str,
        reason: str = "",
        **extra,
    ) -> Certificate:
        """An exact certificate from two bounds: proven iff both exist, agree, and no reason is given."""
        gap = None if lower is None or upper is None else upper - lower
        proven = gap == 0 and not reason
        if gap is not None and gap != 0 and not reason:
            reason = f"the exact bounds differ by {gap}"
        if lower is None and not reason:
            reason = "no exactly feasible mechanism"
        if upper is None and not reason:
            reason = "no finite exact dual bound"
        return cls(
            method="exact",
            proven=proven,
            value=lower,
            lower=lower,
            upper=upper,
            gap=gap,
            seconds=seconds,
            formulation=formulation,
            reason="" if proven else reason,
            **extra,
        )

    def to_dict(self) -> dict:
        """JSON-ready: each exact number as a fraction string beside its float.

        Examples
        --------
        >>> c = Certificate.from_bounds(Fraction(15, 512), Fraction(15, 512), seconds=0.1, formulation="maximin")
        >>> d = c.to_dict(); d["value"], d["value_float"], d["proven"]
        ('15/512', 0.029296875, True)
        """
        out: dict[str, Any] = {"method": self.method, "proven": bool(self.proven), "formulation": self.formulation}
        for key in ("value", "lower", "upper", "gap"):
            v = getattr(self, key)
            out[key] = fraction_str(v)
            out[f"{key}_float"] = _num(v)
        if self.omega is not None:
            out["omega"] = [fraction_str(w) for w in self.omega]
            out["omega_float"] = [float(w) for w in self.omega]
        out["checks"] = {k: (fraction_str(v) if isinstance(v, Fraction) else v) for k, v in self.checks.items()}
        out["reason"] = self.reason
        out["seconds"] = float(self.seconds)
        return out

    def summary(self) -> str:
        """One line: the value as a fraction and a decimal, and whether it is proven."""
        if self.proven:
            return (
                f"value {self.value} = {float(self.value):.12g}, proven optimal in "
                f"{'exact arithmetic' if self.method == 'exact' else 'floating point'} ({self.seconds:.2f} s)"
            )
        lo = "-" if self.lower is None else f"{self.lower} = {float(self.lower):.12g}"
        up = "-" if self.upper is None else f"{self.upper} = {float(self.upper):.12g}"
        return f"not proven ({self.reason}); lower {lo}, upper {up} ({self.seconds:.2f} s)"
