"""Notebook helpers render what GetClip, GetImages and the frame processor return."""

import numpy as np

from workbench.video import draw_detections, frame_record, play, show, thumbnails
from workbench.video._detectors import Detection
from workbench.video._playback import Frame


def test_play_embeds_the_mp4(make_stream):
    stream, t0 = make_stream(seconds=2)
    clip = stream.get_clip(t0, t0 + 1)
    player = play(clip)
    markup = player._repr_html_()
    assert "<video" in markup and "data:video/mp4;base64," in markup


def test_thumbnails_show_every_image_and_gap(make_stream):
    stream, t0 = make_stream(seconds=2)
    images = stream.get_images(t0, t0 + 3, sampling_interval=500)
    markup = thumbnails(images).data
    assert markup.count("<figure") == 7
    assert markup.count("data:image/jpeg;base64,") == 4
    assert markup.count("NO_MEDIA") == 3


def test_boxes_from_a_record_land_where_the_detector_found_them():
    image = np.zeros((100, 200, 3), np.uint8)
    frame = Frame(image, 10.0, 11.0, "1", 0.0)
    record = frame_record("arn", frame, [Detection("Person", 88.0, (50, 20, 40, 60))])
    boxed = draw_detections(image, record)
    assert boxed[20, 50].any() and boxed[79, 89].any()
    assert not boxed[50, 70].any()  # inside the box stays untouched
    assert not image.any()  # the original is not drawn on
    assert show(boxed).data[:8] == b"\x89PNG\r\n\x1a\n"
