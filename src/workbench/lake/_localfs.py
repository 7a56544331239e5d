"""The lake's folders seen as an ``s3://`` fsspec filesystem, with atomic object writes.

fsspec's :class:`DirFileSystem` already maps ``bucket/key`` paths onto a root folder and refuses
paths that climb out of it; this subclass answers to the ``s3`` protocol (so DuckDB, pyarrow and
polars can be handed ``s3://bucket/key`` URIs) and makes every write atomic: bytes go to a temp
file under ``<root>/.tmp/`` (same file system, so the final ``os.replace`` is atomic) and only a
completed, fsynced write is renamed onto the key. A reader therefore sees either no object or the
whole object, as on S3, even if the writer is killed half way.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem

from workbench._files import fsync_dir

TMP_DIR = ".tmp"


class AtomicObjectWriter(io.FileIO):
    """A binary file that becomes the object at ``target`` only when closed without an error.

    Leaving a ``with`` block through an exception, or calling :meth:`discard`, drops the bytes.
    """

    def __init__(self, target: Path, tmp_dir: Path, *, mtime: float | None = None) -> None:
        self.target = Path(target)
        self._mtime = mtime
        self._discarded = False
        tmp_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(tmp_dir / f"{os.getpid()}-{uuid.uuid4().hex}", "wb")

    def discard(self) -> None:
        """Forget what was written; the object keeps its previous content (or stays absent)."""
        self._discarded = True
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        tmp = Path(self.name)
        if self._discarded:
            super().close()
            tmp.unlink(missing_ok=True)
            return
        os.fsync(self.fileno())
        super().close()
        move_into_place(tmp, self.target, self._mtime)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()
        else:
            self.close()


def move_into_place(tmp: Path, target: Path, mtime: float | None) -> None:
    """Make the complete, fsynced file ``tmp`` the object at ``target`` in one rename."""
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    # A concurrent delete may remove an emptied parent folder between makedirs and replace.
    for _ in range(5):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(tmp, target)
            break
        except FileNotFoundError:
            continue
    else:
        tmp.unlink(missing_ok=True)
        raise OSError(f"could not move a written object into place at {target}")
    fsync_dir(target.parent)


def remove_leftover_temp_files(tmp_dir: Path) -> None:
    """Drop temp files and staging folders of writers that died (their pid is gone): a killed
    put leaves a file, a killed DuckDB COPY a folder."""
    if not tmp_dir.is_dir():
        return
    for tmp in tmp_dir.iterdir():
        pid = tmp.name.split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalLakeFileSystem(DirFileSystem):
    """``s3://bucket/key`` paths over the folders of a local lake root.

    ``clock`` (optional, a callable returning epoch seconds) stamps each object's modification
    time, so objects carry the workbench's (possibly simulated) time like S3's LastModified.
    """

    protocol = ("s3", "s3a")
    root_marker = ""

    def __init__(self, root: str | os.PathLike[str], clock=None, **kwargs) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        super().__init__(path=str(self.root), fs=LocalFileSystem(), **kwargs)

    @property
    def tmp_dir(self) -> Path:
        return self.root / TMP_DIR

    def local_path(self, path: str) -> Path:
        """The file behind ``bucket/key`` (for the lake's own use only)."""
        return Path(self._join(path))

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A private folder on the lake's disk for a writer that makes whole files itself
        (DuckDB's COPY); :meth:`publish` turns each finished file into an object. The folder
        and whatever was not published go when the block ends."""
        folder = self.tmp_dir / f"{os.getpid()}-{uuid.uuid4().hex}"
        folder.mkdir(parents=True)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def publish(self, file: Path, path: str) -> None:
        """Make ``file`` (in a :meth:`staging` folder) the object at ``bucket/key``, atomically."""
        with open(file, "rb+") as handle:
            os.fsync(handle.fileno())
        move_into_place(Path(file), self.local_path(path), self._clock() if self._clock else None)

    def open(self, path, mode="rb", *args, **kwargs):
        if "w" in mode or "a" in mode or "x" in mode:
            if mode.replace("b", "") != "w":
                raise ValueError(f"lake objects are written whole: open with 'wb', not {mode!r}")
            writer = AtomicObjectWriter(
                self.local_path(path), self.tmp_dir, mtime=self._clock() if self._clock else None
            )
            return writer if "b" in mode else io.TextIOWrapper(writer, **_text_options(kwargs))
        return super().open(path, mode, *args, **kwargs)

    def pipe_file(self, path, value, *args, **kwargs) -> None:
        with self.open(path, "wb") as f:
            f.write(value)

    def put_file(self, lpath, rpath, *args, **kwargs) -> None:
        with open(lpath, "rb") as src, self.open(rpath, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)

    def rm_file(self, path, **kwargs) -> None:
        target = self.local_path(path)
        target.unlink()
        # S3 has no folders: once its last object goes, a prefix disappears from listings too.
        parent = target.parent
        while parent != self.root and parent.parent != self.root:
            with contextlib.suppress(OSError):
                parent.rmdir()
            if parent.exists():
                break
            parent = parent.parent

    def ls(self, path, detail=True, **kwargs):
        entries = super().ls(path, detail=detail, **kwargs)
        if self._strip_protocol(path).strip("/"):
            return entries
        return [e for e in entries if not (e["name"] if detail else e).startswith(".")]


def _text_options(kwargs: dict) -> dict:
    return {k: kwargs[k] for k in ("encoding", "errors", "newline") if k in kwargs}
