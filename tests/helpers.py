"""Independent computations the tests compare lpmech against (written without lpmech's code)."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import linprog


def random_instance(rng: np.random.Generator, n: int, k: int, side: str = "buy", total: bool = False):
    import lpmech

    agents = []
    shares = rng.dirichlet(np.ones(n)) * 0.9 + 0.1 / n
    shares = shares / shares.sum()
    for i in range(n):
        grid = np.cumsum(rng.uniform(0.05, 1.0, size=k))
        probs = rng.dirichlet(np.ones(k)) * 0.8 + 0.2 / k
        agents.append(lpmech.Agent(f"a{i}", grid.round(6), (probs / probs.sum()), float(shares[i])))
    mean_top = float(np.mean([a.grid.mean() for a in agents]))
    if side == "buy":
        return lpmech.Instance("buy", agents, buyer_value=round(float(rng.uniform(0.5, 1.5) * mean_top), 6),
                               types="total" if total else "per-share")
    return lpmech.Instance("sell", agents, seller_cost=round(float(rng.uniform(0.0, 0.8) * mean_top), 6),
                           types="total" if total else "per-share")


def plain_bic_lp(instance) -> float:
    """max E[designer profit] over ex post (x, m) with every BIC and interim IR row, by linprog.

    Written directly from the model's definitions (docs/model.md, section 2), in user units, with
    a loop over profiles: the independent reference for the maximin LP.
    """
    shape = instance.shape
    profiles = list(itertools.product(*[range(k) for k in shape]))
    n_prof = len(profiles)
    probs = instance.probs
    pmf = np.array([np.prod([probs[i][t[i]] for i in range(instance.n)]) for t in profiles])
    sign = 1.0 if instance.side == "buy" else -1.0  # agent's per-share payoff = sign * (m - θ x)
    rows, rhs = [], []
    for i in range(instance.n):
        grid = instance.grids[i]
        # interim operator: E[f(s, θ_-i)] as a row over profiles, for report s
        interim = np.zeros((shape[i], n_prof))
        for col, t in enumerate(profiles):
            interim[t[i], col] = pmf[col] / probs[i][t[i]]
        for t in range(shape[i]):
            u_true = sign * np.concatenate([-grid[t] * interim[t], interim[t]])   # over (x, m)
            rows.append(-u_true)                                                  # IR: u_true >= 0
            rhs.append(0.0)
            for s in range(shape[i]):
                if s != t:
                    u_dev = sign * np.concatenate([-grid[t] * interim[s], interim[s]])
                    rows.append(u_dev - u_true)                                   # IC: u_dev <= u_true
                    rhs.append(0.0)
    if instance.side == "buy":
        c = -np.concatenate([instance.buyer_value * pmf, -pmf])
    else:
        c = -np.concatenate([-instance.seller_cost * pmf, pmf])
    bounds = [(0, 1)] * n_prof + [(None, None)] * n_prof
    res = linprog(c, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return -res.fun


def gcm_slopes(phi: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Ironed φ̄ by the max-min formula for the greatest convex minorant's slopes."""
    F = np.concatenate([[0.0], np.cumsum(probs)])
    H = np.concatenate([[0.0], np.cumsum(probs * phi)])
    k = phi.size
    out = np.empty(k)
    for j in range(k):
        out[j] = max(min((H[hi] - H[lo]) / (F[hi] - F[lo]) for hi in range(j + 1, k + 1)) for lo in range(0, j + 1))
    return out


def examples(thorough: int, ci: int = 10) -> int:
    """Hypothesis ``max_examples`` for a property test in the default run: ``ci`` (small) under
    the default "ci" profile, ``thorough`` under LPMECH_HYPOTHESIS_PROFILE=thorough (conftest.py)."""
    import os

    return thorough if os.environ.get("LPMECH_HYPOTHESIS_PROFILE", "ci") == "thorough" else min(ci, thorough)


_VALIDATOR = None


def result_json(source):
    """Parse an lpmech result document (``lpmech solve --json``) and validate it against the
    package's JSON Schema (lpmech/schemas/result.schema.json); return the parsed dict.

    ``source``: the JSON text, or a path (pathlib.Path) to a file holding it. Use this wherever
    a test parses lpmech's result JSON, so every such document is checked against the contract.
    """
    import json
    import pathlib

    import jsonschema

    global _VALIDATOR
    if _VALIDATOR is None:
        from lpmech.schemas import result_schema

        schema = result_schema()
        jsonschema.Draft202012Validator.check_schema(schema)
        _VALIDATOR = jsonschema.Draft202012Validator(schema)
    text = source.read_text() if isinstance(source, pathlib.Path) else source
    data = json.loads(text)
    _VALIDATOR.validate(data)
    return data


