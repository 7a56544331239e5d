"""A query's durable state: open-window rows, source position and emitted results, atomically.

Layout under the query's folder::

    manifest.json          generation, source position, max event time, closed-until, counters
    state/<gen>.arrow      rows of windows not yet final (Arrow IPC)
    results/<gen>.arrow    results made final in that generation
    late/<gen>.arrow       records that arrived too late in that generation
    errors/<gen>.arrow     records that could not be read (not JSON, no event time)
    model/<gen>.arrow      what the aggregate learnt (a random cut forest's sample), if any

A commit writes the generation's files first (fsync), then replaces the manifest atomically. A
crash before the manifest leaves files of a generation the manifest does not name; opening the
store deletes them, so each result is in exactly one committed generation: emitted exactly once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from workbench._files import atomic_write_bytes, atomic_write_json, fsync_dir, read_json

_KINDS = ("state", "results", "late", "errors", "model")
# Kinds of which only the committed generation's file is kept.
_LATEST = ("state", "model")


def _ipc_bytes(table: pa.Table) -> memoryview:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return memoryview(sink.getvalue())  # written as it is, without a copy to bytes


def _generation(path: Path) -> int:
    return int(path.stem)


class CheckpointStore:
    """The files of one query; see the module docstring for the layout."""

    def __init__(self, folder: Path, *, fsync: bool = True) -> None:
        self.folder = Path(folder)
        self.fsync = fsync
        for kind in _KINDS:
            (self.folder / kind).mkdir(parents=True, exist_ok=True)
        manifest = read_json(self.folder / "manifest.json")
        self.manifest: dict[str, Any] | None = manifest if isinstance(manifest, dict) else None
        self._drop_uncommitted()

    @property
    def generation(self) -> int:
        return int(self.manifest["generation"]) if self.manifest else 0

    def _files(self, kind: str) -> list[Path]:
        return sorted((p for p in (self.folder / kind).glob("*.arrow")), key=_generation)

    def _drop_uncommitted(self) -> None:
        for kind in _KINDS:
            for path in self._files(kind):
                stale_state = kind in _LATEST and _generation(path) != self.generation
                if _generation(path) > self.generation or stale_state:
                    path.unlink(missing_ok=True)
        for tmp in self.folder.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    def state(self, kind: str = "state") -> pa.Table | None:
        """The open-window rows (or, with ``kind="model"``, what the aggregate learnt) of the
        committed generation."""
        if not self.manifest:
            return None
        path = self.folder / kind / f"{self.generation:012d}.arrow"
        return pa.ipc.open_file(pa.memory_map(str(path))).read_all() if path.exists() else None

    def commit(
        self,
        manifest: dict[str, Any],
        state: pa.Table | None,
        results: pa.Table | None,
        late: pa.Table | None,
        errors: pa.Table | None = None,
        model: pa.Table | None = None,
    ) -> None:
        """Make one generation durable: its files, then the manifest that names them."""
        generation = self.generation + 1
        name = f"{generation:012d}.arrow"
        outputs = {
            "state": state, "results": results, "late": late, "errors": errors, "model": model
        }  # fmt: skip
        for kind, table in outputs.items():
            if table is not None and (kind in _LATEST or table.num_rows):
                atomic_write_bytes(self.folder / kind / name, _ipc_bytes(table), fsync=self.fsync)
        previous = self.generation
        self.manifest = {**manifest, "generation": generation}
        atomic_write_json(self.folder / "manifest.json", self.manifest, fsync=self.fsync)
        for kind in _LATEST:
            (self.folder / kind / f"{previous:012d}.arrow").unlink(missing_ok=True)
            if self.fsync:
                fsync_dir(self.folder / kind)

    def read(self, kind: str, after: int = 0) -> list[tuple[int, pa.Table]]:
        """(generation, table) of committed ``results`` or ``late`` files after ``after``."""
        found = []
        for path in self._files(kind):
            generation = _generation(path)
            if after < generation <= self.generation:
                found.append((generation, pa.ipc.open_file(pa.memory_map(str(path))).read_all()))
        return found
