"""lpmech changes no process-wide state its user did not ask for (issue 9, kind 8).

HiGHS keeps one task scheduler per thread, sized by the first run there: if lpmech's runs sized
the caller's, a later HiGHS user in the same process (scipy's linprog, cvxpy, a highspy model
asking for 1 thread) would fail with model status "Not Set". Checked in fresh subprocesses (the
scheduler, the banner and matplotlib's backend are per process).
"""

import json
import logging
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import warnings

import pytest
from helpers import result_json

from lpmech.cli import main

GRIDS = pathlib.Path(__file__).resolve().parent.parent / "grids"

OTHERS = """
    import json
    import highspy
    from scipy.optimize import linprog

    def others():
        res = linprog([1.0, 2.0], A_ub=[[-1.0, -1.0]], b_ub=[-1.0], bounds=[(0, None)] * 2, method="highs")
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        h.addVar(0.0, 1.0)
        h.changeColCost(0, -1.0)
        h.run()
        return {"linprog": [int(res.status), float(res.fun)],
                "highspy": [h.modelStatusToString(h.getModelStatus()), h.getInfo().objective_function_value]}
"""


def _run(body: str) -> dict:
    code = textwrap.dedent(OTHERS) + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _assert_all_optimal(report: dict) -> None:
    for key, value in report.items():
        if key.startswith("others"):
            assert value["linprog"] == [0, pytest.approx(1.0)], (key, value)
            assert value["highspy"] == ["Optimal", pytest.approx(-1.0)], (key, value)


def test_other_highs_users_after_lpmech():
    """lpmech.solve (maximin LP, structured solver and general LP), then scipy's linprog and a
    highspy model with threads = 1, in one process: all optimal. (Any one of lpmech's runs that
    sized the caller's scheduler would make the later calls fail.)"""
    report = _run(f"""
        import lpmech
        a = lpmech.solve(lpmech.load({str(GRIDS / 'uniform_pair.toml')!r}), method="lp")
        s = lpmech.solve(lpmech.load({str(GRIDS / 'uniform_pair.toml')!r}), method="structured")
        g = lpmech.solve(lpmech.load({str(GRIDS / 'partial_veto.toml')!r}))
        print(json.dumps({{"lpmech": [a.method, s.method, g.method, a.status, s.status, g.status],
                          "others": others()}}))
    """)
    assert report["lpmech"] == ["lp", "structured", "general", "optimal", "optimal", "optimal"]
    _assert_all_optimal(report)


def test_lpmech_after_a_user_sized_the_scheduler():
    """The user's thread already has a 1-thread scheduler: lpmech works, and the user's next
    threads = 1 model still does."""
    report = _run(f"""
        import lpmech
        first = others()
        a = lpmech.solve(lpmech.load({str(GRIDS / 'uniform_pair.toml')!r}), method="lp")
        print(json.dumps({{"others_before": first, "lpmech": a.status, "others_after": others()}}))
    """)
    assert report["lpmech"] == "optimal"
    _assert_all_optimal(report)


def _state():
    return {"sigint": signal.getsignal(signal.SIGINT), "sigterm": signal.getsignal(signal.SIGTERM),
            "stdout": sys.stdout, "stderr": sys.stderr, "filters": list(warnings.filters),
            "logging": logging.root.manager.disable, "fd1": os.fstat(1).st_ino, "fd2": os.fstat(2).st_ino}


def test_main_restores_what_it_changes(tmp_path, capsys):
    """The command line points fds 1 and 2 at /dev/null, drops warnings and installs signal
    handlers while it runs; when main returns, all of it is as it was."""
    before = _state()
    code = main(["solve", str(GRIDS / "single_agent.toml"), "--json", "-"])
    after = _state()
    out, err = capsys.readouterr()
    assert code == 0 and result_json(out)["ratio"] == pytest.approx(1.0) and err == ""
    assert after == before
    code = main(["solve", str(tmp_path / "missing.toml")])
    assert code == 2 and _state() == before
