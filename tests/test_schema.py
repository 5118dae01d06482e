"""The result document is a contract: every grids/ file, solved by every method that applies
through the command line, writes JSON that validates against lpmech/schemas/result.schema.json,
with the same top-level keys for every formulation, and the methods agree on the common keys."""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np
import pytest
from helpers import result_json

import lpmech
from lpmech.cli import main
from lpmech.result import INTERIM_KEYS, JSON_KEYS
from lpmech.schemas import result_schema

GRIDS = pathlib.Path(__file__).resolve().parent.parent / "grids"
FILES = sorted(p.name for p in GRIDS.glob("*.toml"))
GRID_METHODS = ("lp", "structured", "general")
_CACHE: dict = {}


def solved(name: str, method: str, tmp_path_factory, capsys):
    """(exit status, JSON document or None, stderr) of ``lpmech solve grids/NAME --method METHOD``.

    Cached per (file, method) for the tests of this module, stderr included, so a test finds the
    same answer whichever test ran the command first."""
    key = (name, method)
    if key not in _CACHE:
        out = tmp_path_factory.mktemp("json") / "r.json"
        capsys.readouterr()
        code = main(["solve", str(GRIDS / name), "--method", method, "--json", str(out)])
        _CACHE[key] = (code, result_json(out) if code == 0 else None, capsys.readouterr().err)
    return _CACHE[key]


def applies(name: str, method: str) -> bool:
    inst = lpmech.load(GRIDS / name)
    if method == "auto":
        return True
    if method == "continuous":
        return all(a.distribution is not None for a in inst.agents) and inst.independent \
            and inst.mechanism.is_default
    if method == "general":
        return True
    return inst.independent and inst.mechanism.is_default


def test_schema_is_valid_and_names_every_key():
    import jsonschema

    schema = result_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["required"]) == set(JSON_KEYS)
    assert set(schema["properties"]) == set(JSON_KEYS) | {"provenance", "agent_transfers"}
    assert set(schema["$defs"]["interim_row"]["required"]) == set(INTERIM_KEYS)


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("method", ("auto", "lp", "structured", "general", "continuous"))
def test_every_file_by_every_method(name, method, tmp_path_factory, capsys):
    code, data, err = solved(name, method, tmp_path_factory, capsys)
    if not applies(name, method):
        # a method that cannot serve the instance is an error naming why (exit 2), never ignored
        assert code == 2 and ("cannot solve this instance" in err or "distribution" in err), err
        return
    assert code == 0, err
    assert list(data) == list(JSON_KEYS) + ["provenance"]        # the same keys, in the same order
    if method == "auto":       # auto says which method it picked, one that serves the instance
        assert data["method"] in ("lp", "structured", "general", "continuous") and applies(name, data["method"])
        assert data["method"] != "continuous" or lpmech.load(GRIDS / name).agents[0].grid is None
    else:
        assert data["method"] == method
    for row in data["interim"]:
        assert list(row) == list(INTERIM_KEYS)


@pytest.mark.parametrize("name", FILES)
def test_methods_agree_on_common_keys(name, tmp_path_factory, capsys):
    docs = {m: solved(name, m, tmp_path_factory, capsys)[1] for m in GRID_METHODS if applies(name, m)}
    assert "general" in docs
    ref = docs["general"]
    for method, doc in docs.items():
        assert set(doc) == set(ref)
        for key in ("status", "side", "agents", "shares", "type_units", "types_in_file", "mechanism"):
            assert doc[key] == ref[key], (method, key)
        # the same optimal value, to the checks' tolerance (relative to the value's magnitude)
        assert doc["value"] == pytest.approx(ref["value"], rel=1e-6, abs=1e-9), method
        assert doc["trade_probability"] is not None
        for row, row_ref in zip(doc["interim"], ref["interim"]):
            assert row["agent"] == row_ref["agent"] and row["share"] == row_ref["share"]
            assert row["grid"] == pytest.approx(row_ref["grid"], rel=1e-15)
        assert np.array(doc["allocation"]).shape == np.array(ref["allocation"]).shape
    # where ω is defined (the maximin formulation), LP and structured agree to the ω ranges
    if "lp" in docs and "structured" in docs:
        lp, st = docs["lp"], docs["structured"]
        assert lp["omega_canonical"] == pytest.approx(st["omega_canonical"], abs=1e-5)
        assert lp["posted_price"] == st["posted_price"]
        assert lp["ratio"] == pytest.approx(st["ratio"], rel=1e-6)
    # the general LP defines no ω and no posted price: null, not absent
    assert ref["omega"] is None and ref["omega_range"] is None and ref["posted_price"] is None


def test_continuum_document_has_the_same_keys(tmp_path_factory, capsys):
    code, data, _ = solved("software_example.toml", "continuous", tmp_path_factory, capsys)
    assert code == 0
    assert data["formulation"] == "continuous" and data["allocation"] is None and data["transfer"] is None
    assert data["omega_range"] is None and data["value_error"] is not None
    assert math.isfinite(data["value"]) and data["certificate"]["method"] == "float"
    assert json.dumps(data, allow_nan=False)


def test_schema_rejects_a_drifted_document(tmp_path_factory, capsys):
    import jsonschema

    code, data, _ = solved("uniform_pair.toml", "lp", tmp_path_factory, capsys)
    broken = dict(data)
    broken["status"] = "Optimal"                       # the old capitalized status
    with pytest.raises(jsonschema.ValidationError):
        result_json(json.dumps(broken))
    missing = {k: v for k, v in data.items() if k != "omega"}
    with pytest.raises(jsonschema.ValidationError):
        result_json(json.dumps(missing))
    extra_row = json.loads(json.dumps(data))
    extra_row["interim"][0]["transfer"] = extra_row["interim"][0]["expected_transfer"]
    with pytest.raises(jsonschema.ValidationError):
        result_json(json.dumps(extra_row))
