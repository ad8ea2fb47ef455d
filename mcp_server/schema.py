"""Compact JSON Schemas for tool output: inlined definitions and ``type: [x, "null"]`` for optional values.

Clients validate every structured result against the tool's output schema. Pydantic's form
(``$ref`` into ``$defs``, ``anyOf`` with a null branch) means the same thing but costs a Python
client about twice as long to check, and is harder for a person to read.
"""

from __future__ import annotations

from typing import Any

_NULL = {"type": "null"}


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.get("$defs", {})
    result = _compact(schema, defs, depth=0)
    assert isinstance(result, dict)
    return result


def _compact(node: Any, defs: dict[str, Any], depth: int) -> Any:
    if depth > 32:
        raise ValueError("output schema nests too deeply (a recursive model?)")
    if isinstance(node, list):
        return [_compact(item, defs, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _compact(merged, defs, depth + 1)
    out = {k: _compact(v, defs, depth + 1) for k, v in node.items() if k != "$defs"}
    branches = out.get("anyOf")
    if isinstance(branches, list) and len(branches) == 2 and _NULL in branches:
        other = branches[0] if branches[1] == _NULL else branches[1]
        if isinstance(other, dict) and isinstance(other.get("type"), str):
            del out["anyOf"]
            out = {**other, **out, "type": [other["type"], "null"]}
    return out
