"""Video streams are created, described, listed and deleted as Kinesis Video Streams does."""

from datetime import datetime

import pytest

from workbench import Workbench
from workbench.errors import (
    InvalidArgumentException,
    ResourceInUseException,
    ResourceNotFoundException,
    VersionMismatchException,
)


def test_create_then_describe_shows_what_was_asked(make_wb):
    wb = make_wb()
    stream = wb.video.create_stream(
        "door.cam_1-a", media_type="video/h264", data_retention_in_hours=48, device_name="door"
    )
    info = wb.video.describe_stream("door.cam_1-a")["StreamInfo"]
    assert info["StreamName"] == "door.cam_1-a"
    assert info["StreamARN"] == stream.arn
    assert info["StreamARN"].startswith("arn:aws:kinesisvideo:")
    assert ":stream/door.cam_1-a/" in info["StreamARN"]
    assert info["MediaType"] == "video/h264"
    assert info["DataRetentionInHours"] == 48
    assert info["DeviceName"] == "door"
    assert info["Status"] == "ACTIVE"
    assert isinstance(info["CreationTime"], datetime)
    assert info["CreationTime"].timestamp() == pytest.approx(wb.clock.now())


@pytest.mark.parametrize("name", ["", "a b", "cam/1", "x" * 257, "cäm", None])
def test_invalid_names_are_refused_with_the_rule(make_wb, name):
    with pytest.raises(InvalidArgumentException, match="a-z, A-Z, 0-9"):
        make_wb().video.create_stream(name)


def test_a_name_of_256_characters_is_allowed(make_wb):
    wb = make_wb()
    wb.video.create_stream("x" * 256)
    assert wb.video.stream("x" * 256).name == "x" * 256


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"data_retention_in_hours": -1}, "0-87600"),
        ({"data_retention_in_hours": 87601}, "0-87600"),
        ({"data_retention_in_hours": 1.5}, "integer"),
        ({"media_type": "h264"}, "MediaType"),
        ({"media_type": "video/" + "x" * 130}, "MediaType"),
    ],
)
def test_invalid_settings_are_refused_and_nothing_is_created(make_wb, options, match):
    wb = make_wb()
    with pytest.raises(InvalidArgumentException, match=match):
        wb.video.create_stream("cam", **options)
    assert wb.video.list_streams()["StreamInfoList"] == []


def test_a_taken_name_is_in_use(make_wb):
    wb = make_wb()
    wb.video.create_stream("cam", data_retention_in_hours=1)
    with pytest.raises(ResourceInUseException):
        wb.video.create_stream("cam", data_retention_in_hours=2)
    assert wb.video.describe_stream("cam")["StreamInfo"]["DataRetentionInHours"] == 1


def test_unknown_streams_are_not_found(make_wb):
    wb = make_wb()
    for call in (wb.video.describe_stream, wb.video.stream, wb.video.delete_stream):
        with pytest.raises(ResourceNotFoundException, match="nope"):
            call("nope")


def test_list_streams_pages_in_name_order_with_a_prefix(make_wb):
    wb = make_wb()
    names = ["cam-c", "cam-a", "door", "cam-b", "cam-d"]
    for name in names:
        wb.video.create_stream(name)
    seen, token = [], None
    while True:
        page = wb.video.list_streams(max_results=2, next_token=token, name_prefix="cam-")
        assert len(page["StreamInfoList"]) <= 2
        seen += [s["StreamName"] for s in page["StreamInfoList"]]
        token = page.get("NextToken")
        if token is None:
            break
    assert seen == ["cam-a", "cam-b", "cam-c", "cam-d"]
    with pytest.raises(InvalidArgumentException):
        wb.video.list_streams(max_results=0)
    with pytest.raises(InvalidArgumentException, match="different request"):
        token = wb.video.list_streams(max_results=1, name_prefix="cam-")["NextToken"]
        wb.video.list_streams(next_token=token, name_prefix="door")


def test_delete_removes_the_stream_and_its_media(make_stream):
    stream, _ = make_stream(seconds=3)
    video = stream.video
    version = stream.describe()["Version"]
    with pytest.raises(VersionMismatchException):
        video.delete_stream("cam", current_version="0")
    assert stream.folder.exists()
    video.delete_stream("cam", current_version=version)
    assert not stream.folder.exists()
    assert video.list_streams()["StreamInfoList"] == []
    video.wb.clock.advance("1s")
    again = video.create_stream("cam")
    assert again.arn != stream.arn
    assert again.list_fragments()["Fragments"] == []


def test_another_workbench_on_the_same_home_sees_the_streams(make_stream):
    stream, _ = make_stream(seconds=2)
    other = Workbench(home=stream.video.wb.home.path, clock=stream.video.clock)
    assert other.video.describe_stream("cam")["StreamInfo"]["StreamARN"] == stream.arn
    assert len(other.video.stream("cam").list_fragments()["Fragments"]) == 1


def test_a_stream_arn_names_the_stream_too(make_wb):
    wb = make_wb()
    stream = wb.video.create_stream("cam")
    assert wb.video.stream(stream.arn).name == "cam"
    assert wb.video.describe_stream(stream.arn)["StreamInfo"]["StreamName"] == "cam"
    with pytest.raises(ResourceNotFoundException):
        wb.video.stream(stream.arn + "0")
