"""Tie-heavy instances (issue 14): uniform sellers whose ironed virtual costs lie on an evenly
spaced lattice, with equal weights, put many profiles exactly on ω·φ̄ = b; beta sellers get
weight 0 and multiply the tie set by their whole grids.

The tie LP pools the agents of weight 0 (a restriction, certified, with the full tie LP as
fallback). Each answer is compared with independent computations: the plain BIC + interim IR
LP over (x, m) from the definitions (tests/helpers.py), the exact certificate in rational
arithmetic, and the full (unrestricted) tie LP.
"""

import numpy as np
import pytest
from helpers import plain_bic_lp

import lpmech
from lpmech.exact import prove
from lpmech.profiles import PASS_CHUNK, Grid
from lpmech.structured import certificate, solve_structured
from lpmech.structured.oracle import DEFAULT_CHUNK, GOracle
from lpmech.structured.ties import complete
from lpmech.tolerances import TIE_RTOL
from lpmech.virtual import iron, virtual_costs


def _instance(k_uniform: int, k_beta: list[int], n_uniform: int = 4) -> lpmech.Instance:
    agents = [
        lpmech.Agent.from_distribution(f"u{i}", "uniform", {"loc": 0.0, "scale": 1.0}, k_uniform)
        for i in range(n_uniform)
    ]
    agents += [lpmech.Agent.from_distribution(f"b{i}", "beta", {"a": 2.0, "b": 3.0}, k) for i, k in enumerate(k_beta)]
    return lpmech.Instance("buy", agents, buyer_value=1.0)


def _structured(inst):
    e = inst.engine()
    phi = [virtual_costs(t, p) for t, p in zip(e.grids, e.probs)]
    phi_bar = [iron(f, p) for f, p in zip(phi, e.probs)]
    return e, phi, phi_bar, solve_structured(e, phi, phi_bar)


@pytest.mark.parametrize(("k_uniform", "k_beta"), [(3, [3, 3]), (4, [4]), (4, [3, 3]), (2, [3, 3, 3])])
def test_tie_heavy_matches_plain_bic_lp_and_exact_certificate(k_uniform, k_beta):
    inst = _instance(k_uniform, k_beta)
    _, _, _, sol = _structured(inst)
    n_beta_profiles = int(np.prod(k_beta))
    assert sol.tie_profiles > 0  # the instance is tie-heavy
    # the weight-0 agents are pooled whole: one column per class of the weighted agents' types
    assert sol.tie_columns * n_beta_profiles <= sol.tie_profiles
    reference = plain_bic_lp(inst)
    res = lpmech.solve(inst, method="structured")
    assert res.value == pytest.approx(reference, rel=1e-7)
    assert sol.value == pytest.approx(reference, rel=1e-7)
    cert = prove(inst, res)  # rational arithmetic, independent of HiGHS
    assert cert.proven and float(cert.value) == pytest.approx(res.value, rel=1e-9)


def test_pooled_tie_lp_equals_full_tie_lp():
    """7 sellers, 6 points (279,936 profiles): the pooled tie LP reaches the full tie LP's value."""
    e, phi, phi_bar, sol = _structured(_instance(6, [6, 6, 6]))
    assert sol.tie_profiles >= 100 * sol.tie_columns > 0
    grid = Grid(e.probs, PASS_CHUNK)
    oracle = GOracle(phi_bar, e.probs, float(e.b), DEFAULT_CHUNK)
    full = complete(grid, e, phi, phi_bar, sol.omega, TIE_RTOL)
    assert full.pooled_agents == 0 and full.tie_columns == full.tie_profiles == sol.tie_profiles
    check = certificate.certify(grid, oracle, full.rule, sol.omega, phi, float(e.b))
    assert check.passed
    assert sol.value == pytest.approx(check.value, rel=1e-12, abs=1e-15)
    assert sol.g_value == pytest.approx(check.g, rel=1e-12)


def test_full_tie_lp_when_the_pooled_one_fails_its_certificate(monkeypatch):
    """complete_certified falls back to the full tie LP when the restriction does not certify."""
    e, phi, phi_bar, sol = _structured(_instance(3, [3, 3]))
    grid = Grid(e.probs, PASS_CHUNK)
    oracle = GOracle(phi_bar, e.probs, float(e.b), DEFAULT_CHUNK)
    real, seen = certificate.certify, []

    def certify_refusing_pooled(grid, oracle, rule, omega, phi, b):
        check = real(grid, oracle, rule, omega, phi, b)
        seen.append(check)
        if len(seen) == 1:
            check.passed, check.reason = False, "refused by the test"
        return check

    monkeypatch.setattr(certificate, "certify", certify_refusing_pooled)
    completion, check = certificate.complete_certified(grid, oracle, e, phi, phi_bar, sol.omega, TIE_RTOL)
    assert len(seen) == 2 and check.passed
    assert completion.pooled_agents == 0 and completion.tie_columns == completion.tie_profiles
    assert check.value == pytest.approx(sol.value, rel=1e-12)
