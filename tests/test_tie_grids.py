"""Tie-heavy grids on which the maximin LP once returned a wrong vertex (caught by the checks,
exit 1): rows holding rounding residues b − φ_i ≈ 1e-17 were blown up by the row scaling.

Each instance is solved by the LP (and auto) and compared with two independent computations:
the plain BIC + interim IR LP over (x, m) written from the definitions (tests/helpers.py) and
the exact certificate (rational arithmetic); and the same instance in other units gives the same
answer scaled.
"""

import numpy as np
import pytest
from helpers import plain_bic_lp

import lpmech
from lpmech.exact import prove


def _rounded_grid(k: int) -> list[float]:
    return [round(v, 6) for v in np.linspace(0.0, 1.0, k)]


def _instance(n: int, k: int, scale: float = 1.0) -> lpmech.Instance:
    grid = [scale * v for v in _rounded_grid(k)]
    agents = [lpmech.Agent(f"a{i}", grid, [1.0 / k] * k) for i in range(n)]
    return lpmech.Instance("buy", agents, buyer_value=scale * 1.0)


def test_lp_on_tie_heavy_grid_matches_independent_lp():
    inst = _instance(3, 7)
    reference = plain_bic_lp(inst)
    for method in ("lp", "auto"):
        res = lpmech.solve(inst, method=method)
        assert res.value == pytest.approx(reference, rel=1e-7), method


@pytest.mark.parametrize(("n", "k"), [(3, 7), (2, 75)])
def test_tie_heavy_grid_is_proven_exactly(n, k):
    inst = _instance(n, k)
    for method in ("lp", "auto"):
        res = lpmech.solve(inst, method=method)
        cert = prove(inst, res)                       # rational arithmetic, independent of HiGHS
        assert cert.proven and float(cert.value) == pytest.approx(res.value, rel=1e-9), method


@pytest.mark.parametrize("scale", [3.0, 1e-10, 1e12])
def test_tie_heavy_grid_in_other_units(scale):
    base = lpmech.solve(_instance(2, 75), method="lp").value
    scaled = lpmech.solve(_instance(2, 75, scale), method="lp").value
    assert scaled == pytest.approx(scale * base, rel=1e-7)


def test_beta_farm_that_once_failed_the_face_check():
    """A sweep point (examples/farm_sweep.toml with finer grids) whose LP vertex was wrong with
    rows centred over their full range; the structured solver is the independent computation."""
    agents = [lpmech.Agent.from_distribution("orchard", "uniform", {"loc": 0.2, "scale": 0.8}, 32, share=0.5),
              lpmech.Agent.from_distribution("warehouse", "beta", {"a": 2.0, "b": 3.0, "loc": 0.1, "scale": 1.2},
                                             32, share=0.3),
              lpmech.Agent.from_distribution("farm", "beta", {"a": 2.930769230769231, "b": 2.930769230769231,
                                                              "loc": 0.1, "scale": 1.1}, 12, share=0.2)]
    inst = lpmech.Instance("buy", agents, buyer_value=1.5)
    lp = lpmech.solve(inst, method="lp").value
    assert lp == pytest.approx(lpmech.solve(inst, method="structured").value, rel=1e-9)
