"""Notebook helpers: play a clip, a strip of thumbnails, frames with their detection boxes."""

from __future__ import annotations

import base64
import html

import cv2
import numpy as np

from workbench.video._detectors import Detection

_COLORS = {"Person": (40, 200, 40), "Face": (40, 40, 230), "Motion": (230, 160, 30)}


def play(clip: dict | bytes, width: int = 480):
    """An inline player for a GetClip result (the MP4 is embedded in the notebook)."""
    from IPython.display import Video

    payload = clip["Payload"] if isinstance(clip, dict) else clip
    return Video(
        data=payload,
        embed=True,
        mimetype="video/mp4",
        width=width,
        html_attributes="controls muted",
    )


def thumbnails(images: dict | list[dict], width: int = 120):
    """A strip of GetImages results with their timestamps; NO_MEDIA instants show as gaps."""
    from IPython.display import HTML

    entries = images["Images"] if isinstance(images, dict) else images
    cells = []
    for entry in entries:
        stamp = html.escape(entry["TimeStamp"].strftime("%H:%M:%S.%f")[:-3])
        if "ImageContent" in entry:
            data = entry["ImageContent"]
            kind = "png" if base64.b64decode(data[:12]).startswith(b"\x89PNG") else "jpeg"
            body = f'<img src="data:image/{kind};base64,{data}" style="width:{width}px">'
        else:
            body = f'<div style="width:{width}px;height:{width * 3 // 4}px;background:#ddd">'
            body += f"{html.escape(entry.get('Error', ''))}</div>"
        cells.append(
            f'<figure style="margin:2px;text-align:center">{body}'
            f'<figcaption style="font-size:10px">{stamp}</figcaption></figure>'
        )
    return HTML(f'<div style="display:flex;flex-wrap:wrap">{"".join(cells)}</div>')


def draw_detections(image: np.ndarray, detections: dict | list[Detection]) -> np.ndarray:
    """A copy of ``image`` with boxes and labels from a detection record or Detection list.

    >>> person = Detection("Person", 90.0, (5, 5, 10, 20))
    >>> boxed = draw_detections(np.zeros((40, 40, 3), np.uint8), [person])
    >>> int(boxed[5, 5].sum()) > 0
    True
    """
    height, width = image.shape[:2]
    if isinstance(detections, dict):
        boxes = [
            (
                d["Label"],
                d["Confidence"],
                (
                    round(d["BoundingBox"]["Left"] * width),
                    round(d["BoundingBox"]["Top"] * height),
                    round(d["BoundingBox"]["Width"] * width),
                    round(d["BoundingBox"]["Height"] * height),
                ),
            )
            for d in detections["Detections"]
        ]
    else:
        boxes = [(d.label, d.confidence, d.box) for d in detections]
    out = image.copy()
    for label, confidence, (x, y, w, h) in boxes:
        color = _COLORS.get(label, (200, 200, 200))
        cv2.rectangle(out, (x, y), (x + w, y + h), color, 2)
        cv2.putText(
            out,
            f"{label} {confidence:.0f}",
            (x, max(10, y - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            color,
            1,
        )
    return out


def show(image: np.ndarray):
    """A BGR image as an inline PNG."""
    from IPython.display import Image

    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise ValueError(f"cannot encode an image of shape {image.shape} as PNG")
    return Image(data=data.tobytes())
