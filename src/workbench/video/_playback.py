"""Reading a video stream back: GetMedia's frames, GetClip's MP4 and GetImages' samples."""

from __future__ import annotations

import base64
import math
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from workbench._files import atomic_write_bytes
from workbench.errors import (
    ClientLimitExceededException,
    InvalidArgumentException,
    ResourceNotFoundException,
)
from workbench.video._index import Fragment
from workbench.video._media import read_frame, read_jpeg
from workbench.video._times import (
    check_max_results,
    decode_token,
    encode_token,
    instant,
    to_datetime,
)

if TYPE_CHECKING:
    from workbench.video._stream import VideoStream

SELECTOR_TYPES = (
    "NOW",
    "EARLIEST",
    "FRAGMENT_NUMBER",
    "SERVER_TIMESTAMP",
    "PRODUCER_TIMESTAMP",
    "CONTINUATION_TOKEN",
)
MAX_CLIP_FRAGMENTS = 200
MAX_CLIP_BYTES = 100 * 1024 * 1024
MAX_IMAGES_RANGE_S = 300.0
MIN_SAMPLING_MS = 200
_POLL_S = 0.1
MAX_PLAYLIST_FRAGMENTS = 5000
_EXPIRY = "expires"
_BATCH = 64


@dataclass(frozen=True)
class Frame:
    """A decoded frame and where it came from."""

    image: np.ndarray
    producer_timestamp: float
    server_timestamp: float
    fragment_number: str
    frame_offset: float  # seconds since the fragment's first frame (FrameOffsetInSeconds)


def parse_selector(selector: str | dict) -> dict:
    """A StartSelector dict, validated; a bare string is its StartSelectorType."""
    if isinstance(selector, str):
        selector = {"StartSelectorType": selector}
    kind = selector.get("StartSelectorType") if isinstance(selector, dict) else None
    if kind not in SELECTOR_TYPES:
        raise InvalidArgumentException(
            f"StartSelectorType {kind!r} is not one of {', '.join(SELECTOR_TYPES)}"
        )
    needs = {
        "FRAGMENT_NUMBER": "AfterFragmentNumber",
        "SERVER_TIMESTAMP": "StartTimestamp",
        "PRODUCER_TIMESTAMP": "StartTimestamp",
        "CONTINUATION_TOKEN": "ContinuationToken",
    }.get(kind)
    if needs and selector.get(needs) in (None, ""):
        raise InvalidArgumentException(f"StartSelectorType {kind} needs {needs}")
    if needs in ("AfterFragmentNumber", "ContinuationToken") and not str(selector[needs]).isdigit():
        raise InvalidArgumentException(
            f"{needs} {selector[needs]!r} is not a fragment number (a string of digits)"
        )
    return dict(selector)


class Media:
    """GetMedia's payload: iterate to get :class:`Frame` objects in stream order."""

    def __init__(
        self,
        stream: VideoStream,
        selector: dict,
        follow: bool,
        idle_timeout: float,
        max_frames: int | None,
        stop: threading.Event | None,
    ) -> None:
        self.stream = stream
        self.follow = follow
        self.idle_timeout = idle_timeout
        self.max_frames = max_frames
        self.stop = stop
        #: The number of the last fragment read whole: pass it as a CONTINUATION_TOKEN.
        self.continuation_token: str | None = None
        stream.video.enforce_retention()
        self._after = _start_after(stream, selector)

    def __iter__(self) -> Iterator[Frame]:
        clock = self.stream.video.clock
        index = self.stream.video.index
        count = 0
        idle_since = clock.now()
        while True:
            batch = index.fragments(
                self.stream.name, "number > ?", (self._after,), "number", _BATCH
            )
            for fragment in batch:
                for frame in fragment_frames(fragment):
                    if self.max_frames is not None and count >= self.max_frames:
                        return
                    count += 1
                    yield frame
                self._after = self.continuation_token = fragment.number
            if batch:
                idle_since = clock.now()
                continue
            if not self.follow or (self.stop is not None and self.stop.is_set()):
                return
            if clock.now() - idle_since >= self.idle_timeout:
                return
            if not clock.sleep(_POLL_S, cancel=self.stop):
                return


