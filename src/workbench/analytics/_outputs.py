"""Another query's committed results as a source: queries chain, as in-application streams."""

from __future__ import annotations

from typing import Any

import pyarrow as pa


class QueryOutput:
    """Reads the results of ``query`` generation by generation, from its durable result log."""

    def __init__(self, query: Any) -> None:
        self.query = query
        self._after = 0
        self._ready: list[tuple[int, pa.Table]] = []

    def read(self, limit: int) -> pa.Table | None:
        if not self._ready:
            self._ready = self.query._store.read("results", after=self._after)
        if not self._ready:
            return None
        generation, table = self._ready.pop(0)
        self._after = generation
        return table

    def position(self) -> int:
        return self._after

    def seek(self, position: Any) -> None:
        self._after = int(position or 0)
        self._ready = []

    @property
    def exhausted(self) -> bool:
        upstream = self.query
        return (
            upstream._ended
            and not upstream._pending_out
            and not self.query._store.read("results", after=self._after)
        )
