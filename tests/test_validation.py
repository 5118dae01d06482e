"""`lpmech validate --quick`: every claim of the talks must hold.

The quick validation takes about a minute on a quiet 2-core machine, so it is its own marked
step (``python -m pytest -m validation``, run by ``.ci/run`` after the default run) rather than
part of the default run.
"""

import json
import pathlib

import pytest

import lpmech
from lpmech.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("validation")
    code = main(["validate", "--quick", "--out", str(out), "--no-progress"])
    return code, out


@pytest.mark.validation
def test_quick_validation_passes(report):
    code, out = report
    entries = json.loads((out / "results.json").read_text())
    failed = [e for e in entries if not e["passed"]]
    assert not failed, failed
    assert code == 0


@pytest.mark.validation
def test_results_json_schema_and_claims(report):
    _, out = report
    entries = json.loads((out / "results.json").read_text())
    for e in entries:
        assert set(e) >= {"claim", "instance", "expected", "measured", "tolerance", "passed"}
    claims = {e["claim"] for e in entries}
    assert claims == {"uniform-pair", "posted-ratio", "posted-suboptimal", "weight-ranking", "shares-neutral",
                      "grid-convergence", "software-example", "dominant-vs-bayesian", "individual-transfers",
                      "interdependent", "consent"}


@pytest.mark.validation
def test_report_and_figures(report):
    _, out = report
    text = (out / "report.md").read_text()
    assert "| claim | instance | expected | measured | tolerance | passed |" in text
    for fig in ("uniform_pair_allocation.png", "posted_ratio.png", "grid_convergence.png", "weight_ranking.png"):
        assert (out / fig).stat().st_size > 1000
        assert f"({fig})" in text


def test_software_example_file_is_the_validated_instance():
    from lpmech_validation.software_example import BUYERS

    inst = lpmech.load(ROOT / "grids" / "software_example.toml")
    assert inst.side == "sell" and inst.seller_cost == 0.0 and inst.types == "total"
    assert list(inst.shares) == [0.5, 0.5]
    for agent, (name, law, params) in zip(inst.agents, BUYERS):
        assert agent.name == name and agent.distribution["name"] == law and agent.distribution["params"] == params
