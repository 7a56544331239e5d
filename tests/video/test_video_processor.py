"""The frame processor writes one Rekognition-shaped record per analysed frame; HOG finds people."""

import cv2
import numpy as np
import orjson
import pytest

from workbench.video import (
    Detection,
    Detector,
    FaceDetector,
    FrameProcessor,
    MemorySink,
    MotionDetector,
    PeopleDetector,
    SyntheticCamera,
)

# Stated bounds for OpenCV's default HOG people detector on the synthetic camera, matching a
# detection to a true person when their boxes overlap by IoU >= 0.3.
MIN_RECALL = 0.8
MIN_PRECISION = 0.8


class _Fixed:
    """A detector that always finds the same box: pins the record's numbers."""

    label = "Thing"

    def detect(self, image):
        return [Detection("Thing", 75.5, (16, 40, 32, 80))]


def _iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


def test_records_have_the_stream_processor_output_shape(make_stream):
    stream, t0 = make_stream(seconds=4, fps=10)
    sink = MemorySink()
    summary = FrameProcessor(stream, sink, [_Fixed()], sampling_interval=0.5).run()
    assert summary["FramesRead"] == 40
    assert summary["FramesAnalysed"] == summary["RecordsWritten"] == 8
    assert summary["ContinuationToken"] == stream.fragments()[-1].number
    fragments = {f.number: f for f in stream.fragments()}
    for entry, record in zip(sink.entries, sink.records, strict=True):
        assert entry["PartitionKey"] == "cam"
        assert orjson.loads(entry["Data"]) == record
        kv = record["InputInformation"]["KinesisVideo"]
        assert set(kv) == {
            "StreamArn",
            "FragmentNumber",
            "ServerTimestamp",
            "ProducerTimestamp",
            "FrameOffsetInSeconds",
        }
        assert kv["StreamArn"] == stream.arn
        fragment = fragments[kv["FragmentNumber"]]
        assert kv["ProducerTimestamp"] == pytest.approx(fragment.producer_timestamp, abs=1e-3)
        assert kv["ServerTimestamp"] == pytest.approx(fragment.server_timestamp, abs=1e-3)
        assert 0 <= kv["FrameOffsetInSeconds"] < 2
        assert record["Detections"] == [
            {
                "Label": "Thing",
                "Confidence": 75.5,
                "BoundingBox": {"Width": 0.2, "Height": 0.5, "Left": 0.1, "Top": 0.25},
            }
        ]
        assert record["LabelCounts"] == {"Thing": 1}
        assert record["FaceSearchResponse"] == []
    offsets = [
        r["InputInformation"]["KinesisVideo"]["ProducerTimestamp"]
        + r["InputInformation"]["KinesisVideo"]["FrameOffsetInSeconds"]
        - t0
        for r in sink.records
    ]
    assert offsets == pytest.approx([k * 0.5 for k in range(8)], abs=1e-3)


def test_the_detectors_follow_the_protocol():
    for detector in (PeopleDetector(), MotionDetector(), FaceDetector(), _Fixed()):
        assert isinstance(detector, Detector)


def test_people_detector_recall_and_precision_against_the_camera_truth(make_wb):
    wb = make_wb()
    stream = wb.video.create_stream("street")
    camera = SyntheticCamera(640, 480, 5, seed=0)
    t0 = wb.clock.now()
    stream.put_media(camera.frames(16, start=t0))
    sink = MemorySink()
    FrameProcessor(stream, sink, [PeopleDetector()], sampling_interval=1.5).run()
    hits = misses = false = 0
    for record in sink.records:
        kv = record["InputInformation"]["KinesisVideo"]
        truth = camera.people(round(kv["ProducerTimestamp"] + kv["FrameOffsetInSeconds"] - t0, 3))
        used: set[int] = set()
        for found in record["Detections"]:
            b = found["BoundingBox"]
            box = (b["Left"] * 640, b["Top"] * 480, b["Width"] * 640, b["Height"] * 480)
            score, best = max(
                ((_iou(box, g), j) for j, g in enumerate(truth) if j not in used),
                default=(0.0, None),
            )
            if score >= 0.3:
                hits += 1
                used.add(best)
            else:
                false += 1
        misses += len(truth) - len(used)
    assert hits + misses >= 10, "the scene should hold people in most frames"
    assert hits / (hits + misses) >= MIN_RECALL
    assert hits / (hits + false) >= MIN_PRECISION


