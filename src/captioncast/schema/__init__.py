"""JSON Schemas of what captioncast puts on the wire.

``wire.schema.json`` (draft 2020-12) describes the envelope and response object of
DESIGN.md section 2; it ships as package data and is read with ``importlib.resources``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

WIRE_SCHEMA = "wire.schema.json"


@cache
def _load_text(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def load_schema(name: str = WIRE_SCHEMA) -> dict[str, Any]:
    """A fresh copy of the schema called ``name`` (the wire schema by default)."""
    schema: dict[str, Any] = json.loads(_load_text(name))
    return schema
