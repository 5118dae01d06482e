"""The cvxpy model of the general LP prints nothing of its own (issue 9, kind 1): cvxpy's HiGHS
interface would make the process's first Highs object and HiGHS's licence banner would reach
the caller's standard output (seen running the README's example). Run in a fresh interpreter,
since the banner is printed once per process; the top-level exports are checked there too."""

import pathlib
import subprocess
import sys

PAIR = pathlib.Path(__file__).resolve().parent.parent / "grids" / "uniform_pair.toml"

SCRIPT = f"""
import lpmech
m = lpmech.general_model(lpmech.load({str(PAIR)!r}))
print(f"{{m.solve():.6f}}")
print(f"{{m.solve(extra_constraints=[m.m <= 0.45]):.6f}}")
print(lpmech.compare is __import__("lpmech.compare", fromlist=["compare"]).compare, callable(lpmech.frontier))
"""


def test_cvxpy_model_prints_nothing_and_is_exported():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.splitlines() == ["0.171700", "0.170372", "True True"], out.stdout
    assert "HiGHS" not in out.stderr