def _start_after(stream: VideoStream, selector: dict) -> str:
    """The number just before the first fragment to read ('' reads from the oldest)."""
    kind = selector["StartSelectorType"]
    index = stream.video.index
    if kind == "EARLIEST":
        return ""
    if kind == "CONTINUATION_TOKEN":
        return str(selector["ContinuationToken"])
    if kind == "NOW":
        latest = index.fragments(stream.name, order="number DESC", limit=1)
        return _before(latest[0].number) if latest else _latest_number(stream)
    if kind == "FRAGMENT_NUMBER":
        number = str(selector["AfterFragmentNumber"])
        if not index.fragments(stream.name, "number = ?", (number,)):
            raise ResourceNotFoundException(
                f"Fragment {number} is not in stream {stream.name} (never written or expired)"
            )
        return _before(number)
    column = "producer_ts" if kind == "PRODUCER_TIMESTAMP" else "server_ts"
    at = instant(selector["StartTimestamp"], "StartTimestamp")
    holding = index.fragments(stream.name, f"{column} <= ?", (at,), f"{column} DESC", 1)
    if holding and _start(holding[0], column) + holding[0].duration_ms / 1000 > at:
        return _before(holding[0].number)
    later = index.fragments(stream.name, f"{column} > ?", (at,), f"{column}, number", 1)
    return _before(later[0].number) if later else _latest_number(stream)


def _latest_number(stream: VideoStream) -> str:
    """After everything now in the stream (later fragments have larger numbers)."""
    with stream.video.index.connect() as db:
        row = db.execute("SELECT MAX(seq) FROM fragments").fetchone()
    return stream.video.index.fragment_number(row[0] or 0)


def _before(number: str) -> str:
    return str(int(number) - 1)


def _start(fragment: Fragment, column: str) -> float:
    return fragment.producer_timestamp if column == "producer_ts" else fragment.server_timestamp


def fragment_frames(fragment: Fragment) -> Iterator[Frame]:
    """Every frame of a fragment, decoded, with its timestamps."""
    with open(fragment.path, "rb") as handle:
        for produced, span in zip(fragment.frame_times, fragment.frame_spans, strict=True):
            offset = float(produced) - fragment.producer_timestamp
            yield Frame(
                image=read_frame(handle, tuple(span)),
                producer_timestamp=float(produced),
                server_timestamp=fragment.server_timestamp + offset,
                fragment_number=fragment.number,
                frame_offset=offset,
            )


def _overlapping(stream: VideoStream, low: float, high: float, column: str) -> list[Fragment]:
    stream.video.enforce_retention()
    return stream.video.index.fragments(
        stream.name,
        f"{column} <= ? AND {column} + duration_ms / 1000.0 > ?",
        (high, low),
        f"{column}, number",
    )


def _frame_times(fragment: Fragment, column: str) -> np.ndarray:
    """Each frame's time on the selector's clock (server time follows the producer's pace)."""
    return fragment.frame_times - fragment.producer_timestamp + _start(fragment, column)


def clip(stream: VideoStream, low: float, high: float, column: str) -> dict:
    """Frames in [low, high) re-encoded as H.264 MP4 by the ffmpeg that imageio-ffmpeg ships."""
    fragments = _overlapping(stream, low, high, column)
    if not fragments:
        raise ResourceNotFoundException(
            f"No fragments of stream {stream.name} in {to_datetime(low).isoformat()} .. "
            f"{to_datetime(high).isoformat()}"
        )
    if len(fragments) > MAX_CLIP_FRAGMENTS or sum(f.size for f in fragments) > MAX_CLIP_BYTES:
        raise ClientLimitExceededException(
            f"The range spans {len(fragments)} fragments / {sum(f.size for f in fragments)} "
            f"bytes; a clip holds at most {MAX_CLIP_FRAGMENTS} fragments and "
            f"{MAX_CLIP_BYTES} bytes: ask for a shorter range"
        )
    sizes = {(f.width, f.height) for f in fragments}
    if len(sizes) > 1:
        raise InvalidArgumentException(
            f"The range mixes frame sizes {sorted(sizes)}; an MP4 clip has one size: ask for a "
            "range within one size"
        )
    jpegs: list[bytes] = []
    times: list[float] = []
    for fragment in fragments:
        with open(fragment.path, "rb") as handle:
            for at, span in zip(_frame_times(fragment, column), fragment.frame_spans, strict=True):
                if low <= at < high:
                    jpegs.append(read_jpeg(handle, tuple(span)))
                    times.append(float(at))
    if not jpegs:
        raise ResourceNotFoundException(f"No frames of stream {stream.name} in the range")
    fps = 1 / float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    return {"ContentType": "video/mp4", "Payload": encode_h264(jpegs, fps)}


