import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import SMALL_TOML, result_json

import lpmech
from lpmech.cli import main

GRIDS = pathlib.Path(__file__).resolve().parent.parent / "grids"

GOOD = SMALL_TOML


def write(tmp_path, text, name="inst.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("path", sorted(GRIDS.glob("*.toml")), ids=lambda p: p.name)
def test_every_grid_file_loads(path):
    inst = lpmech.load(path)
    assert inst.n >= 1


@pytest.mark.parametrize("name", ["uniform_pair.toml", "land_assembly.toml", "committee_software.toml",
                                  "single_agent.toml"])
def test_solve_grid_files(name, tmp_path, capsys):
    out_json = tmp_path / "r.json"
    code, out, err = run_cli(["solve", GRIDS / name, "--json", out_json, "--plot", tmp_path / "f.png"], capsys)
    assert code == 0, err
    assert "optimal expected profit" in out and "checks (all passed" in out
    data = result_json(out_json)
    for key in ("status", "side", "value", "omega", "omega_canonical", "omega_range", "posted_price", "ratio",
                "allocation", "transfer", "interim", "checks", "solve_seconds"):
        assert key in data
    for key in ("max_ic_violation", "max_ir_violation", "analytic_gap"):
        assert key in data["checks"]
    assert set(data["posted_price"]) >= {"price", "value"}
    inst = lpmech.load(GRIDS / name)
    assert np.array(data["allocation"]).shape == inst.shape
    assert np.array(data["transfer"]).shape == inst.shape
    assert len(data["omega_range"]) == inst.n and all(len(r) == 2 for r in data["omega_range"])
    assert sum(data["omega"]) == pytest.approx(1.0)
    assert (tmp_path / "f.png").stat().st_size > 1000
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".lpmech-")]


def test_json_to_stdout(capsys):
    code, out, err = run_cli(["solve", GRIDS / "single_agent.toml", "--json", "-"], capsys)
    assert code == 0
    assert result_json(out)["ratio"] == pytest.approx(1.0)


def test_sell_side_json_in_file_order(tmp_path, capsys):
    code, out, _ = run_cli(["solve", GRIDS / "committee_software.toml", "--json", tmp_path / "r.json"], capsys)
    assert code == 0
    data = result_json(tmp_path / "r.json")
    x = np.array(data["allocation"])
    # sell side: higher values trade more, so x is nondecreasing along each axis in file order
    for ax in range(x.ndim):
        assert np.all(np.diff(x, axis=ax) >= -1e-9)
    inst = lpmech.load(GRIDS / "committee_software.toml")
    assert data["interim"][0]["grid"] == pytest.approx(inst.grids[0].tolist())


