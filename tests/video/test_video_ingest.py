"""PutMedia cuts frames into fragments with numbers, timestamps, durations and sizes."""

import itertools

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import InvalidArgumentException
from workbench.video import SyntheticCamera


def _frames(t0, times, size=(48, 64)):
    """Small frames whose pixel value encodes their position, at given offsets from t0."""
    for i, t in enumerate(times):
        yield t0 + t, np.full((*size, 3), (i * 7) % 250, np.uint8)


def test_default_fragments_are_two_seconds_of_frames(make_stream):
    stream, t0 = make_stream(seconds=7, fps=10)
    fragments = stream.fragments()
    assert [len(f.frame_times) for f in fragments] == [20, 20, 20, 10]
    assert [f.producer_timestamp - t0 for f in fragments] == pytest.approx([0, 2, 4, 6])
    assert [f.duration_ms for f in fragments] == [2000, 2000, 2000, 1000]


def test_fragment_numbers_are_increasing_digit_strings(make_stream):
    stream, _ = make_stream(seconds=6, fps=5, fragment_duration=1.0)
    numbers = [f["FragmentNumber"] for f in stream.list_fragments()["Fragments"]]
    assert len(numbers) == 6
    assert all(n.isdigit() for n in numbers)
    assert [int(n) for n in numbers] == sorted({int(n) for n in numbers})
    assert numbers == sorted(numbers)  # one length: text order is numeric order


def test_server_timestamps_come_from_the_clock_when_each_fragment_arrives(make_wb):
    wb = make_wb()
    stream = wb.video.create_stream("cam")
    arrivals = []
    for k in range(3):
        wb.clock.advance("30s")
        arrivals.append(wb.clock.now())
        stream.put_media(_frames(1000.0 + k * 10, [0, 0.5, 1.0]))
    listed = stream.list_fragments()["Fragments"]
    assert [f["ServerTimestamp"].timestamp() for f in listed] == pytest.approx(arrivals)
    assert [f["ProducerTimestamp"].timestamp() for f in listed] == pytest.approx([1000, 1010, 1020])


def test_size_is_the_media_file_and_opencv_reads_every_frame_back(make_stream):
    stream, _ = make_stream(seconds=4, fps=10)
    for fragment in stream.fragments():
        assert fragment.size == fragment.path.stat().st_size
        capture = cv2.VideoCapture(str(fragment.path))
        count = 0
        while capture.read()[0]:
            count += 1
        assert count == len(fragment.frame_times)
        assert capture.get(cv2.CAP_PROP_FRAME_WIDTH) == fragment.width


def test_a_new_frame_size_starts_a_new_fragment(make_wb):
    wb = make_wb()
    stream = wb.video.create_stream("cam")
    frames = [*_frames(0, [0, 0.1, 0.2], (48, 64)), *_frames(0, [0.3, 0.4], (32, 32))]
    acks = stream.put_media(frames)
    assert [a["FrameCount"] for a in acks] == [3, 2]
    assert [(f.width, f.height) for f in stream.fragments()] == [(64, 48), (32, 32)]


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ((0.15, np.zeros((48, 64, 3), np.uint8)), "must increase"),
        ((9.0, np.zeros((48, 64), np.float32)), "uint8"),
        ((9.0, np.zeros((48, 64, 4), np.uint8)), "height×width×3"),
        ("not a frame", "pair"),
    ],
)
def test_a_bad_frame_is_refused_after_the_frames_before_it_are_kept(make_wb, bad, match):
    wb = make_wb()
    stream = wb.video.create_stream("cam")
    with pytest.raises(InvalidArgumentException, match=match):
        stream.put_media([*_frames(0, [0, 0.1, 0.2]), bad])
    got = list(stream.get_media("EARLIEST"))
    assert [f.producer_timestamp for f in got] == pytest.approx([0, 0.1, 0.2])


def test_fragment_duration_must_be_up_to_ten_seconds(make_wb):
    stream = make_wb().video.create_stream("cam")
    for duration in (0, 10.5):
        with pytest.raises(InvalidArgumentException, match="fragment_duration"):
            stream.put_media(_frames(0, [0]), fragment_duration=duration)


def test_pace_waits_on_the_clock_until_each_frame_is_due(make_wb):
    wb = make_wb()
    wb.clock.run(speed=50)
    stream = wb.video.create_stream("cam")
    t0 = wb.clock.now() + 1
    camera = SyntheticCamera(160, 160, 10)
    stream.put_media(camera.frames(4, start=t0), pace=True)
    fragments = stream.fragments()
    # Each fragment reached the "server" no earlier than its first frame was produced.
    lags = [f.server_timestamp - f.producer_timestamp for f in fragments]
    assert len(lags) == 2
    assert all(lag >= 0 for lag in lags), lags
    assert wb.clock.now() >= t0 + 3.9


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    gaps=st.lists(st.floats(0.01, 1.5), min_size=1, max_size=40),
    duration=st.sampled_from([0.5, 1.0, 2.0]),
)
def test_every_frame_put_is_got_back_in_order_with_its_timestamp(make_wb, gaps, duration):
    stream = make_wb().video.create_stream("cam")
    times = np.cumsum([0.0, *gaps])
    stream.put_media(_frames(1_700_000_000.0, times), fragment_duration=duration)
    got = list(stream.get_media("EARLIEST"))
    assert [f.producer_timestamp for f in got] == list(1_700_000_000.0 + times)
    assert [int(f.image[0, 0, 0]) for f in got] == pytest.approx(
        [(i * 7) % 250 for i in range(len(times))], abs=3
    )
    for fragment in stream.fragments():
        span = fragment.frame_times[-1] - fragment.frame_times[0]
        assert span < duration
    # Fragments tile the timeline: each ends where the next begins.
    fragments = stream.fragments()
    for a, b in itertools.pairwise(fragments):
        assert a.end_timestamp == pytest.approx(b.producer_timestamp, abs=1e-3)