def encode_h264(
    jpegs: list[bytes], fps: float, container: str = "mp4", start_offset: float = 0.0
) -> bytes:
    """H.264 (yuv420p) of JPEG frames in an MP4 (moov first) or an MPEG-TS segment whose
    timestamps begin at ``start_offset`` seconds; browsers and HLS players take either."""
    import imageio_ffmpeg

    with tempfile.TemporaryDirectory(prefix="workbench-clip-") as tmp:
        out = Path(tmp) / f"clip.{'mp4' if container == 'mp4' else 'ts'}"
        # Frames go in as the JPEGs they are stored as: no decode in Python, ffmpeg does it.
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "mjpeg",
            "-framerate",
            f"{fps:.6f}",
            "-i",
            "pipe:0",
            "-vf",
            "scale=trunc(iw/2)*2:trunc(ih/2)*2",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
        ]
        if container == "mp4":
            command += ["-movflags", "+faststart"]
        else:
            # No B-frames: each segment's first frame is shown at its own start, so segments
            # join on the playlist's timeline without an overlap.
            command += ["-bf", "0", "-output_ts_offset", f"{start_offset:.6f}", "-f", "mpegts"]
        done = subprocess.run(
            [*command, str(out)], input=b"".join(jpegs), capture_output=True, check=False
        )
        if done.returncode != 0:
            raise OSError(f"ffmpeg could not encode the clip: {done.stderr.decode()[-500:]}")
        return out.read_bytes()


def hls_playlist(stream: VideoStream, low: float, high: float, column: str, expires: int) -> dict:
    """An ON_DEMAND HLS session: one MPEG-TS segment per fragment and a VOD media playlist."""
    if not 300 <= expires <= 43200:
        raise InvalidArgumentException(f"Expires {expires} s is out of range 300-43200")
    clock = stream.video.clock
    root = stream.video.folder / "hls"
    root.mkdir(exist_ok=True)
    _drop_expired_sessions(root, clock.now())
    fragments = _overlapping(stream, low, high, column)[:MAX_PLAYLIST_FRAGMENTS]
    if not fragments:
        raise ResourceNotFoundException(
            f"No fragments of stream {stream.name} in {to_datetime(low).isoformat()} .. "
            f"{to_datetime(high).isoformat()}"
        )
    session = root / f"{stream.name}-{uuid.uuid4().hex[:12]}"
    session.mkdir()
    lines, offset, longest = [], 0.0, 0.0
    for fragment in fragments:
        times = fragment.frame_times - fragment.producer_timestamp + _start(fragment, column)
        with open(fragment.path, "rb") as handle:
            jpegs = [
                read_jpeg(handle, tuple(span))
                for at, span in zip(times, fragment.frame_spans, strict=True)
                if low <= at < high
            ]
        if not jpegs:
            continue
        seconds = fragment.duration_ms / 1000 * len(jpegs) / len(times)
        fps = len(jpegs) / seconds if seconds > 0 else 1.0
        name = f"{fragment.number}.ts"
        (session / name).write_bytes(encode_h264(jpegs, fps, container="ts", start_offset=offset))
        lines += [f"#EXTINF:{seconds:.3f},", name]
        offset += seconds
        longest = max(longest, seconds)
    playlist = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        f"#EXT-X-TARGETDURATION:{math.ceil(longest)}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        *lines,
        "#EXT-X-ENDLIST",
    ]
    index = session / "index.m3u8"
    atomic_write_bytes(index, ("\n".join(playlist) + "\n").encode())
    atomic_write_bytes(session / _EXPIRY, str(clock.now() + expires).encode())
    return {"HLSStreamingSessionURL": index.as_uri()}


def _drop_expired_sessions(root: Path, now: float) -> None:
    for session in root.iterdir():
        expiry = session / _EXPIRY
        if expiry.exists() and float(expiry.read_text()) <= now:
            shutil.rmtree(session, ignore_errors=True)


