"""lpmech: optimal mechanisms for trading with a group, by linear programming.

A buyer wants a good that N agents own jointly, or a seller sells to a group that pays
together; money moves in fixed shares and every agent holds a veto. lpmech discretizes the
agents' private types into grids, solves the designer's maximin LP with HiGHS, returns the
agents' weights ω (the LP's duals) beside the mechanism, and cross-checks everything against
the closed form x_ω of Haghpanah, Kuvalekar and Lipnowski ("Selling to a Group", EC 2021;
"Buying from a Group", 2024).

>>> import lpmech
>>> inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution(n, "uniform", {}, 10) for n in "ab"],
...                        buyer_value=1.0)
>>> res = lpmech.solve(inst)
>>> round(res.value, 6)
0.1925
"""

__version__ = "0.1.0"  # the one definition (pyproject.toml reads it)

from .audit import Audit, verify

# `compare` and `frontier` are functions at the top level (the module stays importable as
# `from lpmech.compare import ...`)
from .compact import CompactMechanism
from .compare import compare, frontier
from .errors import CertificateError, CheckError, InstanceError, LpmechError, OutputError, SolverError
from .instance import Agent, Instance, Mechanism
from .loader import from_dict, load
from .posted import best_posted_price
from .result import Result, SolveResult
from .solver import METHODS, solve


def __getattr__(name: str):
    """The extensible cvxpy model of the general LP, imported on first use (cvxpy is slow to import):
    ``lpmech.general_model(instance)`` (:func:`lpmech.model.model`) and ``lpmech.GeneralModel``."""
    if name in ("general_model", "GeneralModel"):
        from . import model

        return model.model if name == "general_model" else model.GeneralModel
    raise AttributeError(f"module 'lpmech' has no attribute {name!r}")


__all__ = [
    "Agent",
    "Instance",
    "InstanceError",
    "Mechanism",
    "load",
    "from_dict",
    "solve",
    "METHODS",
    "Result",
    "SolveResult",
    "CompactMechanism",
    "verify",
    "Audit",
    "best_posted_price",
    "compare",
    "frontier",
    "general_model",
    "GeneralModel",
    "LpmechError",
    "CheckError",
    "SolverError",
    "CertificateError",
    "OutputError",
]
