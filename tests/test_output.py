"""What the shell sees, tested as the shell sees it: ``lpmech`` run as a subprocess.

Standard output carries lpmech's own writes only (issue 9, kind 1): ``--json -`` is JSON and
nothing else, the text report starts with lpmech's first line, and neither a C library (HiGHS's
licence banner), a stray Python print nor a warning reaches stdout or stderr. Output files are
committed together, never overwrite an input or each other, are removed on SIGINT/SIGTERM, and
``--plot`` writes the format its extension names (kind 5).
"""

import json
import os
import pathlib
import select
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from helpers import SMALL_TOML, cli_calls, result_json

import lpmech

GRIDS = pathlib.Path(__file__).resolve().parent.parent / "grids"
GRID_FILES = sorted(GRIDS.glob("*.toml"))

SMALL = '\nname = "small"\n' + SMALL_TOML.lstrip()


def lpmech_cli(*args, cwd=None, timeout=300):
    """``python -m lpmech ARGS`` as a subprocess (what a user's shell sees)."""
    return subprocess.run([sys.executable, "-m", "lpmech", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def driver(code, *args, cwd=None, timeout=300):
    """Run a small Python driver (which may patch lpmech, then call lpmech.cli.main) as a subprocess."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout)


def temps(directory):
    return sorted(p for p in os.listdir(directory) if p.startswith(".lpmech-"))


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "inst.toml"
    path.write_text(textwrap.dedent(SMALL))
    return path


# --------------------------------------------------------------------------- kind 1: stdout is ours
def test_solve_json_stdout_is_json_only_in_the_shell():
    """The issue's own command in a fresh interpreter (HiGHS's banner would come first here)."""
    proc = lpmech_cli("solve", GRIDS / "uniform_pair.toml", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    data = result_json(proc.stdout)                # the WHOLE of stdout, validated against the schema
    assert data["status"] == "optimal" and np.isfinite(data["value"]) and proc.stderr == ""


TEXT_FIRST = ["uniform_pair.toml", "land_assembly.toml", "partial_veto.toml"]


@pytest.fixture(scope="module")
def shell_runs(tmp_path_factory):
    """Every command whose stdout a user reads, run in ONE fresh interpreter, each call with its
    own fd 1 / fd 2 (helpers.cli_calls). The first call is a text report: HiGHS's banner, printed
    once per process, would land in it."""
    out = tmp_path_factory.mktemp("shell")
    calls = {("text", name): ["solve", GRIDS / name] for name in TEXT_FIRST}
    calls.update({("json", path.name): ["solve", path, "--json", "-"] for path in GRID_FILES})
    calls[("compare", "json")] = ["compare", GRIDS / "correlated_sellers.toml", "--json", "-"]
    calls[("continuous", "method")] = ["solve", GRIDS / "software_example.toml", "--method", "continuous",
                                       "--json", "-"]
    calls[("continuous", "alias")] = ["solve", GRIDS / "software_example.toml", "--continuous", "--json", "-"]
    calls[("frontier", "")] = ["frontier", GRIDS / "partial_veto.toml", "--out", out / "f", "--lambdas", "0", "1",
                               "--no-progress"]
    return dict(zip(calls, cli_calls(list(calls.values())))), out


@pytest.mark.parametrize("path", GRID_FILES, ids=lambda p: p.name)
def test_solve_json_stdout_is_json_only(path, shell_runs):
    code, out, err = shell_runs[0][("json", path.name)]
    assert code == 0, err
    data = result_json(out)                        # the WHOLE of stdout, validated against the schema
    assert data["status"] == "optimal" and np.isfinite(data["value"])
    assert data["type_units"] == "per-share"
    assert err == ""


def test_compare_json_stdout_is_json_only(shell_runs):
    code, out, err = shell_runs[0][("compare", "json")]
    assert code == 0, err
    assert len(json.loads(out)["rows"]) == 4 and err == ""        # a compare document: no schema yet


@pytest.mark.parametrize("spelling", ["method", "alias"])
def test_continuous_json_stdout_is_json_only(spelling, shell_runs):
    code, out, err = shell_runs[0][("continuous", spelling)]
    assert code == 0, err
    data = result_json(out)
    assert data["formulation"] == "continuous" and err == ""
    # the talk's closed form for the software example: ω_1 = sqrt(3/7)
    assert data["omega"][0] == pytest.approx((3 / 7) ** 0.5, abs=1e-7)


@pytest.mark.parametrize("name", TEXT_FIRST)
def test_text_report_starts_with_lpmechs_first_line(name, shell_runs):
    code, out, err = shell_runs[0][("text", name)]
    assert code == 0, err
    inst = lpmech.load(GRIDS / name)
    first = out.splitlines()[0]
    if inst.independent and inst.mechanism.is_default:
        assert first == f"lpmech: {inst.name}"
    else:
        assert first.startswith("general LP, ")
    assert "Running HiGHS" not in out and "Copyright" not in out and err == ""


def test_frontier_writes_both_files(shell_runs):
    code, out, err = shell_runs[0][("frontier", "")]
    assert code == 0, err
    assert sorted(os.listdir(shell_runs[1] / "f")) == ["frontier.csv", "frontier.png"]
    assert out.startswith("lpmech frontier: 2 points") and err == ""


def test_library_leaves_stdout_alone():
    """The library alone (no CLI protection): HiGHS's banner must not reach fd 1."""
    proc = driver(f"""
        import lpmech, highspy
        lpmech.solve(lpmech.load({str(GRIDS / 'uniform_pair.toml')!r}))
        print("END", flush=True)
        highspy.Highs()                    # the banner is printed once per process: not again
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "END\n"


NOISY = """
    import os, warnings
    import numpy as np
    import lpmech.solver as S
    real = S.solve
    def noisy(*a, **k):
        os.write(1, b"FOREIGN C STDOUT\\n"); os.write(2, b"FOREIGN C STDERR\\n")
        print("foreign python print")
        warnings.warn("foreign warning", RuntimeWarning)
        np.log(np.zeros(1))            # numpy's divide-by-zero RuntimeWarning
        return real(*a, **k)
    S.solve = noisy
"""


def test_foreign_writes_do_not_reach_the_shell(small):
    """A dependency that writes to fd 1 and fd 2 from C, prints, and warns: none of it is seen,
    neither with --json - nor in the text report (one interpreter, each call's fds captured)."""
    (code, out, err), (text_code, text, text_err) = cli_calls([(["solve", small, "--json", "-"], NOISY),
                                                               (["solve", small], NOISY)])
    assert code == 0, err
    assert result_json(out)["value"] > 0
    assert err == ""
    assert text_code == 0 and text.splitlines()[0] == "lpmech: small" and "FOREIGN" not in text
    assert "foreign" not in text and text_err == ""


# --------------------------------------------------------------------------- kind 5: outputs
MAGIC = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<?xml"}


def test_plot_writes_the_format_its_extension_names(small, tmp_path):
    """png, PDF (upper-case extension) and svg, in one interpreter; the svg keeps its labels as
    text; and --json - with a plot keeps stdout pure JSON."""
    names = {fmt: f"fig.{fmt.upper() if fmt == 'pdf' else fmt}" for fmt in MAGIC}
    runs = cli_calls([["solve", small, "--plot", names[fmt]] for fmt in sorted(MAGIC)]
                     + [["solve", small, "--json", "-", "--plot", "f.svg"]], cwd=tmp_path)
    for fmt, (code, _out, err) in zip(sorted(MAGIC), runs):
        assert code == 0 and err == "", (fmt, err)
        data = (tmp_path / names[fmt]).read_bytes()
        assert data.startswith(MAGIC[fmt]), fmt
        if fmt == "svg":
            assert b"<svg" in data[:2000] and b"<text" in data and b"DejaVuSans-" not in data
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith("fig.")) == sorted(names.values())
    code, out, err = runs[-1]
    assert code == 0 and err == "", err
    assert result_json(out)["value"] > 0 and (tmp_path / "f.svg").read_bytes().startswith(MAGIC["svg"])


REFUSED_PLOTS = [("fig.jpg", "'.jpg'"), ("fig", "no extension"), ("-", "standard output")]


def _aliases(small, tmp_path):
    link = tmp_path / "link.toml"
    link.symlink_to(small)
    hard = tmp_path / "hard.toml"
    os.link(small, hard)
    return ["./inst.toml", f"../{tmp_path.name}/inst.toml", str(link), str(hard)]


FAILING_PLOT = """
    import lpmech.plot as P
    real = P.figure
    class Fig:
        def __init__(self, fig): self.fig = fig
        def savefig(self, path, **k):
            self.fig.savefig(path, **k)          # a partial file is on disk, then the disk fills up
            raise OSError(28, "No space left on device")
    P.figure = lambda result: Fig(real(result))
"""


@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    """The refused and failed outputs of kind 5, run in ONE interpreter (helpers.cli_calls), each
    scenario in its own directory holding only the instance: {scenario: (directory, runs)}."""
    dirs, calls = {}, {}
    for scenario in ("targets", "aliases", "two", "committed"):
        d = dirs[scenario] = tmp_path_factory.mktemp(scenario)
        (d / "inst.toml").write_text(textwrap.dedent(SMALL))
    calls["targets"] = [(["solve", "inst.toml", "--plot", target, "--json", "out.json"], "", dirs["targets"])
                        for target, _ in REFUSED_PLOTS]
    d = dirs["aliases"]
    calls["aliases"] = [(["solve", d / "inst.toml", "--json", alias], "", d) for alias in _aliases(d / "inst.toml", d)]
    d = dirs["two"]
    calls["two"] = [(["solve", d / "inst.toml", "--json", "x.png", "--plot", other], "", d)
                    for other in ["x.png", "./x.png", str(d / "x.png")]]
    d = dirs["committed"]
    calls["committed"] = [(["solve", d / "inst.toml", "--json", d / "r.json", "--plot", d / "f.png"], FAILING_PLOT)]
    runs = iter(cli_calls([call for scenario in calls for call in calls[scenario]]))
    after = {scenario: sorted(os.listdir(d)) for scenario, d in dirs.items()}
    return {scenario: (dirs[scenario], [next(runs) for _ in calls[scenario]], after[scenario]) for scenario in calls}


def test_plot_refuses_other_targets(refused):
    _, runs, listing = refused["targets"]
    for (target, needle), (code, out, err) in zip(REFUSED_PLOTS, runs):
        assert code == 2, (target, err)
        assert err.count("\n") == 1 and "--plot" in err and needle in err, (target, err)
        assert out == "", target
    assert listing == ["inst.toml"]


def test_output_naming_the_input_is_refused(refused):
    """--json naming the input by another path (relative, via .., a symbolic link, a hard link)."""
    directory, runs, listing = refused["aliases"]
    assert [code for code, _, _ in runs] == [2] * 4, runs
    for _, _, err in runs:
        assert err.count("\n") == 1 and "--json" in err and "is the input file" in err, err
    assert (directory / "inst.toml").read_text() == textwrap.dedent(SMALL)
    assert listing == ["hard.toml", "inst.toml", "link.toml"]


def test_two_outputs_on_one_path_are_refused(refused):
    _, runs, listing = refused["two"]
    assert [code for code, _, _ in runs] == [2] * 3, runs
    assert [err.count("also the output of --json") for _, _, err in runs] == [1] * 3
    assert [err.count("\n") for _, _, err in runs] == [1] * 3
    assert listing == ["inst.toml"]


def test_outputs_are_committed_together(refused):
    """The figure fails after the JSON was written: neither output, and no temporary file, remains."""
    _, [(code, out, err)], listing = refused["committed"]
    assert code == 2, err
    assert err.count("\n") == 1 and "No space left" in err and "none was written" in err
    assert listing == ["inst.toml"] and out == ""


SLOW_PLOT = """
    import sys, time
    import lpmech.plot as P
    from lpmech.cli import main
    real = P.figure
    class Fig:
        def __init__(self, fig): self.fig = fig
        def savefig(self, path, **k):
            self.fig.savefig(path, **k)
            print("WRITING", file=sys.stderr, flush=True)
            time.sleep(120)
    P.figure = lambda result: Fig(real(result))
    sys.exit(main(sys.argv[1:]))
"""


def _wait_for(proc, marker, timeout=120):
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 1.0)
        if ready:
            line = proc.stderr.readline()
            seen += line
            if marker in line:
                return
            if not line and proc.poll() is not None:
                break
    proc.kill()
    raise AssertionError(f"never saw {marker!r}; stderr so far: {seen!r}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)],
                         ids=["SIGTERM", "SIGINT"])
def test_signal_while_writing_leaves_no_temp_file(sig, small, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SLOW_PLOT), "solve", str(small), "--json",
                             str(tmp_path / "r.json"), "--plot", str(tmp_path / "f.png")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(proc, "WRITING")
        assert len(temps(tmp_path)) == 2            # both outputs are being written: the JSON, the figure
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, err
    assert err.strip().splitlines()[-1] == f"lpmech: interrupted by {signal.Signals(sig).name}; no output written"
    assert "Traceback" not in err and out == ""
    assert sorted(os.listdir(tmp_path)) == ["inst.toml"]


@pytest.mark.slow
def test_signal_during_the_renames_commits_every_output(small, tmp_path):
    """SIGTERM arrives while the first output is being renamed: the second is renamed too, and
    only then does the command stop (143)."""
    proc = driver("""
        import os, signal, sys
        import lpmech.files as F
        from lpmech.cli import main
        real = os.replace
        def replace(src, dst):
            if not getattr(replace, "sent", False):
                replace.sent = True
                os.kill(os.getpid(), signal.SIGTERM)
            real(src, dst)
        F.os.replace = replace
        sys.exit(main(sys.argv[1:]))
    """, "solve", small, "--json", tmp_path / "r.json", "--plot", tmp_path / "f.png")
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert proc.stderr.splitlines() == ["lpmech: interrupted by SIGTERM"]
    assert sorted(os.listdir(tmp_path)) == ["f.png", "inst.toml", "r.json"]
    assert result_json(tmp_path / "r.json")["value"] > 0
