"""The optimal mechanism in the theorem's form: ω, φ̄ per agent, the tie set's completion, M_i and T.

For independent types and the default mechanism the optimal allocation is an index rule,
x(θ) = 1{Σ_i ω_i φ̄_i(θ_i) < b}, except on the tie set where the weighted ironed virtual
costs sum to b (docs/model.md, sections 4-5), and the transfer is a sum of per-agent interim
transfers less a constant, m(θ) = Σ_i M_i(θ_i) − (N − 1) T (section 6). A
:class:`CompactMechanism` holds just these: O(Σ_i K_i + ties) numbers instead of the 2 K^N of
the full arrays, and computes the arrays (or any block of them) on demand, with the engine's
own float operations (:func:`lpmech.profiles.outer_accumulate`), so every profile's x and m are
bitwise those of the full pipeline.

A :class:`lpmech.result.Result` takes one as ``compact=`` (``Result.mechanism`` is the name of
the mechanism options); its ``allocation`` and ``transfer`` are then computed from it on demand.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from .profiles import product
from .tolerances import AUDIT_CHUNK

__all__ = ["CompactMechanism", "FORM"]

#: The ``form`` key of :meth:`CompactMechanism.to_dict`.
FORM = "index-rule"


def _outer_block(
    ufunc: np.ufunc, start: float, vecs: Sequence[np.ndarray], shape: tuple, lo: int, hi: int
) -> np.ndarray:
    """Entries ``lo:hi`` (flat, C order) of ``outer_accumulate(ufunc, start, vecs)``, bitwise.

    Each entry is ufunc(...ufunc(ufunc(start, v_1(θ_1)), v_2(θ_2))..., v_N(θ_N)) combined in agent
    order, as :func:`lpmech.profiles.outer_accumulate` does; only the rows of the trailing axes
    covering ``[lo, hi)`` are computed (at most about 3 (hi - lo) entries).
    """
    count = hi - lo
    if count <= 0:
        return np.empty(0)
    n = len(shape)
    tail, d = product(shape), 0
    while d < n and tail > count:
        tail //= shape[d]
        d += 1
    r0, r1 = lo // tail, -(-hi // tail)
    acc = np.asarray(start, dtype=float)
    if d:
        lead = np.unravel_index(np.arange(r0, r1), shape[:d])
        for a in range(d):
            acc = ufunc(acc, vecs[a][lead[a]])
    for a in range(d, n):
        acc = ufunc.outer(acc, vecs[a]) if acc.ndim else ufunc(acc, vecs[a])
    flat = np.asarray(acc, dtype=float).reshape(-1)
    off = lo - r0 * tail
    return flat[off : off + count]


class CompactMechanism:
    """The optimal mechanism in the theorem's form, without K^N numbers.

    Engine form (buy side, engine units, engine axis order = agent order, every axis reversed
    relative to the user's grid on the sell side; see :meth:`lpmech.Instance.engine` and
    :meth:`lpmech.Instance.to_user`):

    * x(θ) = 1{Σ_i ω_i φ̄_i(θ_i) < b} except at the profiles ``tie_index`` (flat C-order indices
      into the engine grid), where x = ``tie_x`` (the tie set's completion);
    * m(θ) = Σ_i M_i(θ_i) − (N − 1) T (:func:`lpmech.transfers.transfers`: M = ``Transfers.M``,
      T = ``Transfers.constant``).

    Parameters
    ----------
    instance : Instance
        The user's instance (independent types, on grids).
    unit : float
        The engine's unit of money (:func:`lpmech.instance.unit_scale`, a power of two).
    omega : array_like, shape (N,)
        The weights ω (unitless), as the engine used them.
    phi_bar : sequence of array_like, shapes (K_i,)
        Ironed virtual costs in engine form (money per share, in units of ``unit``).
    b : float
        The designer's value in engine form (units of ``unit``).
    tie_index : array_like of int, shape (T,)
        Flat C-order engine indices of the profiles where x departs from the index rule,
        strictly increasing.
    tie_x : array_like, shape (T,)
        x at those profiles (trade probabilities in [0, 1]).
    M : sequence of array_like, shapes (K_i,)
        Each agent's interim transfer in engine form (units of ``unit``).
    T : float
        The constant of the transfer rule (units of ``unit``).

    Attributes
    ----------
    shape : tuple of int
        (K_1, ..., K_N).
    profiles : int
        K_1 ... K_N.

    Raises
    ------
    ValueError
        Inconsistent shapes, tie indices out of range or not strictly increasing.

    References
    ----------
    docs/model.md, sections 4-6 (the index rule, the maximin LP and its ties, the transfers);
    N. Haghpanah, A. Kuvalekar, E. Lipnowski, "Selling to a Group" (2021), "Buying from a
    Group" (2024); R. B. Myerson, "Optimal auction design" (1981) for ironing.

    Examples
    --------
    >>> import numpy as np, lpmech
    >>> inst = lpmech.Instance("buy", [lpmech.Agent("a", [0.25, 0.75], [0.5, 0.5])], buyer_value=1.0)
    >>> cm = CompactMechanism(inst, 1.0, [1.0], [np.array([0.25, 1.25])], 1.0, [], [], [np.array([0.25, 0.25])], 0.25)
    >>> cm.allocation().tolist(), cm.transfer().tolist()
    ([1.0, 0.0], [0.25, 0.25])
    """

    def __init__(self, instance, unit, omega, phi_bar, b, tie_index, tie_x, M, T):
        self.instance = instance
        self.unit = float(unit)
        self.omega = np.asarray(omega, dtype=float).reshape(-1)
        self.phi_bar = [np.asarray(f, dtype=float).reshape(-1) for f in phi_bar]
        self.b = float(b)
        self.M = [np.asarray(m, dtype=float).reshape(-1) for m in M]
        self.T = float(T)
        self.shape = tuple(int(f.size) for f in self.phi_bar)
        self.n = len(self.shape)
        self.profiles = product(self.shape)
        self.tie_index = np.asarray(tie_index, dtype=np.int64).reshape(-1)
        self.tie_x = np.asarray(tie_x, dtype=float).reshape(-1)
        if self.omega.size != self.n or len(self.M) != self.n:
            raise ValueError(f"omega has {self.omega.size} entries and M {len(self.M)} vectors for {self.n} agents")
        if tuple(m.size for m in self.M) != self.shape:
            raise ValueError(f"M has shapes {[m.size for m in self.M]}, phi_bar {list(self.shape)}")
        if self.tie_index.size != self.tie_x.size:
            raise ValueError(f"{self.tie_index.size} tie indices but {self.tie_x.size} tie allocations")
        if self.tie_index.size:
            if self.tie_index[0] < 0 or self.tie_index[-1] >= self.profiles:
                raise ValueError(f"tie indices outside 0..{self.profiles - 1}")
            if np.any(np.diff(self.tie_index) <= 0):
                raise ValueError("tie indices must be strictly increasing")
        # the terms of the index, as lpmech.profiles.weighted_sum forms them (ω_i φ̄_i, agent order)
        self._terms = [w * f for w, f in zip(self.omega, self.phi_bar)]

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_allocation(cls, instance, unit, omega, phi_bar, b, x, M, T) -> CompactMechanism:
        """The compact form of a full engine allocation: its departures from the index rule as ties.

        Parameters
        ----------
        instance, unit, omega, phi_bar, b, M, T
            As for :class:`CompactMechanism` (engine quantities).
        x : ndarray, shape (K_1, ..., K_N)
            The full engine allocation.

        Returns
        -------
        CompactMechanism
            Its tie set is exactly the profiles where ``x`` differs bitwise from the index rule,
            so :meth:`engine_block` reproduces ``x`` bit for bit.

        Raises
        ------
        ValueError
            ``x`` does not have the shape of the engine grid.
        """
        mech = cls(instance, unit, omega, phi_bar, b, [], [], M, T)
        x = np.ascontiguousarray(x, dtype=float)
        if x.shape != mech.shape:
            raise ValueError(f"x has shape {x.shape}, the engine grid {mech.shape}")
        flat = x.reshape(-1)
        ties = []
        for lo, hi in mech._ranges(AUDIT_CHUNK):
            rule = mech._rule(lo, hi)
            differ = flat[lo:hi].view(np.int64) != rule.view(np.int64)
            ties.append(np.flatnonzero(differ) + lo)
        mech.tie_index = np.concatenate(ties).astype(np.int64) if ties else np.empty(0, np.int64)
        mech.tie_x = flat[mech.tie_index].copy()
        return mech

    @classmethod
    def from_dict(cls, instance, data: dict) -> CompactMechanism:
        """The mechanism back from :meth:`to_dict` (its JSON form) and the instance it solves.

        The engine quantities are recovered exactly (the unit is a power of two: dividing and
        negating are exact), so the reconstruction is bitwise that of the original.

        Parameters
        ----------
        instance : Instance
        data : dict
            The ``compact`` entry of a result document.

        Returns
        -------
        CompactMechanism

        Raises
        ------
        ValueError
            ``data`` is not of form :data:`FORM`, or does not fit the instance's grid.
        """
        if data.get("form") != FORM:
            raise ValueError(f"not a compact mechanism of form {FORM!r}: {data.get('form')!r}")
        unit = float(data["unit"])
        flip = instance.flipped
        sign = -1.0 if flip else 1.0
        eng = lambda v: instance.to_user(np.asarray(v, dtype=float) * sign, axes="agent") / unit
        phi_bar = [eng(v) for v in data["virtual_ironed"]]
        M = [eng(v) for v in data["interim_transfer"]]
        shape = tuple(f.size for f in phi_bar)
        ties = data["ties"]
        prof = np.asarray(ties["profiles"], dtype=np.int64).reshape(-1, len(shape))
        user_flat = np.ravel_multi_index(tuple(prof.T), shape) if prof.size else np.empty(0, np.int64)
        index = np.asarray(product(shape) - 1 - user_flat if flip else user_flat, dtype=np.int64).reshape(-1)
        tie_x = np.asarray(ties["allocation"], dtype=float)
        order = np.argsort(index, kind="stable")
        b = sign * float(data["b"]) / unit + 0.0
        T = sign * float(data["constant"]) / unit + 0.0
        return cls(instance, unit, data["omega"], phi_bar, b, index[order], tie_x[order], M, T)

    # ------------------------------------------------------------------ engine form
    @property
    def ties(self) -> int:
        """The number of profiles stored explicitly (the tie set's completion)."""
        return int(self.tie_index.size)

    def _ranges(self, chunk: int):
        chunk = max(int(chunk), 1)
        for lo in range(0, self.profiles, chunk):
            yield lo, min(lo + chunk, self.profiles)

    def index(self, start: int, stop: int) -> np.ndarray:
        """Σ_i ω_i φ̄_i(θ_i) on the flat engine profiles ``start:stop`` (units of ``unit``).

        Bitwise :func:`lpmech.profiles.weighted_sum` of the engine's ω and φ̄ on those profiles.
        """
        return _outer_block(np.add, 0.0, self._terms, self.shape, int(start), int(stop))

    def _rule(self, start: int, stop: int) -> np.ndarray:
        return (self.index(start, stop) < self.b).astype(float)

    def engine_block(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """The engine allocation and transfer on the flat profiles ``start:stop`` (C order).

        Parameters
        ----------
        start, stop : int
            0 <= start <= stop <= :attr:`profiles`.

        Returns
        -------
        x : ndarray, shape (stop - start,)
            Trade probabilities: the index rule, the tie set's completion on its profiles.
        m : ndarray, shape (stop - start,)
            Engine transfers Σ_i M_i(θ_i) − (N − 1) T (units of ``unit``, buy-side sign).

        Raises
        ------
        ValueError
            A range outside the grid.
        """
        start, stop = int(start), int(stop)
        if not 0 <= start <= stop <= self.profiles:
            raise ValueError(f"range {start}:{stop} outside the grid of {self.profiles} profiles")
        x = self._rule(start, stop)
        lo, hi = np.searchsorted(self.tie_index, [start, stop])
        if hi > lo:
            x[self.tie_index[lo:hi] - start] = self.tie_x[lo:hi]
        m = _outer_block(np.add, -(self.n - 1) * self.T, self.M, self.shape, start, stop)
        return x, m

    def blocks(self, chunk: int = AUDIT_CHUNK) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        """Walk the engine grid in C order: ``(start, stop, x, m)`` per block of at most ``chunk`` profiles.

        Parameters
        ----------
        chunk : int
            Largest block (profiles).

        Yields
        ------
        (int, int, ndarray, ndarray)
            As :meth:`engine_block` on ``start:stop``.
        """
        for lo, hi in self._ranges(chunk):
            x, m = self.engine_block(lo, hi)
            yield lo, hi, x, m

    def engine_pmf(self, start: int, stop: int) -> np.ndarray:
        """P(θ) = Π_i p_i(θ_i) on the flat engine profiles ``start:stop``, shape (stop - start,)."""
        probs = self.instance.engine().probs
        return _outer_block(np.multiply, 1.0, [np.asarray(p, dtype=float) for p in probs], self.shape, start, stop)

    def trade_probability(self, chunk: int = AUDIT_CHUNK) -> float:
        """E[x(θ)], summed block by block (no K^N array).

        Parameters
        ----------
        chunk : int
            Largest block (profiles).

        Returns
        -------
        float
        """
        total = 0.0
        for lo, hi in self._ranges(chunk):
            x, _ = self.engine_block(lo, hi)
            total += float(self.engine_pmf(lo, hi) @ x)
        return total

    # ------------------------------------------------------------------ the user's form
    def allocation(self) -> np.ndarray:
        """The full allocation in the user's grid order, shape (K_1, ..., K_N).

        Returns
        -------
        ndarray
            Equal to ``instance.to_user(x)`` of the full engine x (K^N floats: for large grids
            prefer :meth:`user_slab` or :meth:`blocks`).
        """
        x, _ = self.engine_block(0, self.profiles)
        return self.instance.to_user(x.reshape(self.shape))

    def transfer(self) -> np.ndarray:
        """The full transfer in the user's order and money units, shape (K_1, ..., K_N).

        Returns
        -------
        ndarray
            Equal to ``instance.to_user(m * unit, negate=True)``: designer to group (buy side),
            group to designer (sell side), totals for the whole good.
        """
        _, m = self.engine_block(0, self.profiles)
        return self.instance.to_user(m.reshape(self.shape) * self.unit, negate=True)

    def user_slab(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``allocation()[i]`` and ``transfer()[i]``: the user's first agent at its i-th type.

        Parameters
        ----------
        i : int
            Index into the first agent's grid (user order), 0 <= i < K_1.

        Returns
        -------
        x, m : ndarray, shape (K_2, ..., K_N)
            Bitwise the slabs of :meth:`allocation` and :meth:`transfer`.

        Raises
        ------
        IndexError
            ``i`` outside the first agent's grid.
        """
        k1 = self.shape[0]
        if not 0 <= i < k1:
            raise IndexError(f"type index {i} outside 0..{k1 - 1}")
        rest = self.shape[1:]
        size = product(rest)
        j = k1 - 1 - i if self.instance.flipped else i
        x, m = self.engine_block(j * size, (j + 1) * size)
        x, m = x.reshape(rest), m.reshape(rest) * self.unit
        if self.instance.flipped:  # as Instance.to_user: every axis reversed, money negated
            flip = (slice(None, None, -1),) * len(rest)
            x, m = np.ascontiguousarray(x[flip]).reshape(rest), -np.ascontiguousarray(m[flip]).reshape(rest)
        return x, m

    def user_ties(self) -> tuple[np.ndarray, np.ndarray]:
        """The tie set in the user's grid: profile indices, shape (T, N), and x there, shape (T,).

        Sorted in the user's C order (on the sell side every axis is reversed, so the user's flat
        index is K^N − 1 − the engine's).
        """
        idx, tx = self.tie_index, self.tie_x
        if self.instance.flipped:
            idx, tx = (self.profiles - 1 - idx)[::-1], tx[::-1]
        prof = np.stack(np.unravel_index(idx, self.shape), axis=1) if idx.size else np.empty((0, self.n), np.int64)
        return prof, tx

    def to_dict(self, arrays: bool = False) -> dict:
        """The compact JSON form (``"compact"`` in lpmech/schemas/result.schema.json), user units.

        Parameters
        ----------
        arrays : bool, optional
            Give the tie profiles (int64, shape (ties, N)) and their x (float64, shape (ties,))
            as numpy arrays instead of lists (for a serializer that converts arrays in bulk).

        Returns
        -------
        dict
            ``form`` (:data:`FORM`), ``formula``, ``omega``, ``b`` (the designer's value b or c),
            ``virtual_ironed`` and ``interim_transfer`` (per agent, over its grid, the user's
            order and money), ``constant`` (T), ``ties`` (``profiles``: user grid indices,
            ``allocation``: x there), ``shape``, ``profiles``, ``tie_profiles``, ``unit``. On the
            buy side x = 1{Σ ω_i φ̄_i(θ_i) < b} off the ties; on the sell side (values)
            x = 1{Σ ω_i φ̄_i(θ_i) > c}; m = Σ_i M_i(θ_i) − (N − 1) T everywhere.
        """
        inst = self.instance
        user = lambda v: inst.to_user(v * self.unit, axes="agent", negate=True).tolist()
        prof, tx = self.user_ties()
        if inst.flipped:
            rule = "x = 1{sum_i omega_i phi_bar_i(theta_i) > c} off ties"
        else:
            rule = "x = 1{sum_i omega_i phi_bar_i(theta_i) < b} off ties"
        return {
            "form": FORM,
            "formula": rule + "; m = sum_i M_i(theta_i) - (N-1) T",
            "omega": self.omega.tolist(),
            "b": inst.money_sign * self.b * self.unit + 0.0,
            "virtual_ironed": [user(f) for f in self.phi_bar],
            "interim_transfer": [user(m) for m in self.M],
            "constant": inst.money_sign * self.T * self.unit + 0.0,
            "ties": {"profiles": prof if arrays else prof.tolist(), "allocation": tx if arrays else tx.tolist()},
            "shape": list(self.shape),
            "profiles": self.profiles,
            "tie_profiles": self.ties,
            "unit": self.unit,
        }

    def __repr__(self) -> str:
        return (
            f"CompactMechanism({' x '.join(map(str, self.shape))} = {self.profiles:,} profiles, "
            f"{self.ties:,} tie profiles)"
        )