BAD = {
    "bad side": ('side = "rent"\nbuyer_value = 1.0\n[[agents]]\ngrid=[1.0]\nprobs=[1.0]\n', "'side'"),
    "missing buyer_value": ('side = "buy"\n[[agents]]\ngrid=[1.0]\nprobs=[1.0]\n', "'buyer_value'"),
    "mistyped buyer_value": ('side = "buy"\nbuyer_value = "1"\n[[agents]]\ngrid=[1.0]\nprobs=[1.0]\n',
                             "'buyer_value'"),
    "grid not increasing": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ngrid=[1.0, 1.0]\n'
                            'probs=[0.5, 0.5]\n', "agent 'x': field 'grid'"),
    "probs negative": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ngrid=[1.0, 2.0]\n'
                       'probs=[1.5, -0.5]\n', "agent 'x': field 'probs'"),
    "probs zero": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ngrid=[1.0, 2.0]\nprobs=[1.0, 0.0]\n',
                   "agent 'x': field 'probs'"),
    "probs sum": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ngrid=[1.0, 2.0]\nprobs=[0.5, 0.6]\n',
                  "agent 'x': field 'probs'"),
    "length mismatch": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ngrid=[1.0, 2.0]\nprobs=[1.0]\n',
                        "agent 'x': field 'probs'"),
    "share negative": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\nshare=-1.0\ngrid=[1.0]\n'
                       'probs=[1.0]\n[[agents]]\nname="y"\nshare=2.0\ngrid=[1.0]\nprobs=[1.0]\n',
                       "agent 'x': field 'share'"),
    "shares sum": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\nshare=0.5\ngrid=[1.0]\nprobs=[1.0]\n'
                   '[[agents]]\nname="y"\nshare=0.4\ngrid=[1.0]\nprobs=[1.0]\n', "field 'share'"),
    "nan": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ngrid=[1.0, nan]\nprobs=[0.5, 0.5]\n',
            "agent 'x': field 'grid'"),
    "inf": ('side = "buy"\nbuyer_value = inf\n[[agents]]\nname="x"\ngrid=[1.0]\nprobs=[1.0]\n',
            "field 'buyer_value'"),
    "unknown distribution": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ndistribution="unifrom"\n'
                             'points=4\n', "agent 'x': field 'distribution'"),
    "unknown params": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ndistribution="uniform"\n'
                       'params={ lco = 1 }\npoints=4\n', "agent 'x': field 'params'"),
    "invalid params": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ndistribution="beta"\n'
                       'params={ a = -1, b = 2 }\npoints=4\n', "agent 'x': field 'params'"),
    "unknown top key": ('side = "buy"\nbuyer_valeu = 1.0\n[[agents]]\ngrid=[1.0]\nprobs=[1.0]\n',
                        "field 'buyer_valeu'"),
    "unknown agent key": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ngird=[1.0]\nprobs=[1.0]\n',
                          "agent 'x': field 'gird'"),
    "no agents": ('side = "buy"\nbuyer_value = 1.0\n', "field 'agents'"),
    "invalid toml": ('side = "buy\nbuyer_value = 1.0\n', "invalid TOML"),
    "joint wrong shape": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ngrid=[1.0, 2.0]\n[[agents]]\nname="y"\ngrid=[1.0, 2.0]\n[joint]\nprobs=[[0.5, 0.5]]\n', "field 'joint.probs'"),
    "joint negative": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ngrid=[1.0, 2.0]\n[[agents]]\nname="y"\ngrid=[1.0, 2.0]\n[joint]\nprobs=[[0.6, -0.1], [0.2, 0.3]]\n', "field 'joint.probs'"),
    "joint sum": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ngrid=[1.0, 2.0]\n[[agents]]\nname="y"\ngrid=[1.0, 2.0]\n[joint]\nprobs=[[0.3, 0.3], [0.3, 0.3]]\n', "field 'joint.probs'"),
    "joint with probs": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ngrid=[1.0, 2.0]\nprobs=[0.5, 0.5]\n'
                         '[[agents]]\nname="y"\ngrid=[1.0, 2.0]\n[joint]\nprobs=[[0.25, 0.25], [0.25, 0.25]]\n',
                         "agent 'x': field 'probs'"),
    "veto unknown agent": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ngrid=[1.0, 2.0]\n[[agents]]\nname="y"\ngrid=[1.0, 2.0]\n[joint]\nprobs=[[0.25, 0.25], [0.25, 0.25]]\n[mechanism]\nveto=["z"]\n',
                           "field 'mechanism.veto'"),
    "unknown ic word": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\ngrid=[1.0]\nprobs=[1.0]\n[mechanism]\n'
                        'ic="ex-ante"\n', "field 'mechanism.ic'"),
    "unknown participation word": ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\ngrid=[1.0]\nprobs=[1.0]\n'
                                   '[mechanism]\nparticipation="sometimes"\n', "field 'mechanism.participation'"),
    "seller_cost on buy side": ('side = "buy"\nbuyer_value = 1.0\nseller_cost = 0.0\n[[agents]]\ngrid=[1.0]\n'
                                'probs=[1.0]\n', "field 'seller_cost'"),
}


