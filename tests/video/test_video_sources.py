"""Producers: the synthetic camera's scenes, a video file and a webcam when one is present."""

import numpy as np
import pytest

from workbench.video import SyntheticCamera, video_file, webcam, webcam_available


def test_the_camera_is_deterministic_per_seed_and_changes_with_it():
    a, b, c = (SyntheticCamera(320, 240, 10, seed=s) for s in (1, 1, 2))
    assert np.array_equal(a.render(3.0), b.render(3.0))
    assert a.people(3.0) == b.people(3.0)
    assert not np.array_equal(a.render(3.0), c.render(3.0))


def test_the_camera_has_the_asked_resolution_rate_and_overlay():
    camera = SyntheticCamera(400, 300, 12.5)
    frames = list(camera.frames(2, start=1_700_000_000))
    assert len(frames) == 25
    assert [t for t, _ in frames[:3]] == pytest.approx(
        [1_700_000_000, 1_700_000_000.08, 1_700_000_000.16]
    )
    assert frames[0][1].shape == (300, 400, 3)
    # The timestamp overlay differs between frames a second apart in its strip at the bottom.
    assert not np.array_equal(frames[0][1][-20:], frames[-1][1][-20:])


def test_people_move_and_stay_inside_the_frame():
    camera = SyntheticCamera(640, 480, 30, seed=0)
    seen = [camera.people(t / 2) for t in range(120)]
    assert any(seen) and any(len(s) != len(seen[0]) for s in seen)  # they come and go
    for boxes in seen:
        for x, y, w, h in boxes:
            assert x >= 0 and x + w <= 640 and y >= 0 and y + h <= 480 - 20
    moving = [b[0][0] for b in seen if len(b) == 1]
    assert len(set(moving)) > 10


def test_a_video_file_is_ingested_with_its_own_timing(make_stream, make_wb, tmp_path):
    source, t0 = make_stream(seconds=3, fps=10)
    path = tmp_path / "source.mp4"
    path.write_bytes(source.get_clip(t0, t0 + 3)["Payload"])
    wb = make_wb()
    stream = wb.video.create_stream("from-file")
    acks = stream.put_media(video_file(path, start=500.0))
    assert [a["FrameCount"] for a in acks] == [20, 10]
    frames = list(stream.get_media("EARLIEST"))
    assert [f.producer_timestamp for f in frames] == pytest.approx(
        [500 + i / 10 for i in range(30)]
    )
    assert len(list(video_file(path, seconds=1.0))) == 10
    with pytest.raises(FileNotFoundError):
        list(video_file(tmp_path / "missing.mp4"))


def test_a_webcam_streams_when_present(make_wb):
    if not webcam_available():
        pytest.skip("no webcam on this machine")
    wb = make_wb()
    wb.clock.run(speed=1)
    stream = wb.video.create_stream("webcam")
    stream.put_media(webcam(wb.clock, seconds=2))
    assert stream.fragments()


def test_no_webcam_is_reported_cleanly(make_wb):
    if webcam_available(device=63):
        pytest.skip("a camera answers at /dev/video63")
    with pytest.raises(FileNotFoundError, match="no camera"):
        next(webcam(make_wb().clock, device=63, seconds=1))
