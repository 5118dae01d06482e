"""Every failure the command line can meet is one of lpmech's error types: its exit status
(2 bad input, 1 solver or check failure), one line on stderr, no traceback, and no warning
printed before it (issue 9, kind 4, command-line side). The failures are injected by small
driver scripts run as subprocesses (stderr is what a user's shell sees)."""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest
from helpers import SMALL_TOML, cli_calls

GRIDS = pathlib.Path(__file__).resolve().parent.parent / "grids"

SMALL = SMALL_TOML

# Every injection first makes noise the way a dependency would (a Python warning, numpy's
# RuntimeWarning, bytes written to fd 2 from "C"), then fails.
NOISE = """
import os, sys, warnings
import numpy as np
from lpmech.cli import main

def noise():
    warnings.warn("a dependency's warning", UserWarning)
    np.log(np.zeros(1))
    os.write(2, b"a C library's complaint\\n")
"""


NOISE_PATCH = """
import os, warnings
import numpy as np

def noise():
    warnings.warn("a dependency's warning", UserWarning)
    np.log(np.zeros(1))
    os.write(2, b"a C library's complaint\\n")
"""


def run_injected(patch: str, *args):
    code = textwrap.dedent(NOISE) + textwrap.dedent(patch) + "\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "inst.toml"
    path.write_text(textwrap.dedent(SMALL))
    return path


CASES = {
    "certificate": ("""
        import lpmech.solver as S
        from lpmech.errors import CertificateError
        def fail(*a, **k):
            noise()
            raise CertificateError("structured solver: x_ω does not attain g", value=0.30, g_value=0.31)
        S.solve_structured = fail
        """, ["--method", "structured"], 1, ["certificate", "0.29999999999999999", "0.31"]),
    "cvxpy solver failure": ("""
        import cvxpy.error
        import lpmech.solver as S
        def fail(*a, **k):
            noise()
            raise cvxpy.error.SolverError("Solver 'CLARABEL' failed. Try another solver,\\n"
                                          "or solve with verbose=True for more information.")
        S.canonical_weights = fail
        """, [], 1, ["solver failure", "cvxpy", "CLARABEL"]),
    "HiGHS failure": ("""
        import lpmech.maximin as M
        from lpmech.errors import SolverError
        def fail(h, what):
            noise()
            raise SolverError(what, "Time limit reached")
        M.run = fail
        """, ["--method", "lp"], 1, ["solver failure", "HiGHS", "Time limit reached"]),
    "memory": ("""
        import lpmech.loader as L
        def fail(*a, **k):
            noise()
            raise MemoryError()
        L.load = fail
        """, [], 2, ["inst.toml", "memory"]),
    "overflow": ("""
        import lpmech.solver as S
        def fail(*a, **k):
            noise()
            raise OverflowError("(34, 'Numerical result out of range')")
        S.solve = fail
        """, [], 2, ["inst.toml", "too large"]),
}


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    """Every case of CASES in ONE interpreter (helpers.cli_calls: each call's fd 1 and fd 2 apart,
    each patch undone after its call), each in its own directory holding only inst.toml."""
    dirs, calls = {}, []
    for case in sorted(CASES):
        patch, extra, _, _ = CASES[case]
        d = dirs[case] = tmp_path_factory.mktemp("injected")
        (d / "inst.toml").write_text(textwrap.dedent(SMALL))
        calls.append((["solve", d / "inst.toml", "--json", d / "r.json", "--plot", d / "f.png", *extra],
                      NOISE_PATCH + textwrap.dedent(patch)))
    return {case: (dirs[case], run) for case, run in zip(sorted(CASES), cli_calls(calls))}


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: c.replace(" ", "-"))
def test_failure_is_one_line_with_its_status(case, injected):
    _, _, status, needles = CASES[case]
    directory, (code, out, err) = injected[case]
    assert code == status, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lpmech: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert out == ""
    assert sorted(os.listdir(directory)) == ["inst.toml"]


def test_an_internal_bug_still_shows_its_traceback(small):
    """Nothing is caught silently: an exception that is not lpmech's own is a bug, and shows."""
    proc = run_injected("""
        import lpmech.solver as S
        def bug(*a, **k):
            raise ZeroDivisionError("internal bug")
        S.solve = bug
        """, "solve", small)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "ZeroDivisionError: internal bug" in proc.stderr


def test_real_bad_input_is_one_line(tmp_path):
    """No injection: a 400-digit integer and a huge `points` in a file (one interpreter)."""
    big = "9" * 400
    cases = [(f'side = "buy"\nbuyer_value = {big}\n[[agents]]\ngrid=[0.1]\nprobs=[1.0]\n', "buyer_value"),
             ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname="x"\ndistribution="uniform"\n'
              'points=100000000000\n', "points")]
    paths = []
    for k, (text, _) in enumerate(cases):
        paths.append(tmp_path / f"big{k}.toml")
        paths[-1].write_text(text)
    for (_, field), path, (code, out, err) in zip(cases, paths, cli_calls([["solve", p] for p in paths])):
        assert code == 2 and len(err.splitlines()) == 1, err
        assert path.name in err and f"'{field}'" in err and out == ""