@pytest.mark.parametrize("case", sorted(BAD), ids=lambda c: c.replace(" ", "-"))
def test_bad_input(case, tmp_path, capsys):
    text, needle = BAD[case]
    path = write(tmp_path, text)
    out_json = tmp_path / "out.json"
    code, out, err = run_cli(["solve", path, "--json", out_json, "--plot", tmp_path / "out.png"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0] and needle in lines[0], lines[0]
    assert "Traceback" not in err and out == ""
    assert sorted(os.listdir(tmp_path)) == ["inst.toml"]


def test_missing_file(tmp_path, capsys):
    code, out, err = run_cli(["solve", tmp_path / "nope.toml", "--json", tmp_path / "o.json"], capsys)
    assert code == 2 and "nope.toml" in err and "no such file" in err and len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_too_many_profiles(tmp_path, capsys):
    path = write(tmp_path, GOOD)
    code, out, err = run_cli(["solve", path, "--max-profiles", "3", "--json", tmp_path / "o.json"], capsys)
    assert code == 2 and "profiles" in err and str(path) in err
    assert sorted(os.listdir(tmp_path)) == ["inst.toml"]


def test_unwritable_output_directory(tmp_path, capsys):
    path = write(tmp_path, GOOD)
    code, out, err = run_cli(["solve", path, "--json", tmp_path / "no" / "such" / "dir.json"], capsys)
    assert code == 2 and "--json" in err


def test_usage_error_is_one_line(capsys):
    code, out, err = run_cli(["solve"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_solver_failure_reports_highs_status(tmp_path, capsys, monkeypatch):
    import lpmech.highs as H

    def fail(h, what):
        raise H.SolverError(what, "Time limit reached")

    monkeypatch.setattr("lpmech.maximin.run", fail)
    path = write(tmp_path, GOOD)
    code, out, err = run_cli(["solve", path, "--method", "lp", "--json", tmp_path / "o.json"], capsys)  # auto: structured
    assert code == 1 and "Time limit reached" in err and "HiGHS" in err
    assert sorted(os.listdir(tmp_path)) == ["inst.toml"]


def test_failed_cross_check_is_an_error(tmp_path, capsys, monkeypatch):
    import lpmech.solver as S

    real = S.transfers

    def broken(problem, x):
        tr = real(problem, x)
        tr.m = tr.m - 0.1        # underpay: IR fails, the audit must notice
        return tr

    monkeypatch.setattr(S, "transfers", broken)
    path = write(tmp_path, GOOD)
    code, out, err = run_cli(["solve", path, "--json", tmp_path / "o.json"], capsys)
    assert code == 1 and "cross-check failed" in err and "ir_violation" in err
    assert sorted(os.listdir(tmp_path)) == ["inst.toml"]


def test_console_script_no_traceback(tmp_path):
    path = write(tmp_path, 'side = "buy"\n')
    proc = subprocess.run([sys.executable, "-m", "lpmech", "solve", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_continuous_needs_distributions(tmp_path, capsys):
    code, out, err = run_cli(["solve", GRIDS / "committee_software.toml", "--continuous", "--json",
                              tmp_path / "c.json"], capsys)
    assert code == 2 and "committee_software.toml" in err and "field 'distribution'" in err
    assert len(err.strip().splitlines()) == 1 and os.listdir(tmp_path) == []


def test_continuous_software_example(tmp_path, capsys):
    code, out, err = run_cli(["solve", GRIDS / "software_example.toml", "--continuous", "--json",
                              tmp_path / "c.json"], capsys)
    assert code == 0, err
    data = result_json(tmp_path / "c.json")
    assert data["omega"][0] == pytest.approx((3 / 7) ** 0.5, abs=1e-7)
    assert {"value", "omega", "posted_price", "ratio", "status"} <= set(data)


@pytest.mark.parametrize("args,needle", [(["--veto", "nobody"], "mechanism.veto"),
                                         (["--pareto", "1.5"], "[0, 1]"),
                                         (["--ic", "sometimes"], "--ic")])
def test_bad_mechanism_options(args, needle, tmp_path, capsys):
    code, out, err = run_cli(["solve", GRIDS / "uniform_pair.toml", "--json", tmp_path / "o.json", *args], capsys)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_compare_and_frontier(tmp_path, capsys):
    code, out, err = run_cli(["compare", GRIDS / "correlated_sellers.toml", "--json", tmp_path / "c.json"], capsys)
    assert code == 0, err
    rows = json.loads((tmp_path / "c.json").read_text())["rows"]
    assert len(rows) == 4
    code, out, err = run_cli(["frontier", GRIDS / "partial_veto.toml", "--out", tmp_path / "f", "--lambdas",
                              "0", "0.5", "1", "--no-progress"], capsys)
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "f")) == ["frontier.csv", "frontier.png"]


def test_general_lp_through_solve(tmp_path, capsys):
    code, out, err = run_cli(["solve", GRIDS / "partial_veto.toml", "--json", tmp_path / "g.json"], capsys)
    assert code == 0, err
    data = result_json(tmp_path / "g.json")
    assert data["formulation"] == "general"
    assert data["checks"]["max_ic_violation"] < 1e-7


# --------------------------------------------------------------------------- what users read (issue 9, kind 9)
def test_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    out, err = capsys.readouterr()
    assert exc.value.code == 0 and out.strip() == f"lpmech {version('lpmech')}" and err == ""


def _help(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_max_profiles_defaults_are_the_named_constants(capsys):
    from lpmech.cli import GENERAL_LP_MAX_PROFILES, build_parser
    from lpmech.instance import DEFAULT_MAX_PROFILES

    assert f"default {DEFAULT_MAX_PROFILES:,};" in _help(capsys, "solve")
    assert f"{GENERAL_LP_MAX_PROFILES:,} when the instance needs the general LP" in _help(capsys, "solve")
    for command in ("compare", "frontier"):
        assert f"default {GENERAL_LP_MAX_PROFILES:,}: the general LP's cap" in _help(capsys, command)
        args = build_parser().parse_args([command, "x.toml", *(["--out", "d"] if command == "frontier" else [])])
        assert args.max_profiles == GENERAL_LP_MAX_PROFILES


def test_general_lp_cap_applies_to_solve(tmp_path, capsys):
    from lpmech.cli import GENERAL_LP_MAX_PROFILES

    k = int(GENERAL_LP_MAX_PROFILES ** 0.5) + 1             # k * k profiles: just over the cap
    grid = ", ".join(f"{(j + 0.5) / k:.6f}" for j in range(k))
    probs = ", ".join([repr(1 / k)] * k)
    agents = "".join(f'[[agents]]\nname = "{n}"\ngrid = [{grid}]\nprobs = [{probs}]\n' for n in "ab")
    path = write(tmp_path, 'side = "buy"\nbuyer_value = 1.0\n' + agents)
    code, out, err = run_cli(["solve", path, "--veto", "a"], capsys)      # a partial veto: the general LP
    assert code == 2 and f"{GENERAL_LP_MAX_PROFILES:,}" in err and f"{k * k:,} profiles" in err


def test_figure_says_what_each_number_is():
    from lpmech.plot import figure

    res = lpmech.solve(lpmech.load(GRIDS / "uniform_pair.toml"))
    title = figure(res).axes[0].get_title()
    assert f"optimal expected profit {res.value:.6g}" in title
    assert f"best posted price p = {res.posted.price:.6g} earns {res.posted.value:.6g}" in title
    assert "per-share cost" in figure(res).axes[0].get_xlabel()
    assert f"p = {fmt_(res.posted.price)}, expected profit {fmt_(res.posted.value, 8)}" in res.summary()


def fmt_(v, digits=6):
    from lpmech.result import fmt

    return fmt(v, digits)


TOTAL = """
name = "total types"
side = "sell"
seller_cost = 0.1
types = "total"

[[agents]]
name = "small"
share = 0.25
grid = [0.05, 0.1, 0.2]
probs = [0.3, 0.3, 0.4]

[[agents]]
name = "large"
share = 0.75
grid = [0.3, 0.6, 0.9]
probs = [0.5, 0.25, 0.25]
"""


def test_total_types_are_labelled(tmp_path, capsys):
    from lpmech.plot import figure

    path = write(tmp_path, TOTAL)
    code, out, err = run_cli(["solve", path, "--json", tmp_path / "r.json"], capsys)
    assert code == 0, err
    data = result_json(tmp_path / "r.json")
    assert data["type_units"] == "per-share" and data["types_in_file"] == "total"
    # the reported grid is the file's total value divided by the share
    assert data["interim"][0]["grid"] == pytest.approx([0.2, 0.4, 0.8])
    assert data["interim"][1]["grid"] == pytest.approx([0.4, 0.8, 1.2])
    assert "per-share values θ_i (the file's total values of each agent's share divided by its share)" in out
    ax = figure(lpmech.solve(lpmech.load(path))).axes[0]
    assert "per-share value (file's total value / share)" in ax.get_xlabel()
    code, out, err = run_cli(["compare", path, "--json", "-"], capsys)
    assert code == 0 and json.loads(out)["types_in_file"] == "total"          # a compare document: no schema yet
