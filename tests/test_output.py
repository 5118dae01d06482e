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

import lpmech

GRIDS = pathlib.Path(__file__).resolve().parent.parent / "grids"
GRID_FILES = sorted(GRIDS.glob("*.toml"))

SMALL = """
name = "small"
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
@pytest.mark.parametrize("path", GRID_FILES, ids=lambda p: p.name)
def test_solve_json_stdout_is_json_only(path):
    proc = lpmech_cli("solve", path, "--json", "-")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)                 # the WHOLE of stdout
    assert data["status"] == "optimal" and np.isfinite(data["value"])
    assert data["type_units"] == "per-share"
    assert proc.stderr == ""


def test_compare_json_stdout_is_json_only():
    proc = lpmech_cli("compare", GRIDS / "correlated_sellers.toml", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["rows"]) == 4 and proc.stderr == ""


@pytest.mark.parametrize("spelling", [["--method", "continuous"], ["--continuous"]], ids=["method", "alias"])
def test_continuous_json_stdout_is_json_only(spelling):
    proc = lpmech_cli("solve", GRIDS / "software_example.toml", *spelling, "--json", "-")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["formulation"] == "continuous" and proc.stderr == ""
    # the talk's closed form for the software example: ω_1 = sqrt(3/7)
    assert data["omega"][0] == pytest.approx((3 / 7) ** 0.5, abs=1e-7)


@pytest.mark.parametrize("name", ["uniform_pair.toml", "land_assembly.toml", "partial_veto.toml"])
def test_text_report_starts_with_lpmechs_first_line(name):
    proc = lpmech_cli("solve", GRIDS / name)
    assert proc.returncode == 0, proc.stderr
    inst = lpmech.load(GRIDS / name)
    first = proc.stdout.splitlines()[0]
    if inst.independent and inst.mechanism.is_default:
        assert first == f"lpmech: {inst.name}"
    else:
        assert first.startswith("general LP, ")
    assert "HiGHS 1." not in proc.stdout.splitlines()[0] and proc.stderr == ""


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


def test_foreign_writes_do_not_reach_the_shell(small):
    """A dependency that writes to fd 1 and fd 2 from C, prints, and warns: none of it is seen."""
    proc = driver("""
        import os, sys, warnings
        import numpy as np
        import lpmech.solver as S
        from lpmech.cli import main
        real = S.solve
        def noisy(*a, **k):
            os.write(1, b"FOREIGN C STDOUT\\n"); os.write(2, b"FOREIGN C STDERR\\n")
            print("foreign python print")
            warnings.warn("foreign warning", RuntimeWarning)
            np.log(np.zeros(1))            # numpy's divide-by-zero RuntimeWarning
            return real(*a, **k)
        S.solve = noisy
        sys.exit(main(sys.argv[1:]))
    """, "solve", small, "--json", "-")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["value"] > 0
    assert proc.stderr == ""
    text = driver("""
        import os, sys
        import lpmech.solver as S
        from lpmech.cli import main
        real = S.solve
        def noisy(*a, **k):
            os.write(1, b"FOREIGN C STDOUT\\n")
            return real(*a, **k)
        S.solve = noisy
        sys.exit(main(sys.argv[1:]))
    """, "solve", small)
    assert text.returncode == 0 and text.stdout.splitlines()[0] == "lpmech: small" and "FOREIGN" not in text.stdout


# --------------------------------------------------------------------------- kind 5: outputs
MAGIC = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<?xml"}


@pytest.mark.parametrize("fmt", sorted(MAGIC))
def test_plot_writes_the_format_its_extension_names(fmt, small, tmp_path):
    proc = lpmech_cli("solve", small, "--plot", tmp_path / f"fig.{fmt.upper() if fmt == 'pdf' else fmt}")
    assert proc.returncode == 0, proc.stderr
    written = [p for p in os.listdir(tmp_path) if p.startswith("fig.")]
    assert len(written) == 1 and (tmp_path / written[0]).read_bytes().startswith(MAGIC[fmt])
    if fmt == "svg":
        assert b"<svg" in (tmp_path / written[0]).read_bytes()[:2000]


@pytest.mark.parametrize("target,needle", [("fig.jpg", "'.jpg'"), ("fig", "no extension"), ("-", "standard output")])
def test_plot_refuses_other_targets(target, needle, small, tmp_path):
    proc = lpmech_cli("solve", small, "--plot", target, "--json", "out.json", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--plot" in proc.stderr and needle in proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["inst.toml"] and proc.stdout == ""


def _aliases(small, tmp_path):
    link = tmp_path / "link.toml"
    link.symlink_to(small)
    hard = tmp_path / "hard.toml"
    os.link(small, hard)
    return ["./inst.toml", f"../{tmp_path.name}/inst.toml", str(link), str(hard)]


MAIN_EACH = """
    import sys
    from lpmech.cli import main
    for args in sys.argv[1:]:
        print(main(args.split("|")), flush=True)
"""


def test_output_naming_the_input_is_refused(small, tmp_path):
    """--json naming the input by another path (relative, via .., a symbolic link, a hard link)."""
    before = small.read_bytes()
    aliases = _aliases(small, tmp_path)
    proc = driver(MAIN_EACH, *(f"solve|{small}|--json|{alias}" for alias in aliases), cwd=tmp_path)
    assert proc.stdout.split() == ["2"] * len(aliases), proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == len(aliases)
    assert all("--json" in line and "is the input file" in line for line in lines), lines
    assert small.read_bytes() == before
    assert temps(tmp_path) == []


def test_two_outputs_on_one_path_are_refused(small, tmp_path):
    others = ["x.png", "./x.png", str(tmp_path / "x.png")]
    proc = driver(MAIN_EACH, *(f"solve|{small}|--json|x.png|--plot|{other}" for other in others), cwd=tmp_path)
    assert proc.stdout.split() == ["2"] * len(others), proc.stderr
    assert [line.count("also the output of --json") for line in proc.stderr.splitlines()] == [1] * len(others)
    assert sorted(os.listdir(tmp_path)) == ["inst.toml"]


def test_json_to_stdout_with_a_plot_keeps_stdout_json(small, tmp_path):
    proc = lpmech_cli("solve", small, "--json", "-", "--plot", "f.svg", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["value"] > 0 and (tmp_path / "f.svg").exists()


FAILING_PLOT = """
    import sys
    import lpmech.plot as P
    from lpmech.cli import main
    real = P.figure
    class Fig:
        def __init__(self, fig): self.fig = fig
        def savefig(self, path, **k):
            self.fig.savefig(path, **k)          # a partial file is on disk, then the disk fills up
            raise OSError(28, "No space left on device")
    P.figure = lambda result: Fig(real(result))
    sys.exit(main(sys.argv[1:]))
"""


def test_outputs_are_committed_together(small, tmp_path):
    """The figure fails after the JSON was written: neither output, and no temporary file, remains."""
    proc = driver(FAILING_PLOT, "solve", small, "--json", tmp_path / "r.json", "--plot", tmp_path / "f.png")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "No space left" in proc.stderr and "none was written" in proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["inst.toml"]


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


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
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


def test_frontier_writes_both_files(tmp_path):
    proc = lpmech_cli("frontier", GRIDS / "partial_veto.toml", "--out", tmp_path / "f", "--lambdas", "0", "1",
                      "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(tmp_path / "f")) == ["frontier.csv", "frontier.png"]
    assert proc.stdout.startswith("lpmech frontier: 2 points") and proc.stderr == ""


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
    assert json.loads((tmp_path / "r.json").read_text())["value"] > 0