def test_motion_is_found_where_something_moves():
    detector = MotionDetector()
    still = np.full((240, 320, 3), 120, np.uint8)
    for _ in range(30):  # learning the background
        detector.detect(still)
    assert detector.detect(still) == []
    moved = still.copy()
    cv2.rectangle(moved, (100, 60), (160, 160), (20, 20, 20), -1)
    found = detector.detect(moved)
    assert len(found) == 1
    x, y, w, h = found[0].box
    assert abs(x - 100) <= 8 and abs(y - 60) <= 8 and abs(w - 61) <= 16 and abs(h - 101) <= 16


def test_faces_are_found_in_a_drawn_face_free_scene_as_none():
    camera = SyntheticCamera(320, 240, 5)
    assert FaceDetector().detect(camera.render(1.0)) == []


def test_a_processor_runs_live_beside_the_producer(make_wb):
    wb = make_wb()
    wb.clock.run(speed=20)
    stream = wb.video.create_stream("cam")
    sink = MemorySink()
    run = FrameProcessor(stream, sink, [MotionDetector()]).start("NOW", idle_timeout=5.0)
    camera = SyntheticCamera(160, 160, 10)
    stream.put_media(camera.frames(4, start=wb.clock.now() + 0.5), pace=True)
    summary = run.join(timeout=60)
    assert summary is not None and summary["FramesAnalysed"] == 40
    assert len(sink.records) == 40


def test_a_sink_that_refuses_records_gets_them_again():
    class Flaky(MemorySink):
        calls = 0

        def put_records(self, entries):
            self.calls += 1
            if self.calls == 1:
                return {
                    "FailedRecordCount": len(entries),
                    "Records": [{"ErrorCode": "ProvisionedThroughputExceededException"}]
                    * len(entries),
                }
            return super().put_records(entries)

    class _Stream:
        name, arn = "s", "arn"

    sink = Flaky()
    processor = FrameProcessor(_Stream(), sink, [_Fixed()])
    assert processor._flush([{"Data": b"{}", "PartitionKey": "s"}]) == 1
    assert sink.calls == 2 and len(sink.entries) == 1


def test_records_land_in_a_data_stream_and_count_people_per_minute(make_wb):
    import duckdb
    import polars as pl

    wb = make_wb()
    video = wb.video.create_stream("street")
    camera = SyntheticCamera(640, 480, 1, seed=2)
    t0 = wb.clock.now()
    video.put_media(camera.frames(130, start=t0), fragment_duration=10.0)
    wb.streams.create_stream("detections", shard_count=1)
    processor = wb.video.processor("street", "detections", [PeopleDetector()], sampling_interval=10)
    assert processor.run()["RecordsWritten"] == 13
    data = wb.streams.stream("detections")
    shard = data.list_shards()[0]["ShardId"]
    got = data.get_records(data.get_shard_iterator(shard, "TRIM_HORIZON"))["Records"]
    assert [r["PartitionKey"] for r in got] == ["street"] * 13
    rows = [orjson.loads(r["Data"]) for r in got]
    frames = pl.DataFrame(
        {
            "ts": [
                r["InputInformation"]["KinesisVideo"]["ProducerTimestamp"]
                + r["InputInformation"]["KinesisVideo"]["FrameOffsetInSeconds"]
                - t0
                for r in rows
            ],
            "people": [r["LabelCounts"].get("Person", 0) for r in rows],
        }
    )
    db = duckdb.connect()
    db.register("frames", frames)
    per_minute = db.sql(
        "SELECT floor(ts / 60) AS minute, max(people) AS most, count(*) AS n "
        "FROM frames GROUP BY minute ORDER BY minute"
    ).fetchall()
    assert [(m, n) for m, _, n in per_minute] == [(0, 6), (1, 6), (2, 1)]
    truth = [
        max(len(camera.people(s)) for s in range(m * 60, min(m * 60 + 60, 121), 10))
        for m in range(3)
    ]
    assert [most for _, most, _ in per_minute] == truth


def test_sampling_starts_afresh_when_producer_time_goes_back(make_wb):
    wb = make_wb()
    stream = wb.video.create_stream("cam")
    camera = SyntheticCamera(160, 160, 10)
    stream.put_media(camera.frames(2, start=5000.0))
    stream.put_media(camera.frames(2, start=1000.0))  # a producer with a reset clock
    sink = MemorySink()
    summary = FrameProcessor(stream, sink, [_Fixed()], sampling_interval=1.0).run()
    assert summary["FramesAnalysed"] == 4
    starts = [
        r["InputInformation"]["KinesisVideo"]["ProducerTimestamp"]
        + r["InputInformation"]["KinesisVideo"]["FrameOffsetInSeconds"]
        for r in sink.records
    ]
    assert starts == pytest.approx([5000, 5001, 1000, 1001])
