"""The home folder: where every service of one workbench keeps its state."""

from __future__ import annotations

import os
from pathlib import Path

from workbench._files import atomic_write_json, read_json

DEFAULT_HOME = "workbench-data"
DEMO_HOME = "workbench-demo"  # `workbench demo` makes it afresh on each run
HOME_ENV = "WORKBENCH_HOME"
FORMAT_VERSION = 1
_MARKER = "workbench.json"


class HomeError(Exception):
    """A home folder that cannot be used."""


class Home:
    """A folder on disk that holds one workbench's streams, lake, catalog and checkpoints.

    Each service gets a subfolder of its own (:meth:`service_dir`); a marker file records the
    on-disk format so a newer workbench can refuse a home it cannot read.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        chosen = path if path is not None else os.environ.get(HOME_ENV) or DEFAULT_HOME
        self.path = Path(chosen).expanduser().resolve()
        self.path.mkdir(parents=True, exist_ok=True)
        marker = self.path / _MARKER
        meta = read_json(marker)
        if meta is None:
            atomic_write_json(marker, {"format_version": FORMAT_VERSION})
        elif not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
            raise HomeError(
                f"{marker} describes a home in format {meta!r}; this workbench reads format "
                f"{FORMAT_VERSION} only"
            )

    def service_dir(self, service: str) -> Path:
        """The folder where ``service`` keeps its state, created on first use."""
        folder = self.path / service
        folder.mkdir(exist_ok=True)
        return folder

    def __repr__(self) -> str:
        return f"Home({str(self.path)!r})"
