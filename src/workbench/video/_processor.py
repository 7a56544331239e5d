"""The frame processor: read a video stream, run detectors, write one record per analysed frame.

Records take the shape of a Rekognition stream processor's output in a Kinesis data stream, so
the windowed queries and dashboards that read data streams can count people per minute.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import orjson

from workbench.video._detectors import Detection, Detector
from workbench.video._playback import Frame
from workbench.video._stream import VideoStream

_PUT_RECORDS_LIMIT = 500
_RETRIES = 5


@runtime_checkable
class RecordSink(Protocol):
    """Where records go: a data stream (``wb.streams.stream(name)``) or anything alike."""

    def put_records(self, entries: list[dict]) -> dict:
        """PutRecords: entries ``{"Data": bytes, "PartitionKey": str}``, AWS's answer back."""


class MemorySink:
    """A sink that keeps records in a list, for tests and notebooks without a data stream.

    >>> sink = MemorySink()
    >>> sink.put_records([{"Data": b'{"a": 1}', "PartitionKey": "k"}])["FailedRecordCount"]
    0
    >>> sink.records
    [{'a': 1}]
    """

    def __init__(self) -> None:
        self.entries: list[dict] = []

    def put_records(self, entries: list[dict]) -> dict:
        start = len(self.entries)
        self.entries.extend(entries)
        return {
            "FailedRecordCount": 0,
            "Records": [
                {"ShardId": "shardId-000000000000", "SequenceNumber": str(start + i)}
                for i in range(len(entries))
            ],
        }

    @property
    def records(self) -> list[dict]:
        """The records put so far, decoded from JSON."""
        return [orjson.loads(e["Data"]) for e in self.entries]


def _box(box: tuple[int, int, int, int], width: int, height: int) -> dict:
    x, y, w, h = box
    # Rekognition gives boxes as ratios of the frame's width and height.
    return {
        "Width": round(w / width, 6),
        "Height": round(h / height, 6),
        "Left": round(x / width, 6),
        "Top": round(y / height, 6),
    }


def frame_record(stream_arn: str, frame: Frame, detections: list[Detection]) -> dict:
    """The record for one analysed frame, in Rekognition stream processor output's shape.

    ``InputInformation.KinesisVideo`` names the fragment and the frame's offset in it (epoch
    seconds, as Rekognition writes them); ``Detections`` lists every label's boxes;
    ``FaceSearchResponse`` repeats faces as Rekognition's face search reports them;
    ``LabelCounts`` (a workbench addition) counts detections per label for windowed queries.
    """
    height, width = frame.image.shape[:2]
    counts: dict[str, int] = {}
    for d in detections:
        counts[d.label] = counts.get(d.label, 0) + 1
    fragment_start = frame.producer_timestamp - frame.frame_offset
    return {
        "InputInformation": {
            "KinesisVideo": {
                "StreamArn": stream_arn,
                "FragmentNumber": frame.fragment_number,
                "ServerTimestamp": round(frame.server_timestamp - frame.frame_offset, 3),
                "ProducerTimestamp": round(fragment_start, 3),
                "FrameOffsetInSeconds": round(frame.frame_offset, 3),
            }
        },
        "StreamProcessorInformation": {"Status": "RUNNING"},
        "Detections": [
            {
                "Label": d.label,
                "Confidence": d.confidence,
                "BoundingBox": _box(d.box, width, height),
            }
            for d in detections
        ],
        "FaceSearchResponse": [
            {
                "DetectedFace": {
                    "BoundingBox": _box(d.box, width, height),
                    "Confidence": d.confidence,
                },
                "MatchedFaces": [],
            }
            for d in detections
            if d.label == "Face"
        ],
        "LabelCounts": counts,
    }


