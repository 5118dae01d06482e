"""lpmech.sweep: sweep files, sweeps on dask.distributed (a real scheduler and two worker
processes started here, and a LocalCluster), resumability, error rows, and the table's numbers
against lpmech.solve run directly and an independent LP (helpers.plain_bic_lp)."""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

from helpers import plain_bic_lp  # noqa: E402

import lpmech  # noqa: E402
from lpmech import sweep  # noqa: E402
from lpmech.errors import InstanceError  # noqa: E402

BASE = """\
name = "small pair"
side = "buy"
buyer_value = 1.0

[[agents]]
name = "north"
distribution = "uniform"
params = { loc = 0.0, scale = 1.0 }
points = 5

[[agents]]
name = "south"
grid = [0.1, 0.35, 0.6, 0.9]
probs = [0.3, 0.2, 0.25, 0.25]
"""

BUYER_VALUES = [0.6, 0.8, 1.0, 1.2, 1.4]


def _write(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    _write(d / "base.toml", BASE)
    return d


def _sweep_file(d, body: str, name: str = "sweep.toml") -> str:
    return _write(d / name, 'base = "base.toml"\n' + body)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """A real dask scheduler and two single-threaded workers, as subprocesses on localhost."""
    d = tmp_path_factory.mktemp("dask")
    sched_file = str(d / "scheduler.json")
    env = dict(os.environ)
    exe = [sys.executable, "-m"]
    procs = []
    log = open(d / "dask.log", "wb")
    try:
        procs.append(subprocess.Popen(exe + ["distributed.cli.dask_scheduler", "--scheduler-file", sched_file,
                                             "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
                                      stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(d)))
        deadline = time.monotonic() + 60
        while not os.path.exists(sched_file):
            if time.monotonic() > deadline or procs[0].poll() is not None:
                pytest.fail("the dask scheduler did not start: " + (d / "dask.log").read_text(errors="replace"))
            time.sleep(0.1)
        time.sleep(0.2)      # the file is written whole, but give the scheduler a moment to listen
        for _ in range(2):
            procs.append(subprocess.Popen(exe + ["distributed.cli.dask_worker", "--scheduler-file", sched_file,
                                                 "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                                          stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(d)))
        from distributed import Client

        client = Client(scheduler_file=sched_file, set_as_default=False, timeout="30s")
        try:
            client.wait_for_workers(2, timeout=60)
            yield {"file": sched_file, "address": client.scheduler.address}
        finally:
            client.close()
    finally:
        # the workers first (while the scheduler still answers them), then the scheduler
        for group in (procs[1:], procs[:1]):
            for p in group:
                p.terminate()
            for p in group:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        log.close()


def _direct(data: dict, source: str = "direct"):
    return lpmech.solve(lpmech.from_dict(data, source=source))


# --------------------------------------------------------------------------- sweep files
def test_product_and_zip_sizes_and_order(base_dir):
    product = sweep.load_sweep(_sweep_file(base_dir, """
[[vary]]
path = "buyer_value"
values = [0.8, 1.0, 1.2]
[[vary]]
path = "agents.0.params.scale"
start = 0.5
stop = 1.0
num = 2
""", "product.toml"))
    assert product.shape == (3, 2) and len(product) == 6 and len(product.points()) == 6
    pts = product.points()
    # the last path varies fastest; each point's instance dict carries its values
    assert [(p.values["buyer_value"], p.values["agents.0.params.scale"]) for p in pts] == \
        [(b, s) for b in (0.8, 1.0, 1.2) for s in (0.5, 1.0)]
    for p in pts:
        assert float(p.data["buyer_value"]) == p.values["buyer_value"]
        assert float(p.data["agents"][0]["params"]["scale"]) == p.values["agents.0.params.scale"]
    assert len({p.key for p in pts}) == 6
    zipped = sweep.load_sweep(_sweep_file(base_dir, """zip = true
[[vary]]
path = "buyer_value"
values = [0.8, 1.0, 1.2]
[[vary]]
path = "agents.1.share"
values = [0.3, 0.5, 0.7]
[[vary]]
path = "agents.0.share"
values = [0.7, 0.5, 0.3]
""", "zip.toml"))
    assert len(zipped) == 3 and zipped.shape == (3,)
    assert [(p.values["buyer_value"], p.values["agents.1.share"]) for p in zipped.points()] == \
        [(0.8, 0.3), (1.0, 0.5), (1.2, 0.7)]
    # the key is stable: the same file read twice gives the same keys
    again = sweep.load_sweep(product.source)
    assert [p.key for p in again.points()] == [p.key for p in pts]


BAD_SWEEPS = [
    ('base = "base.toml"\ncolour = 1\n[[vary]]\npath = "buyer_value"\nvalues = [1]\n', "colour"),
    ('base = "base.toml"\n', "vary"),
    ('[[vary]]\npath = "buyer_value"\nvalues = [1]\n', "base"),
    ('base = "missing.toml"\n[[vary]]\npath = "buyer_value"\nvalues = [1]\n', "base"),
    ('base = "base.toml"\n[[vary]]\nvalues = [1]\n', "vary[0].path"),
    ('base = "base.toml"\n[[vary]]\npath = "buyer_value"\n', "vary[0].values"),
    ('base = "base.toml"\n[[vary]]\npath = "buyer_value"\nvalues = [1]\nstart = 0\n', "vary[0].values"),
    ('base = "base.toml"\n[[vary]]\npath = "buyer_value"\nvalues = []\n', "vary[0].values"),
    ('base = "base.toml"\n[[vary]]\npath = "buyer_value"\nstart = 0\nstop = 1\nnum = 2.5\n', "vary[0].num"),
    ('base = "base.toml"\n[[vary]]\npath = "buyer_value"\nstart = 0\nstop = 1\n', "vary[0].num"),
    ('base = "base.toml"\n[[vary]]\npath = "agents.5.share"\nvalues = [0.5]\n', "vary[0].path"),
    ('base = "base.toml"\n[[vary]]\npath = "buyer_value.x"\nvalues = [0.5]\n', "vary[0].path"),
    ('base = "base.toml"\n[[vary]]\npath = "agents.name"\nvalues = [0.5]\n', "vary[0].path"),
    ('base = "base.toml"\n[[vary]]\npath = "buyer_value"\nvalues = [1]\n[[vary]]\npath = "buyer_value"\n'
     'values = [2]\n', "vary[1].path"),
    ('base = "base.toml"\nzip = true\n[[vary]]\npath = "buyer_value"\nvalues = [1, 2]\n[[vary]]\n'
     'path = "agents.0.points"\nvalues = [3]\n', "zip"),
    ('base = "base.toml"\n[[vary]]\npath = "buyer_value"\nvalues = [1]\n[solve]\nmethod = "fast"\n', "solve.method"),
    ('base = "base.toml"\n[[vary]]\npath = "buyer_value"\nvalues = [1]\n[solve]\nic = "strong"\n', "solve.ic"),
    ('base = "base.toml"\n[[vary]]\npath = "buyer_value"\nvalues = [1]\n[solve]\ncompare = "yes"\n', "solve.compare"),
    ('base = "base.toml"\n[[vary]]\npath = "buyer_value"\nvalues = [1]\n[solve]\nspeed = 1\n', "solve.speed"),
    ('[random]\nseed = 1\n', "random.count"),
    ('[random]\ncount = 0\n', "random.count"),
    ('[random]\ncount = 3\nagents = [4, 2]\n', "random.agents"),
    ('base = "base.toml"\n[random]\ncount = 3\n', "base"),
]


@pytest.mark.parametrize("text,field", BAD_SWEEPS)
def test_bad_sweep_files(base_dir, text, field):
    path = _write(base_dir / "bad.toml", text)
    with pytest.raises(InstanceError) as info:
        sweep.load_sweep(path)
    err = info.value
    assert err.source == path and err.field == field
    assert "\n" not in str(err) and str(err).startswith(path)


def test_unreadable_sweep_files(base_dir):
    with pytest.raises(InstanceError, match="no such file"):
        sweep.load_sweep(base_dir / "nope.toml")
    path = _write(base_dir / "broken.toml", "base = \n")
    with pytest.raises(InstanceError, match="invalid TOML") as info:
        sweep.load_sweep(path)
    assert info.value.source == path


def test_row_of_general_and_maximin_results():
    inst = lpmech.Instance("buy", [lpmech.Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    row = sweep.row_of(lpmech.solve(inst))
    assert row["value"] == pytest.approx(0.3125) and row["formulation"] == "maximin"
    assert row["omega_a_lo"] <= row["omega_a"] <= row["omega_a_hi"]
    general = lpmech.solve(inst.with_mechanism(ic="dominant", participation="ex-post"))
    grow = sweep.row_of(general)
    assert grow["formulation"] == "general" and grow["value"] == pytest.approx(0.25)
    assert not any(k.startswith("omega_") for k in grow)
    assert math.isnan(grow["ratio"]) and math.isnan(grow["posted_price"])
    # E[x] from the allocation and the pmf, computed here by hand
    x = np.asarray(general.allocation)
    assert grow["trade_probability"] == pytest.approx(float((x * 0.25).sum()), rel=1e-12)


# --------------------------------------------------------------------------- sweeps on dask
def test_sweep_on_real_scheduler_matches_direct_solves(base_dir, scheduler, tmp_path):
    spec = sweep.load_sweep(_sweep_file(base_dir, f"""
[[vary]]
path = "buyer_value"
values = {BUYER_VALUES}
[solve]
compare = true
""", "real.toml"))
    out = tmp_path / "out"
    outcome = sweep.run_sweep(spec, out, scheduler=scheduler["address"], progress=False)
    table = outcome.table
    assert outcome.workers == 2 and outcome.solved == 5 and outcome.skipped == 0
    assert list(table["buyer_value"]) == BUYER_VALUES and set(table["status"]) == {"optimal"}
    for col in ("value", "omega_north", "omega_north_lo", "omega_north_hi", "omega_south", "posted_price",
                "posted_value", "ratio", "trade_probability", "formulation", "status", "error", "seconds",
                "value_bic_interim", "value_dsic_expost", "first_best"):
        assert col in table.columns, col
    for point, (_, row) in zip(spec.points(), table.iterrows()):
        direct = _direct(point.data)
        assert row["value"] == pytest.approx(direct.value, rel=1e-12)
        assert row["omega_north"] == pytest.approx(direct.omega[0], abs=1e-12)
        assert row["omega_south_hi"] == pytest.approx(direct.omega_range[1, 1], abs=1e-12)
        assert row["posted_value"] == pytest.approx(direct.posted.value, rel=1e-12)
        assert row["ratio"] == pytest.approx(direct.ratio, rel=1e-12)
        # independent formulations: a plain BIC/IR LP written from the definitions, and the general LP
        reference = plain_bic_lp(lpmech.from_dict(point.data))
        assert row["value"] == pytest.approx(reference, rel=1e-7, abs=1e-12)
        assert row["value_bic_interim"] == pytest.approx(row["value"], rel=1e-7)
        assert row["value_dsic_expost"] <= row["value"] * (1 + 1e-9) <= row["first_best"] * (1 + 1e-9)
    # the files: parquet and csv hold the same table; sweep.json the sweep file and the provenance
    parquet = pd.read_parquet(out / "results.parquet")
    csv = pd.read_csv(out / "results.csv")
    assert list(parquet.columns) == list(table.columns) == list(csv.columns)
    assert np.allclose(parquet["value"], csv["value"], rtol=1e-15) and np.allclose(parquet["value"], table["value"])
    record = json.loads((out / "sweep.json").read_text())
    assert record["sweep_text"] == open(spec.source, encoding="utf-8").read()
    assert record["provenance"]["sha256"] and record["provenance"]["lpmech"] == lpmech.__version__
    assert record["status_counts"] == {"optimal": 5} and record["workers"] == 2
    assert (out / "sweep.png").stat().st_size > 1000
    assert not [f for f in os.listdir(out) if f.startswith(".lpmech-")]


def test_resume_and_error_rows(base_dir, scheduler, tmp_path):
    spec = sweep.load_sweep(_sweep_file(base_dir, """
[[vary]]
path = "agents.1.probs"
values = [[0.3, 0.2, 0.25, 0.25], [0.5, 0.7, -0.3, 0.1], [0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25]]
""", "resume.toml"))
    out = tmp_path / "out"
    first = sweep.run_sweep(spec, out, scheduler=scheduler["file"], progress=False)
    t = first.table
    assert first.solved == 4 and list(t["status"]) == ["optimal", "error", "optimal", "optimal"]
    err = t.loc[1, "error"]
    assert "'south'" in err and "probs" in err and "\n" not in err and spec.base in err
    assert math.isnan(t.loc[1, "value"]) and first.failed == 0
    for k in (0, 2, 3):
        assert t.loc[k, "value"] == pytest.approx(_direct(spec.points()[k].data).value, rel=1e-12)
    # a rerun solves nothing
    second = sweep.run_sweep(spec, out, scheduler=scheduler["file"], progress=False)
    assert second.solved == 0 and second.skipped == 4
    pd.testing.assert_frame_equal(second.table.drop(columns="seconds"), t.drop(columns="seconds"))
    # delete one row (and leave a torn line, as an interrupted run would): exactly one is solved
    jsonl = out / "points.jsonl"
    lines = jsonl.read_text().splitlines()
    assert len(lines) == 4
    dropped = json.loads(lines[2])["index"]
    jsonl.write_text("\n".join(lines[:2] + lines[3:]) + "\n" + lines[2][:25])
    third = sweep.run_sweep(spec, out, scheduler=scheduler["file"], progress=False)
    assert third.solved == 1 and third.skipped == 3
    pd.testing.assert_frame_equal(third.table.drop(columns="seconds"), t.drop(columns="seconds"))
    assert json.loads(jsonl.read_text().splitlines()[-1])["index"] == dropped
    # a row recorded as crashed (a worker that died) is solved again; the others are not
    rows = [json.loads(line) for line in jsonl.read_text().splitlines() if line.startswith("{") and
            line.endswith("}")]
    rows[0]["status"] = "crashed"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    fourth = sweep.run_sweep(spec, out, scheduler=scheduler["file"], progress=False)
    assert fourth.solved == 1 and fourth.table.loc[rows[0]["index"], "status"] == t.loc[rows[0]["index"], "status"]


def test_random_sweep_and_map_points(scheduler, tmp_path):
    path = _write(tmp_path / "random.toml", "[random]\ncount = 4\nseed = 3\nagents = [2, 3]\npoints = 4\n")
    outcome = sweep.run_sweep(path, tmp_path / "out", scheduler=scheduler["address"], progress=False)
    t = outcome.table
    assert list(t["draw"]) == [0, 1, 2, 3] and set(t["status"]) == {"optimal"}
    for k, row in t.iterrows():
        data = sweep.random_instance(3, k, agents=(2, 3), points=4)
        assert row["agents"] == len(data["agents"])
        assert row["value"] == pytest.approx(_direct(data).value, rel=1e-12)
    assert (tmp_path / "out" / "sweep.png").exists()
    # map_points keeps the items' order, and raises a task's error
    assert sweep.map_points(math.factorial, [5, 3, 0, 4], scheduler=scheduler["address"], progress=False) == \
        [120, 6, 1, 24]
    with pytest.raises(ValueError):
        sweep.map_points(math.sqrt, [4.0, -1.0], scheduler=scheduler["address"], progress=False)


@pytest.mark.slow
def test_command_on_a_local_cluster(base_dir, tmp_path):
    """The default path: a LocalCluster of worker processes started and closed by run_sweep. (Slow:
    a second cluster; the default run's LocalCluster is the notebook's, test_example_notebook_executes.)"""
    path = _sweep_file(base_dir, """
[[vary]]
path = "buyer_value"
start = 0.75
stop = 1.25
num = 3
[solve]
method = "lp"
""", "local.toml")
    parser = argparse.ArgumentParser()
    sweep.add_parser(parser.add_subparsers())
    args = parser.parse_args(["sweep", path, "--out", str(tmp_path / "out"), "--workers", "1"])
    out = io.StringIO()

    class Run:
        committed = False

    run = Run()
    run.out = out
    assert args.func(args, run) == 0
    text = out.getvalue()
    assert "3 points (3 solved now, 0 already done): 3 optimal; 1 worker(s)" in text
    assert "\r" not in text                        # no progress bar: the output is not a terminal
    table = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert np.allclose(table["buyer_value"], [0.75, 1.0, 1.25])
    assert table["value"].is_monotonic_increasing
    # bad arguments are InstanceErrors naming the option
    with pytest.raises(InstanceError) as info:
        sweep.run_sweep(path, tmp_path / "out2", scheduler="tcp://127.0.0.1:1", workers=2)
    assert info.value.field == "--workers"


def test_workers_with_a_scheduler_is_an_instance_error(base_dir, tmp_path):
    """--workers sizes a LocalCluster: with a scheduler address it is bad input naming the option
    (refused before any connection: nothing listens on port 1)."""
    path = _sweep_file(base_dir, """
[[vary]]
path = "buyer_value"
values = [0.75, 1.0]
""", "workers.toml")
    with pytest.raises(InstanceError) as info:
        sweep.run_sweep(path, tmp_path / "out2", scheduler="tcp://127.0.0.1:1", workers=2)
    assert info.value.field == "--workers"


@pytest.mark.integration
def test_example_notebook_executes():
    """examples/workflow.ipynb (a solve, the views, a compare, a sweep on a LocalCluster, the
    figures) runs top to bottom, its own asserts included (issue 12, item 7)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    examples = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
    nb = nbformat.read(os.path.join(examples, "workflow.ipynb"), as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": examples}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "40 points (40 solved now, 0 already done): 40 optimal" in text
