"""Producers besides the synthetic camera: a video file and a local webcam."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from workbench.clock import Clock


def video_file(
    path: str | Path, *, start: float = 0.0, seconds: float | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """``(producer timestamp, image)`` pairs of a video file, timed from ``start`` (epoch s).

    Each frame's timestamp is ``start`` plus its position in the file.
    """
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FileNotFoundError(f"OpenCV cannot open the video file {path}")
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    try:
        index = 0
        while True:
            ok, image = capture.read()
            if not ok:
                return
            offset = index / fps
            if seconds is not None and offset >= seconds:
                return
            yield start + offset, image
            index += 1
    finally:
        capture.release()


def webcam_available(device: int = 0) -> bool:
    """Whether a camera answers at ``device`` (``/dev/video<device>`` on Linux)."""
    if not Path(f"/dev/video{device}").exists():
        return False
    capture = cv2.VideoCapture(device)
    try:
        return capture.isOpened() and capture.read()[0]
    finally:
        capture.release()


def webcam(
    clock: Clock, *, device: int = 0, seconds: float = 10.0
) -> Iterator[tuple[float, np.ndarray]]:
    """Frames from a local camera, stamped with the clock's time as they are captured.

    Raises FileNotFoundError when there is no camera (see :func:`webcam_available`).
    """
    capture = cv2.VideoCapture(device)
    if not capture.isOpened():
        raise FileNotFoundError(f"no camera answers at device {device}")
    try:
        started = clock.now()
        while (now := clock.now()) - started < seconds:
            ok, image = capture.read()
            if not ok:
                return
            yield now, image
    finally:
        capture.release()