class FrameProcessor:
    """Runs detectors over a video stream's frames and puts one JSON record per analysed frame.

    ``sampling_interval`` (seconds of producer time) analyses at most one frame per interval;
    0 analyses every frame.
    """

    def __init__(
        self,
        stream: VideoStream,
        sink: RecordSink,
        detectors: Sequence[Detector],
        *,
        sampling_interval: float = 0.0,
        batch_size: int = 100,
    ) -> None:
        if not detectors:
            raise ValueError("a frame processor needs at least one detector")
        if not 1 <= batch_size <= _PUT_RECORDS_LIMIT:
            raise ValueError(f"batch_size must be 1-{_PUT_RECORDS_LIMIT}, got {batch_size}")
        self.stream = stream
        self.sink = sink
        self.detectors = list(detectors)
        self.sampling_interval = sampling_interval
        self.batch_size = batch_size
        self.continuation_token: str | None = None

    def analyse(self, frame: Frame) -> tuple[dict, list[Detection]]:
        """Run every detector on one frame; its record and the detections."""
        found = [d for detector in self.detectors for d in detector.detect(frame.image)]
        return frame_record(self.stream.arn, frame, found), found

    def run(self, start_selector: str | dict = "EARLIEST", **reading) -> dict:
        """Read from ``start_selector`` and write records; ``reading`` options (``follow``,
        ``idle_timeout``, ``max_frames``, ``stop``) are those of ``VideoStream.get_media``.

        Returns a summary: frames read and analysed, records written, and the continuation
        token to resume from.
        """
        media = self.stream.get_media(start_selector, **reading)
        batch: list[dict] = []
        read = analysed = written = 0
        last = -np.inf
        fragment = None
        for frame in media:
            read += 1
            if frame.fragment_number != fragment and batch:
                written += self._flush(batch)
            fragment = frame.fragment_number
            since = frame.producer_timestamp - last
            # A later PutMedia may restart producer time lower: sample afresh from there.
            if 0 <= since < self.sampling_interval:
                continue
            last = frame.producer_timestamp
            record, _ = self.analyse(frame)
            analysed += 1
            batch.append({"Data": orjson.dumps(record), "PartitionKey": self.stream.name})
            if len(batch) >= self.batch_size:
                written += self._flush(batch)
        written += self._flush(batch)
        self.continuation_token = media.continuation_token
        return {
            "FramesRead": read,
            "FramesAnalysed": analysed,
            "RecordsWritten": written,
            "ContinuationToken": media.continuation_token,
        }

    def start(self, start_selector: str | dict = "NOW", **options) -> ProcessorRun:
        """Run in a background thread (following the live edge); stop or join the result."""
        return ProcessorRun(self, start_selector, options)

    def _flush(self, batch: list[dict]) -> int:
        pending, written = list(batch), 0
        batch.clear()
        for _ in range(_RETRIES):
            if not pending:
                break
            result = self.sink.put_records(pending)
            failed = [
                e for e, r in zip(pending, result["Records"], strict=True) if "ErrorCode" in r
            ]
            written += len(pending) - len(failed)
            pending = failed
        if pending:
            raise RuntimeError(
                f"{len(pending)} detection records were refused {_RETRIES} times by the sink"
            )
        return written


class ProcessorRun:
    """A frame processor running in a thread: ``stop()`` it, or ``join()`` for its summary."""

    def __init__(self, processor: FrameProcessor, start_selector: str | dict, options: dict):
        self._stop = threading.Event()
        options.setdefault("follow", True)
        self.summary: dict | None = None
        self.error: BaseException | None = None

        def work() -> None:
            try:
                self.summary = processor.run(start_selector, stop=self._stop, **options)
            except BaseException as error:  # handed to join(), not lost in the thread
                self.error = error

        self._thread = threading.Thread(target=work, name="video-frame-processor", daemon=True)
        self._thread.start()

    def stop(self) -> dict | None:
        """Ask the processor to finish after the current frame; wait for its summary."""
        self._stop.set()
        return self.join()

    def join(self, timeout: float | None = None) -> dict | None:
        self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        return self.summary