def images(
    stream: VideoStream,
    low: float,
    high: float,
    column: str,
    *,
    sampling_interval: int,
    image_format: str,
    jpeg_quality: int,
    size: tuple[int | None, int | None],
    max_results: int,
    next_token: str | None,
) -> dict:
    """GetImages: the frame nearest each sampling instant, scaled and encoded."""
    if high - low > MAX_IMAGES_RANGE_S:
        raise InvalidArgumentException(
            f"The range is {high - low:g} s; GetImages covers at most {MAX_IMAGES_RANGE_S:g} s"
        )
    if not isinstance(sampling_interval, int) or sampling_interval < MIN_SAMPLING_MS:
        raise InvalidArgumentException(
            f"SamplingInterval {sampling_interval!r} ms is too small: use at least "
            f"{MIN_SAMPLING_MS} ms"
        )
    if image_format not in ("JPEG", "PNG"):
        raise InvalidArgumentException(f"Format {image_format!r} is not JPEG or PNG")
    if not 1 <= jpeg_quality <= 100:
        raise InvalidArgumentException(f"JPEGQuality {jpeg_quality} is out of range 1-100")
    for value, what, most in ((size[0], "WidthPixels", 3840), (size[1], "HeightPixels", 2160)):
        if value is not None and not 1 <= value <= most:
            raise InvalidArgumentException(f"{what} {value} is out of range 1-{most}")
    check_max_results(max_results, 1, 100)
    request = {"stream": stream.arn, "range": [low, high, column], "every": sampling_interval}
    first = decode_token(next_token, request)["next"] if next_token else 0
    total = round((high - low) * 1000) // sampling_interval + 1
    instants = [low + k * sampling_interval / 1000 for k in range(first, total)][:max_results]
    if not instants:
        return {"Images": []}
    params = (
        [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        if image_format == "JPEG"
        else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    )
    sampler = _Sampler(_overlapping(stream, instants[0], instants[-1], column), column)
    out = []
    try:
        for at in instants:
            image = sampler.image(at, size)
            entry: dict = {"TimeStamp": to_datetime(at)}
            if image is None:
                entry["Error"] = "NO_MEDIA"
            else:
                _, data = cv2.imencode(".jpg" if image_format == "JPEG" else ".png", image, params)
                entry["ImageContent"] = base64.b64encode(data).decode()
            out.append(entry)
    finally:
        sampler.close()
    page: dict = {"Images": out}
    if first + len(instants) < total:
        page["NextToken"] = encode_token({"request": request, "next": first + len(instants)})
    return page


class _Sampler:
    """Finds and decodes the frame nearest an instant, keeping fragment files open."""

    def __init__(self, fragments: list[Fragment], column: str) -> None:
        self.fragments = fragments
        self.starts = np.array([_start(f, column) for f in fragments])
        self.times = [_frame_times(f, column) for f in fragments]
        self.handles: dict[str, object] = {}

    def image(self, at: float, size: tuple[int | None, int | None]) -> np.ndarray | None:
        k = int(np.searchsorted(self.starts, at, side="right")) - 1
        if k < 0 or at >= self.starts[k] + self.fragments[k].duration_ms / 1000:
            return None
        fragment, times = self.fragments[k], self.times[k]
        i = int(np.clip(np.searchsorted(times, at), 0, len(times) - 1))
        if i > 0 and at - times[i - 1] < times[i] - at:
            i -= 1
        width, height = _target(fragment.width, fragment.height, size)
        reduce = 1
        while reduce < 8 and fragment.width // (reduce * 2) >= width:
            reduce *= 2
        handle = self.handles.get(fragment.number)
        if handle is None:
            handle = self.handles[fragment.number] = open(fragment.path, "rb")  # noqa: SIM115
        image = read_frame(handle, tuple(fragment.frame_spans[i]), reduce)
        if image.shape[1] != width or image.shape[0] != height:
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        return image

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


def _target(width: int, height: int, size: tuple[int | None, int | None]) -> tuple[int, int]:
    want_w, want_h = size
    if want_w and want_h:
        return want_w, want_h
    if want_w:
        return want_w, max(1, round(height * want_w / width))
    if want_h:
        return max(1, round(width * want_h / height)), want_h
    return width, height