# --------------------------------------------------------------------------- several CLI runs, one interpreter
_CALLS_DRIVER = r'''
import json, os, sys, warnings
warnings.simplefilter("always")          # a repeated warning is emitted every time, never deduplicated
from lpmech.cli import main
calls, capture = json.loads(sys.argv[1]), sys.argv[2]
codes = []
for k, call in enumerate(calls):
    touched = {}
    if call["patch"]:
        before = {name: dict(vars(mod)) for name, mod in list(sys.modules.items())
                  if name == "lpmech" or name.startswith("lpmech.")}
        exec(call["patch"], {"__name__": f"patch{k}"})
    if call["cwd"]:
        os.chdir(call["cwd"])
    sys.stdout.flush(); sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    out = os.open(os.path.join(capture, f"{k}.out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    err = os.open(os.path.join(capture, f"{k}.err"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out, 1); os.dup2(err, 2)
    try:
        try:
            code = main(call["args"])
        except SystemExit as exc:
            code = exc.code
    finally:
        sys.stdout.flush(); sys.stderr.flush()
        os.dup2(saved[0], 1); os.dup2(saved[1], 2)
        for fd in (*saved, out, err):
            os.close(fd)
    if call["patch"]:                     # undo the patch: every lpmech module as it was
        for name, attrs in before.items():
            mod = sys.modules[name]
            for key in [key for key in vars(mod) if key not in attrs]:
                delattr(mod, key)
            for key, value in attrs.items():
                if vars(mod).get(key, object()) is not value:
                    setattr(mod, key, value)
    codes.append(code)
print("CODES " + json.dumps(codes))
'''


def cli_calls(calls, cwd=None, timeout=600):
    """Run several ``lpmech.cli.main(args)`` calls in ONE fresh interpreter (a subprocess, so what
    reaches file descriptors 1 and 2, C libraries' writes included, is seen), each call with its
    own captured fd 1 and fd 2. This saves the ~1 s interpreter and import start-up per call.

    Parameters
    ----------
    calls : list of list of str, or list of (args, patch) or (args, patch, cwd)
        The command lines (without ``lpmech``); with ``patch``, Python source executed in the
        subprocess just before that call (e.g. replacing an lpmech function), undone after it;
        with ``cwd``, the working directory of that call.
    cwd : path-like, optional
        Working directory of the subprocess (of every call without its own).

    Returns
    -------
    list of (int, str, str)
        Per call: exit status, everything written to fd 1, everything written to fd 2.
    """
    import json
    import subprocess
    import sys
    import tempfile
    import textwrap

    items = []
    for call in calls:
        args, patch, call_cwd = (*call, None)[:3] if isinstance(call, tuple) else (call, "", None)
        items.append({"args": [str(a) for a in args], "patch": textwrap.dedent(patch or ""),
                      "cwd": None if call_cwd is None else str(call_cwd)})
    with tempfile.TemporaryDirectory(prefix="cli-calls-") as capture:
        proc = subprocess.run([sys.executable, "-c", _CALLS_DRIVER, json.dumps(items), capture], check=False,
                              capture_output=True, text=True, cwd=cwd, timeout=timeout)
        last = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
        assert proc.returncode == 0 and last and last[0].startswith("CODES "), \
            f"the driver failed (status {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        codes = json.loads(last[0][len("CODES "):])
        results = []
        for k, code in enumerate(codes):
            with open(f"{capture}/{k}.out", encoding="utf-8") as f_out, \
                    open(f"{capture}/{k}.err", encoding="utf-8") as f_err:
                results.append((code, f_out.read(), f_err.read()))
    return results


#: A two-seller instance small enough for every command (tests write it into files).
SMALL_TOML = """
side = "buy"
buyer_value = 1.0

[[agents]]
name = "a"
grid = [0.2, 0.6]
probs = [0.5, 0.5]

[[agents]]
name = "b"
grid = [0.3, 0.9]
probs = [0.4, 0.6]
"""


def run_cli(*args, timeout: float = 120):
    """``python -m lpmech ARGS`` as a subprocess (what a user's shell sees); the CompletedProcess."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "lpmech", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
