"""One entry point, one result, one place for checks, and the exact certificate wired in.

Independent computations: the general LP (a second formulation) for values and the maximin
formulation's ω; exact rational arithmetic (15/512 is the closed-form value of the uniform pair
with K = 8 and b = 1/2, docs/model.md); the README is compared with the checks registry."""

from __future__ import annotations

import pathlib
from fractions import Fraction

import numpy as np
import pytest

import lpmech
import lpmech.exact
from lpmech.checks import CHECKS, readme_list
from lpmech.errors import CheckError, InstanceError
from lpmech.result import INTERIM_KEYS, STATUSES

ROOT = pathlib.Path(__file__).resolve().parent.parent
GRIDS = ROOT / "grids"


def uniform(k=8, b=0.5):
    return lpmech.Instance("buy", [lpmech.Agent.from_distribution(n, "uniform", {}, k) for n in "ab"],
                           buyer_value=b)


def test_one_result_type_for_every_formulation():
    assert lpmech.SolveResult is lpmech.Result
    for name in ("correlated_sellers.toml", "uniform_pair.toml", "partial_veto.toml"):
        res = lpmech.solve(lpmech.load(GRIDS / name))
        assert type(res) is lpmech.Result and res.status in STATUSES
        assert all(list(row) == list(INTERIM_KEYS) for row in res.interim)
        assert "\n" not in repr(res) and res.summary().count("\n") > 3
    cont = lpmech.solve(lpmech.Instance("buy", [lpmech.Agent.from_distribution(n, "uniform", {}, None)
                                                for n in "ab"], buyer_value=1.0))
    assert type(cont) is lpmech.Result and cont.formulation == "continuous" and cont.transfer is None
    assert cont.value == pytest.approx(1 / 6, rel=1e-9)          # two U[0, 1] sellers, b = 1 (continuum doctest)


def test_general_result_fields_and_old_names():
    res = lpmech.solve(lpmech.load(GRIDS / "partial_veto.toml"))
    assert res.formulation == res.method == "general"
    assert res.omega is None and res.omega_range is None and res.posted is None and res.ratio is None
    assert res.highs_status == res.info["highs_status"] and res.vetoes == res.mechanism.veto
    assert res.status == "optimal"                       # lowercase, from STATUSES
    assert set(res.checks["report"]) == set(res.checks["limits"])


def test_full_veto_is_the_default_mechanism():
    """A veto listing every agent (the default anyway) keeps the maximin formulation, ω and the posted price."""
    inst = lpmech.load(GRIDS / "uniform_pair.toml")
    plain = lpmech.solve(inst)
    listed = lpmech.solve(inst.with_mechanism(veto=tuple(reversed(inst.names)), pareto=0.0))
    assert listed.formulation == "maximin" and listed.omega is not None and listed.posted is not None
    assert listed.value == plain.value and np.array_equal(listed.omega_canonical, plain.omega_canonical)
    # and a partial veto does switch, by auto, to the general LP, whose value the maximin LP cannot exceed
    partial = lpmech.solve(inst.with_mechanism(veto=(inst.names[0],)))
    assert partial.formulation == "general" and partial.value >= plain.value - 1e-9
    assert "partial veto" in partial.info["method_reason"]


@pytest.mark.parametrize("name,method,needle", [
    ("correlated_sellers.toml", "lp", "correlated types"),
    ("correlated_sellers.toml", "structured", "correlated types"),
    ("partial_veto.toml", "lp", "partial veto"),
    ("correlated_sellers.toml", "continuous", "independent types"),
    ("uniform_pair.toml", "simplex", "unknown method"),
])
def test_a_method_that_cannot_serve_the_instance_says_why(name, method, needle):
    with pytest.raises(InstanceError, match=needle) as err:
        lpmech.solve(lpmech.load(GRIDS / name), method=method)
    assert err.value.field == "method"


def test_grid_method_on_continuous_types_is_refused():
    inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution(n, "uniform", {}, None) for n in "ab"],
                           buyer_value=1.0)
    for method in ("lp", "structured", "general"):
        with pytest.raises(InstanceError, match="continuous types"):
            lpmech.solve(inst, method=method)
    with pytest.raises(InstanceError, match="needs a grid"):
        lpmech.solve(inst, certify="exact")


def test_general_lp_cap_is_applied_by_solve():
    import lpmech.cli
    from lpmech.general import GENERAL_LP_MAX_PROFILES

    assert lpmech.cli.GENERAL_LP_MAX_PROFILES == GENERAL_LP_MAX_PROFILES
    k = int(np.ceil(np.sqrt(GENERAL_LP_MAX_PROFILES))) + 1
    inst = uniform(k).with_mechanism(ic="dominant")
    with pytest.raises(InstanceError, match=f"{GENERAL_LP_MAX_PROFILES:,}|{GENERAL_LP_MAX_PROFILES}"):
        lpmech.solve(inst)
    # the maximin formulation's own, larger cap does not refuse the same grid
    assert uniform(k).n_profiles > GENERAL_LP_MAX_PROFILES
    lpmech.solve(uniform(k), method="structured")


def test_checks_report_and_registry():
    res = lpmech.solve(lpmech.load(GRIDS / "land_assembly.toml"))
    report = res.checks["report"]
    assert report and set(report) <= set(CHECKS)
    for name, entry in report.items():
        assert set(entry) == {"gap", "limit", "passed"} and entry["passed"] and entry["gap"] <= entry["limit"]
    gen = lpmech.solve(lpmech.load(GRIDS / "correlated_sellers.toml"))
    assert set(gen.checks["report"]) <= set(CHECKS)


