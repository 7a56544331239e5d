"""A synthetic camera: a deterministic street scene with walking people and moving objects.

The people are humanoid silhouettes drawn at the scale of OpenCV's default HOG people detector
(a 64×128 window with a ~96 px figure), so the detector finds them, and the camera knows how
many are in each frame: the ground truth that tests hold the detector's recall and precision
against.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime

import cv2
import numpy as np

_WINDOW = (64, 128)
_BAR = 22  # the timestamp overlay's strip at the bottom, kept free of people


class SyntheticCamera:
    """Frames of a scene that is a pure function of time: same seed, same pictures.

    People walk across lanes (one per lane at a time), come and go on their own schedules;
    boxes and balls move behind them; the producer time is printed in the corner.

    >>> cam = SyntheticCamera(width=320, height=240, fps=10, seed=1)
    >>> frames = list(cam.frames(seconds=1, start=0))
    >>> len(frames), frames[0][1].shape, frames[1][0]
    (10, (240, 320, 3), 0.1)
    >>> all(cam.people(t) == cam.people(t) for t in (0.0, 0.5))
    True
    """

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        *,
        seed: int = 0,
        people: int | None = None,
        objects: int = 2,
    ) -> None:
        if width < 80 or height < 160:
            raise ValueError(
                f"a synthetic camera needs at least 80×160 pixels, got {width}×{height}"
            )
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps!r}")
        self.width, self.height, self.fps = width, height, float(fps)
        lanes = max(1, (height - _BAR) // 154)
        self.scale = min(1.2, (height - _BAR - 8) / (lanes * _WINDOW[1]))
        self.lanes = min(lanes, people) if people is not None else lanes
        rng = np.random.default_rng(seed)
        lane_height = (height - _BAR) / lanes
        self._walkers = [
            {
                "top": int(i * lane_height + (lane_height - _WINDOW[1] * self.scale) / 2),
                "speed": float(rng.uniform(40, 90)) * rng.choice([-1, 1]),
                "period": float(rng.uniform(12, 25)),
                "duty": float(rng.uniform(0.45, 0.8)),
                "phase": float(rng.uniform(0, 30)),
                "color": tuple(int(c) for c in rng.integers(10, 70, 3)),
            }
            for i in range(self.lanes)
        ]
        self._objects = [
            {
                "kind": int(rng.integers(0, 2)),
                "size": int(rng.integers(18, 34)),
                "speed": (float(rng.uniform(-60, 60)), float(rng.uniform(-30, 30))),
                "origin": (float(rng.uniform(0, width)), float(rng.uniform(0, height - _BAR))),
                "color": tuple(int(c) for c in rng.integers(60, 230, 3)),
            }
            for _ in range(objects)
        ]
        self._background = _background(width, height, rng)

    def people(self, t: float) -> list[tuple[int, int, int, int]]:
        """Ground truth at ``t`` seconds into the scene: each person's (x, y, w, h) box.

        The box is the detector window the figure is drawn in (64×128 times the scale).
        """
        w, h = round(_WINDOW[0] * self.scale), round(_WINDOW[1] * self.scale)
        boxes = []
        for walker in self._walkers:
            cycle = (t + walker["phase"]) % walker["period"]
            on_for = walker["duty"] * walker["period"]
            if cycle >= on_for:
                continue
            span = self.width - w
            travelled = abs(walker["speed"]) * cycle
            x = travelled % (2 * span)
            x = x if x <= span else 2 * span - x  # walk back at the edge
            if walker["speed"] < 0:
                x = span - x
            boxes.append((int(x), walker["top"], w, h))
        return boxes

    def render(self, t: float, timestamp: float | None = None) -> np.ndarray:
        """The frame at ``t`` seconds into the scene, stamped with ``timestamp`` (epoch s)."""
        image = self._background.copy()
        for item in self._objects:
            x = (item["origin"][0] + item["speed"][0] * t) % self.width
            y = (item["origin"][1] + item["speed"][1] * t) % (self.height - _BAR)
            s = item["size"]
            if item["kind"]:
                cv2.circle(image, (int(x), int(y)), s // 2, item["color"], -1, cv2.LINE_AA)
            else:
                cv2.rectangle(image, (int(x), int(y)), (int(x) + s, int(y) + s), item["color"], -1)
        for (x, y, _, _), walker in zip(self.people(t), self._active(t), strict=True):
            _person(image, x, y, self.scale, walker["color"], t * abs(walker["speed"]) / 9)
        stamp = datetime.fromtimestamp(t if timestamp is None else timestamp, UTC)
        text = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        cv2.rectangle(image, (0, self.height - _BAR), (self.width, self.height), (0, 0, 0), -1)
        cv2.putText(
            image, text, (6, self.height - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1
        )
        return image

    def _active(self, t: float) -> list[dict]:
        return [
            w for w in self._walkers if (t + w["phase"]) % w["period"] < w["duty"] * w["period"]
        ]

    def frames(self, seconds: float, start: float = 0.0) -> Iterator[tuple[float, np.ndarray]]:
        """``(producer timestamp, image)`` pairs for ``seconds`` of video from ``start`` (epoch s).

        The scene time of frame ``i`` is ``i / fps``; its producer timestamp is ``start`` plus
        that, so :meth:`people` of ``timestamp - start`` is the frame's ground truth.
        """
        for i in range(round(seconds * self.fps)):
            t = i / self.fps
            yield start + t, self.render(t, start + t)

    def __repr__(self) -> str:
        return f"SyntheticCamera({self.width}x{self.height}@{self.fps:g}fps, people={self.lanes})"


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A pale wall over a green-grey pavement, with a little texture."""
    image = np.empty((height, width, 3), np.uint8)
    horizon = int(height * 0.55)
    image[:horizon] = (185, 180, 170)
    image[horizon:] = (130, 145, 135)
    noise = rng.integers(0, 18, (height, width, 1), dtype=np.uint8)
    return cv2.add(image, np.repeat(noise, 3, axis=2))


def _person(image: np.ndarray, x: int, y: int, s: float, color: tuple, phase: float) -> None:
    """A walking humanoid in the 64×128 window at (x, y), scaled by ``s``."""

    def at(px: float, py: float) -> tuple[int, int]:
        return int(x + px * s), int(y + py * s)

    def thick(pixels: float) -> int:
        return max(1, int(pixels * s))

    swing = math.sin(phase) * 8
    cv2.circle(image, at(32, 24), thick(8), color, -1, cv2.LINE_AA)
    cv2.line(image, at(32, 33), at(32, 35), color, thick(6))
    cv2.ellipse(image, at(32, 52), (thick(11), thick(20)), 0, 0, 360, color, -1, cv2.LINE_AA)
    cv2.line(image, at(23, 38), at(19 - swing / 2, 68), color, thick(6), cv2.LINE_AA)
    cv2.line(image, at(41, 38), at(45 + swing / 2, 68), color, thick(6), cv2.LINE_AA)
    cv2.line(image, at(27, 68), at(26 - swing, 112), color, thick(8), cv2.LINE_AA)
    cv2.line(image, at(37, 68), at(38 + swing, 112), color, thick(8), cv2.LINE_AA)
