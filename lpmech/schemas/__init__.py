"""JSON Schemas of lpmech's documents, shipped as package data.

``result.schema.json`` (draft 2020-12) is the contract of ``lpmech solve --json`` and of
:meth:`lpmech.Result.to_dict`: the same top-level keys for every formulation, null where a
formulation does not define one. Read it with :func:`result_schema`.
"""

from __future__ import annotations

import json
from importlib.resources import files

__all__ = ["result_schema"]


def result_schema() -> dict:
    """The JSON Schema of a result document (``lpmech solve --json``).

    Returns
    -------
    dict
        The parsed schema (draft 2020-12).
    """
    return json.loads(files(__name__).joinpath("result.schema.json").read_text(encoding="utf-8"))
