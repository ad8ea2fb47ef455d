"""Output schemas with their definitions inlined.

Clients validate every structured result against the tool's output schema; pydantic's form sends
``$ref`` pointers into ``$defs``, which a Python client resolves on every validation (about a fifth
of its cost) and a person has to chase when reading. Nullable values keep pydantic's
``anyOf: [{type: X}, {type: null}]``: the ``type: [X, "null"]`` shorthand is cheaper still to check,
but less portable (clients mapping schemas onto single-type dialects reject it).
"""

from __future__ import annotations

from typing import Any


def inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.get("$defs", {})
    result = _inline(schema, defs, depth=0)
    assert isinstance(result, dict)
    return result


def _inline(node: Any, defs: dict[str, Any], depth: int) -> Any:
    if depth > 32:
        raise ValueError("output schema nests too deeply (a recursive model?)")
    if isinstance(node, list):
        return [_inline(item, defs, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _inline(merged, defs, depth + 1)
    return {k: _inline(v, defs, depth + 1) for k, v in node.items() if k != "$defs"}
