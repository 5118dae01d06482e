"""Output paths that are not plain files to replace: devices, pipes, symbolic links, directory
names the file system refuses, and '-' where a directory is needed (issue 9, kind 5).

Each must be refused with exit status 2 and one line naming the option (a device or pipe would
otherwise be replaced by a regular file: as root, ``--json /dev/null`` turned /dev/null into a
file), or written through the link (the link stays, its target is replaced).
"""

import json
import os
import pathlib
import stat

import pytest

from lpmech.cli import main

GRIDS = pathlib.Path(__file__).resolve().parent.parent / "grids"
PAIR = str(GRIDS / "uniform_pair.toml")


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_device_is_refused_and_left_alone(capsys):
    before = os.stat(os.devnull)
    code, out, err = run(["solve", PAIR, "--json", os.devnull], capsys)
    after = os.stat(os.devnull)
    assert code == 2 and "--json" in err and "not a regular file" in err and len(err.strip().splitlines()) == 1
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_fifo_is_refused_and_left_alone(tmp_path, capsys):
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    code, _, err = run(["solve", PAIR, "--json", str(fifo)], capsys)
    assert code == 2 and "not a regular file" in err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".lpmech-")]


def test_symlink_is_written_through(tmp_path, capsys):
    real = tmp_path / "real.json"
    real.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    code, _, err = run(["solve", PAIR, "--json", str(link)], capsys)
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text())["status"] == "optimal"


@pytest.mark.parametrize("command", [["solve", PAIR, "--csv"], ["frontier", PAIR, "--lambdas", "0", "--out"]])
def test_directory_the_file_system_refuses_is_one_line(tmp_path, capsys, command):
    name = str(tmp_path / ("a" * 300))
    code, _, err = run([*command, name], capsys)
    assert code == 2 and "cannot create directory" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_dash_is_not_a_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["solve", PAIR, "--csv", "-"], capsys)
    assert code == 2 and "--csv" in err
    assert os.listdir(tmp_path) == []
