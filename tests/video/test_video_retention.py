"""Fragments live for DataRetentionInHours on the workbench clock, then go with their media."""

import pytest

from workbench.errors import ResourceNotFoundException
from workbench.video import SyntheticCamera
from workbench.video._service import LIVE_BUFFER_S


def _put(stream, seconds=2):
    camera = SyntheticCamera(160, 160, 5)
    stream.put_media(camera.frames(seconds, start=stream.video.clock.now()))


def test_fragments_expire_after_the_retention_period(make_wb):
    wb = make_wb()
    stream = wb.video.create_stream("cam", data_retention_in_hours=2)
    _put(stream)
    wb.clock.advance("1h")
    _put(stream)
    files = [f.path for f in stream.fragments()]
    assert len(files) == 2
    wb.clock.advance("59m")
    assert len(stream.list_fragments()["Fragments"]) == 2
    wb.clock.advance("61s")
    left = stream.list_fragments()["Fragments"]
    assert len(left) == 1
    assert not files[0].exists() and files[1].exists()
    assert len(list(stream.get_media("EARLIEST"))) == 10
    wb.clock.advance("1h")
    assert stream.list_fragments()["Fragments"] == []
    assert not files[1].exists()


def test_an_expired_fragment_number_is_not_found(make_wb):
    wb = make_wb()
    stream = wb.video.create_stream("cam", data_retention_in_hours=1)
    _put(stream)
    number = stream.fragments()[0].number
    wb.clock.advance("2h")
    with pytest.raises(ResourceNotFoundException):
        stream.get_media({"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": number})


def test_zero_retention_keeps_only_a_short_live_buffer(make_wb):
    wb = make_wb()
    stream = wb.video.create_stream("cam", data_retention_in_hours=0)
    _put(stream)
    wb.clock.advance(LIVE_BUFFER_S - 1)
    assert len(stream.fragments()) == 1
    wb.clock.advance(2)
    assert stream.fragments() == []


def test_retention_applies_per_stream(make_wb):
    wb = make_wb()
    short = wb.video.create_stream("short", data_retention_in_hours=1)
    long = wb.video.create_stream("long", data_retention_in_hours=24)
    _put(short)
    _put(long)
    wb.clock.advance("3h")
    assert wb.video.enforce_retention() == 1
    assert short.fragments() == [] and len(long.fragments()) == 1