def test_readme_lists_every_check():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- checks:begin -->\n", 1)[1].split("\n<!-- checks:end -->", 1)[0]
    assert block == readme_list()
    for name in CHECKS:
        assert f"`{name}`" in block


def test_a_failed_check_raises(monkeypatch):
    import lpmech.checks as checks

    real = checks.verify

    def shifted(instance, x, m, **kw):          # an audit that finds the profit off by 1e-3
        audit = real(instance, x, m, **kw)
        audit.profit += 1e-3
        return audit

    monkeypatch.setattr(checks, "verify", shifted)
    with pytest.raises(CheckError) as err:
        lpmech.solve(uniform())
    assert "analytic_gap_ratio" in err.value.failed
    assert err.value.checks["report"]["analytic_gap_ratio"]["passed"] is False


def test_exact_certificate_of_the_uniform_pair():
    res = lpmech.solve(uniform(), certify="exact")
    cert = res.certificate
    assert cert.method == "exact" and cert.proven and cert.value == Fraction(15, 512)
    assert float(cert.value) == pytest.approx(res.value, rel=1e-9)
    d = res.to_dict()["certificate"]
    assert d["value"] == "15/512" and d["value_float"] == 15 / 512 and d["gap"] == "0" and d["proven"] is True
    text = res.summary()
    assert "proven optimal in exact arithmetic" in text and "15/512" in text and "0.029296875" in text


def test_float_certificate_is_not_a_proof():
    res = lpmech.solve(uniform())
    assert res.certificate.method == "float" and res.certificate.proven is False
    assert "proven optimal in exact arithmetic" not in res.summary()
    gen = lpmech.solve(lpmech.load(GRIDS / "correlated_sellers.toml"))
    assert gen.certificate.method == "float" and gen.certificate.proven is False


def test_a_failed_exact_certificate_is_a_check_error(monkeypatch):
    real = lpmech.exact.certify_maximin

    def perturbed(instance, omega, x=None):       # a wrong ω: g(ω) above V(x)
        return real(instance, np.asarray(omega) + np.array([0.2, -0.2]), x=x)

    monkeypatch.setattr(lpmech.exact, "certify_maximin", perturbed)
    with pytest.raises(CheckError, match="exact gap") as err:
        lpmech.solve(uniform(), certify="exact")
    assert err.value.failed == ["exact_certificate"]


def test_exact_certificate_above_its_limit_names_it(monkeypatch):
    import lpmech.exact.general as exact_general

    monkeypatch.setattr(exact_general, "GENERAL_EXACT_MAX_PROFILES", 10)
    with pytest.raises(InstanceError, match="10"):
        lpmech.solve(lpmech.load(GRIDS / "correlated_sellers.toml"), certify="exact")


def test_verify_exact():
    inst = lpmech.Instance("buy", [lpmech.Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    x = np.array([[1, 0], [0, 0]], dtype=object)
    audit = lpmech.verify(inst, x, x * Fraction(1, 2), exact=True)
    # by hand: trade only at (1/4, 1/4), probability 1/4, profit 1/4 (1 − 1/2) = 1/8
    assert audit.profit == Fraction(1, 8) and audit.max_ic_violation == 0 and audit.max_ir_violation == 0
    low = lpmech.verify(inst, x, x * Fraction(1, 5), exact=True)   # total price 1/5 below the per-share cost 1/4
    # agent a's interim utility at cost 1/4: 1/2 · 1/2 · (1/5 − 1/4) = −1/80
    assert low.max_ir_violation == Fraction(1, 80)


def test_command_line_certify_exact(capsys):
    from lpmech.cli import main

    code = main(["solve", str(GRIDS / "uniform_pair.toml"), "--certify", "exact"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = [ln for ln in out.splitlines() if ln.strip().startswith("certificate")]  # not the method's line
    assert len(lines) == 1 and "proven optimal in exact arithmetic" in lines[0]
    value = lines[0].split("value ")[1].split(" =")[0]
    num, den = (int(v) for v in value.split("/"))
    decimal = float(lines[0].split(" = ")[1].split(";")[0])
    # the grid (the discretized law's floats, taken exactly) has the README's value 0.1717 to float precision
    assert float(Fraction(num, den)) == decimal and decimal == pytest.approx(0.1717, rel=1e-12)


def test_compare_certify_exact():
    from lpmech.compare import compare

    inst = lpmech.Instance("buy", [lpmech.Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    table = compare(inst, certify="exact")
    values = [Fraction(r["certificate"]["value"]) for r in table.rows]
    assert all(r["certificate"]["proven"] for r in table.rows)
    assert values == [Fraction(5, 16)] * 3 + [Fraction(1, 4)]        # the compare doctest's floats, exactly
    # the extra rows too: individual transfers g(σ) = 5/16 by hand (φ = 1/4, 5/4), ex-ante IR the
    # first best 1/2 (full extraction)
    extra = {r["key"]: Fraction(r["certificate"]["value"]) for r in table.extra_rows if r["certificate"]["proven"]}
    assert extra == {"individual_transfers": Fraction(5, 16), "bic_ex_ante": Fraction(1, 2)}
    # one line per LP row: the file's row (its twin's certificate), the four variants, the two extras
    assert table.summary().count("proven optimal in exact arithmetic") == 7


def test_certify_exact_proves_what_was_solved():
    """method="general" is proved by the general LP's exact path, whose size limit is named (never a
    silent switch to the maximin proof)."""
    small = lpmech.solve(uniform(4), method="general", certify="exact").certificate
    assert small.formulation == "general" and small.proven
    assert small.value == lpmech.solve(uniform(4), certify="exact").certificate.value   # two exact proofs agree
    with pytest.raises(InstanceError, match="1,024"):
        lpmech.solve(uniform(40), method="general", certify="exact")
