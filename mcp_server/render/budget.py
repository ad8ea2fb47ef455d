"""Size budgets: a tool answer is assembled piece by piece and never passes its limit."""

from __future__ import annotations


class Budget:
    """Collects Markdown blocks up to ``limit`` characters, keeping ``reserve`` free for a closing note."""

    def __init__(self, limit: int, reserve: int = 0) -> None:
        self.limit = limit
        self.reserve = reserve
        self._parts: list[str] = []
        self._size = 0

    @property
    def remaining(self) -> int:
        return self.limit - self.reserve - self._size

    def fits(self, text: str) -> bool:
        return len(text) + (1 if self._parts else 0) <= self.remaining

    def add(self, text: str) -> bool:
        """Append ``text`` as its own line(s) if it fits; report whether it did."""
        if not self.fits(text):
            return False
        self._size += len(text) + (1 if self._parts else 0)
        self._parts.append(text)
        return True

    def close(self, note: str = "") -> str:
        """The final text, with ``note`` (which must fit in the reserve) appended."""
        parts = [*self._parts, note] if note else self._parts
        text = "\n".join(parts)
        assert len(text) <= self.limit, "a closing note outgrew its reserve"
        return text
