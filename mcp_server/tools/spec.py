"""What a tool module says about itself, complete: the server registers it and the guide lists it from this."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp_types import ToolAnnotations


# Compared and hashed by identity: each is one module-level registry entry (the server caches per spec).
@dataclass(frozen=True, eq=False)
class ToolSpec:
    name: str
    title: str
    fn: Callable[..., Any]  # its docstring is the description the client shows the model
    annotations: ToolAnnotations
    # Its line in the server's instructions (what it is for, in one line): "- <name>: ...".
    instructions: str

    def __post_init__(self) -> None:
        if not self.instructions.startswith(f"- {self.name}: "):
            raise ValueError(f"the instructions line of {self.name} must start with '- {self.name}: '")

    @property
    def writes(self) -> bool:
        """Write tools are never registered in read-only mode."""
        return self.annotations.read_only_hint is not True
