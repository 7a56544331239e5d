"""GetClip makes an H.264 MP4 of a range; GetImages samples frames at an interval."""

import base64

import cv2
import numpy as np
import pytest

from workbench.errors import (
    ClientLimitExceededException,
    InvalidArgumentException,
    ResourceNotFoundException,
)


def _mp4_boxes(data: bytes) -> list[bytes]:
    """Top-level box types of an MP4 file (ISO BMFF)."""
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        boxes.append(data[pos + 4 : pos + 8])
        pos += size if size >= 8 else len(data)
    return boxes


def _read_back(data: bytes, tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    return frames, capture.get(cv2.CAP_PROP_FPS)


def test_a_clip_is_h264_mp4_as_long_as_the_range(make_stream, tmp_path):
    stream, t0 = make_stream(seconds=8, fps=10)
    clip = stream.get_clip(t0 + 1.5, t0 + 5.5)
    assert clip["ContentType"] == "video/mp4"
    data = clip["Payload"]
    boxes = _mp4_boxes(data)
    assert boxes[0] == b"ftyp"
    assert boxes.index(b"moov") < boxes.index(b"mdat")  # faststart: plays while loading
    assert b"avc1" in data and b"avcC" in data  # H.264 sample entry and its config
    frames, fps = _read_back(data, tmp_path)
    assert fps == pytest.approx(10)
    assert len(frames) / fps == pytest.approx(4.0, abs=0.1)
    assert frames[0].shape == (160, 160, 3)


def test_a_clip_starts_at_the_frame_the_range_starts_at(make_stream, tmp_path):
    stream, t0 = make_stream(seconds=4, fps=10)
    wanted = [f for f in stream.get_media("EARLIEST") if t0 + 2 <= f.producer_timestamp < t0 + 3]
    frames, _ = _read_back(stream.get_clip(t0 + 2, t0 + 3)["Payload"], tmp_path)
    assert len(frames) == len(wanted) == 10
    for got, want in zip(frames, wanted, strict=True):
        assert np.abs(got.astype(int) - want.image.astype(int)).mean() < 6


def test_a_clip_of_an_empty_range_is_not_found(make_stream):
    stream, t0 = make_stream(seconds=2)
    with pytest.raises(ResourceNotFoundException):
        stream.get_clip(t0 + 100, t0 + 200)


def test_a_clip_holds_at_most_200_fragments(make_wb):
    wb = make_wb()
    stream = wb.video.create_stream("cam")
    tiny = np.zeros((16, 16, 3), np.uint8)
    stream.put_media(((i * 0.1, tiny) for i in range(201)), fragment_duration=0.1)
    with pytest.raises(ClientLimitExceededException, match="200 fragments"):
        stream.get_clip(0, 30)
    assert len(stream.get_clip(0, 19.95)["Payload"]) > 0


def test_images_come_at_the_sampling_interval_and_page(make_stream):
    stream, t0 = make_stream(seconds=6, fps=10)
    pages, token = [], None
    while True:
        page = stream.get_images(
            t0, t0 + 5.8, sampling_interval=200, max_results=10, next_token=token
        )
        pages.append(page["Images"])
        token = page.get("NextToken")
        if not token:
            break
    images = [image for page in pages for image in page]
    assert [len(p) for p in pages] == [10, 10, 10]
    offsets = [i["TimeStamp"].timestamp() - t0 for i in images]
    assert offsets == pytest.approx([k * 0.2 for k in range(30)], abs=1e-3)
    frames = {round(f.producer_timestamp - t0, 3): f.image for f in stream.get_media("EARLIEST")}
    for image, offset in zip(images, offsets, strict=True):
        decoded = cv2.imdecode(np.frombuffer(base64.b64decode(image["ImageContent"]), np.uint8), 1)
        want = frames[round(offset, 3)]
        assert np.abs(decoded.astype(int) - want.astype(int)).mean() < 6


def test_images_are_scaled_and_encoded_as_asked(make_stream):
    stream, t0 = make_stream(seconds=2, fps=10, width=320, height=240)
    png = stream.get_images(t0, t0 + 1, sampling_interval=500, image_format="PNG", width=80)
    data = base64.b64decode(png["Images"][0]["ImageContent"])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert cv2.imdecode(np.frombuffer(data, np.uint8), 1).shape == (60, 80, 3)
    both = stream.get_images(t0, t0 + 1, sampling_interval=500, width=100, height=50)
    data = base64.b64decode(both["Images"][0]["ImageContent"])
    assert data[:2] == b"\xff\xd8"
    assert cv2.imdecode(np.frombuffer(data, np.uint8), 1).shape == (50, 100, 3)


def test_instants_without_media_say_so(make_stream):
    stream, t0 = make_stream(seconds=2, fps=10)
    images = stream.get_images(t0 + 1, t0 + 3, sampling_interval=1000)["Images"]
    assert ["Error" in i for i in images] == [False, True, True]
    assert images[1]["Error"] == "NO_MEDIA"


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"sampling_interval": 199}, "at least 200"),
        ({"end_offset": 301}, "300"),
        ({"image_format": "GIF"}, "JPEG or PNG"),
        ({"jpeg_quality": 0}, "1-100"),
        ({"width": 5000}, "WidthPixels"),
        ({"max_results": 101}, "1-100"),
    ],
)
def test_get_images_refuses_bad_arguments(make_stream, options, match):
    stream, t0 = make_stream(seconds=1)
    end = t0 + options.pop("end_offset", 1)
    with pytest.raises(InvalidArgumentException, match=match):
        stream.get_images(t0, end, **options)


def test_a_clip_across_frame_sizes_is_refused(make_wb):
    wb = make_wb()
    stream = wb.video.create_stream("cam")
    small, large = np.zeros((16, 16, 3), np.uint8), np.zeros((32, 32, 3), np.uint8)
    stream.put_media([(0.0, small), (0.1, small), (0.2, large), (0.3, large)])
    with pytest.raises(InvalidArgumentException, match="frame sizes"):
        stream.get_clip(0, 1)
    assert len(stream.get_clip(0.2, 1)["Payload"]) > 0
