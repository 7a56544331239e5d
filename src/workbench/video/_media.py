"""Fragment media files: Motion-JPEG in AVI, written by OpenCV, read frame by frame.

Motion-JPEG because every frame is a keyframe: a fragment can be cut at any frame, each frame
decodes on its own (random access for images and seeking), and OpenCV's FFmpeg writer encodes
640×480 at about 300 frames/s on one core. AVI because OpenCV writes and reads it and its
chunk layout (RIFF) gives each frame's byte range in a few lines, so readers fetch one JPEG
without a demuxer.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import cv2
import numpy as np

from workbench._files import fsync_dir

SUFFIX = ".avi"
_FOURCC = cv2.VideoWriter_fourcc(*"MJPG")


def write_fragment(path: Path, frames: list[np.ndarray], fps: float) -> list[tuple[int, int]]:
    """Write ``frames`` to ``path`` durably; return each frame's JPEG (offset, length) in it."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, _FOURCC, fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV could not open {path} for Motion-JPEG writing")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    with open(path, "rb+") as f:
        os.fsync(f.fileno())
    spans = frame_spans(path.read_bytes())
    if len(spans) != len(frames):
        raise OSError(f"{path} holds {len(spans)} frames, {len(frames)} were written")
    return spans


def commit_file(tmp: Path, final: Path) -> None:
    os.replace(tmp, final)
    fsync_dir(final.parent)


def frame_spans(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of every video frame chunk (``00dc``) in an AVI file's ``movi`` list."""
    spans: list[tuple[int, int]] = []
    _walk(data, 12, len(data), spans, in_movi=False)
    return spans


def _walk(data: bytes, pos: int, end: int, spans: list, in_movi: bool) -> None:
    while pos + 8 <= end:
        tag, size = struct.unpack_from("<4sI", data, pos)
        body = pos + 8
        if tag == b"LIST":
            _walk(data, body + 4, min(body + size, end), spans, data[body : body + 4] == b"movi")
        elif in_movi and tag[2:] == b"dc":
            spans.append((body, size))
        pos = body + size + (size & 1)


def read_frame(handle, span: tuple[int, int], reduce: int = 1) -> np.ndarray:
    """Decode one frame from an open fragment file; ``reduce`` 2, 4 or 8 decodes smaller."""
    offset, length = span
    handle.seek(offset)
    jpeg = np.frombuffer(handle.read(length), np.uint8)
    flag = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4}
    image = cv2.imdecode(jpeg, flag.get(reduce, cv2.IMREAD_REDUCED_COLOR_8))
    if image is None:
        raise OSError(f"frame at byte {offset} of {handle.name} is not a readable JPEG")
    return image


def read_jpeg(handle, span: tuple[int, int]) -> bytes:
    offset, length = span
    handle.seek(offset)
    return handle.read(length)
