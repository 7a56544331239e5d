"""Small durable-file primitives that every service's persistence builds on.

Kept here rather than taken from a library because they are a few lines over the standard
library (os.replace, fsync, fcntl) and each service needs exactly these semantics: a file is
either the old or the new version after a crash, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import orjson


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file inside ``path`` survive power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new content, never a mix."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if fsync:
        fsync_dir(path.parent)


def atomic_write_json(path: Path, value: object, *, fsync: bool = True) -> None:
    """Write ``value`` as indented JSON, atomically."""
    atomic_write_bytes(path, orjson.dumps(value, option=orjson.OPT_INDENT_2), fsync=fsync)


def read_json(path: Path, default: object = None) -> object:
    """The JSON value in ``path``, or ``default`` when the file does not exist."""
    try:
        return orjson.loads(Path(path).read_bytes())
    except FileNotFoundError:
        return default


@contextlib.contextmanager
def locked(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold an advisory lock on ``path`` (created if missing) across processes.

    The kernel drops the lock when its holder dies, so a kill -9 never leaves a home locked.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
