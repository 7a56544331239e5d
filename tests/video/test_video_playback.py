"""ListFragments, GetMedia's start selectors and the live tail."""

import threading

import pytest

from workbench.errors import InvalidArgumentException, ResourceNotFoundException
from workbench.video import SyntheticCamera


def _times(frames):
    return [round(f.producer_timestamp, 6) for f in frames]


def test_list_fragments_by_producer_range_and_pages_without_gaps_or_repeats(make_stream):
    stream, t0 = make_stream(seconds=10, fps=5, fragment_duration=1.0)
    everything = stream.list_fragments(max_results=1000)["Fragments"]
    assert len(everything) == 10
    in_range = stream.list_fragments(t0 + 2, t0 + 5)["Fragments"]
    assert [f["ProducerTimestamp"].timestamp() - t0 for f in in_range] == pytest.approx(
        [2, 3, 4, 5]
    )
    pages, token = [], None
    while True:
        page = stream.list_fragments(t0, t0 + 100, max_results=3, next_token=token)
        pages.append([f["FragmentNumber"] for f in page["Fragments"]])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    assert [n for page in pages for n in page] == [f["FragmentNumber"] for f in everything]


def test_list_fragments_by_server_timestamp(make_wb):
    wb = make_wb()
    stream = wb.video.create_stream("cam")
    camera = SyntheticCamera(160, 160, 5)
    for k in range(3):
        stream.put_media(camera.frames(1, start=1000.0 + k))
        wb.clock.advance("1m")
    first = stream.list_fragments(timestamp_type="SERVER_TIMESTAMP")["Fragments"][0]
    server = first["ServerTimestamp"].timestamp()
    hits = stream.list_fragments(server + 30, server + 90, timestamp_type="SERVER_TIMESTAMP")
    assert [f["ProducerTimestamp"].timestamp() for f in hits["Fragments"]] == [1001.0]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        ({"max_results": 1001}, "1-1000"),
        ({"max_results": 0}, "1-1000"),
        ({"timestamp_type": "ARRIVAL"}, "PRODUCER_TIMESTAMP"),
        ({"start": 10, "end": 5}, "before"),
        ({"start": "yesterday"}, "StartTimestamp"),
        ({"next_token": "garbage!"}, "NextToken"),
    ],
)
def test_list_fragments_refuses_bad_arguments(make_stream, call, match):
    stream, _ = make_stream(seconds=1)
    with pytest.raises(InvalidArgumentException, match=match):
        stream.list_fragments(**call)


def test_earliest_reads_every_frame_with_both_timestamps(make_stream):
    stream, t0 = make_stream(seconds=5, fps=10)
    frames = list(stream.get_media("EARLIEST"))
    assert _times(frames) == [round(t0 + i / 10, 6) for i in range(50)]
    by_number = {f.number: f for f in stream.fragments()}
    for frame in frames:
        fragment = by_number[frame.fragment_number]
        assert frame.frame_offset == pytest.approx(
            frame.producer_timestamp - fragment.producer_timestamp
        )
        assert frame.server_timestamp == pytest.approx(
            fragment.server_timestamp + frame.frame_offset
        )
        assert frame.image.shape == (160, 160, 3)


def test_fragment_number_starts_with_that_fragment(make_stream):
    stream, t0 = make_stream(seconds=6, fps=10)
    third = stream.fragments()[2]
    frames = list(
        stream.get_media(
            {"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": third.number}
        )
    )
    assert frames[0].fragment_number == third.number
    assert _times(frames)[0] == round(t0 + 4, 6)
    assert len(frames) == 20
    with pytest.raises(ResourceNotFoundException):
        stream.get_media({"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": "1"})


def test_a_continuation_token_resumes_after_the_last_whole_fragment(make_stream):
    stream, t0 = make_stream(seconds=6, fps=10)
    media = stream.get_media("EARLIEST", max_frames=25)
    first = list(media)
    assert len(first) == 25
    assert media.continuation_token == stream.fragments()[0].number
    rest = list(
        stream.get_media(
            {
                "StartSelectorType": "CONTINUATION_TOKEN",
                "ContinuationToken": media.continuation_token,
            }
        )
    )
    assert _times(rest) == [round(t0 + 2 + i / 10, 6) for i in range(40)]


@pytest.mark.parametrize("kind", ["PRODUCER_TIMESTAMP", "SERVER_TIMESTAMP"])
def test_a_timestamp_starts_with_the_fragment_holding_it(make_wb, kind):
    wb = make_wb()
    stream = wb.video.create_stream("cam")
    camera = SyntheticCamera(160, 160, 10)
    t0 = wb.clock.now()
    for k in range(3):  # one fragment per call; server time moves 2 s per fragment too
        stream.put_media(camera.frames(2, start=t0 + 2 * k))
        wb.clock.advance("2s")
    frames = list(stream.get_media({"StartSelectorType": kind, "StartTimestamp": t0 + 3.3}))
    assert frames[0].fragment_number == stream.fragments()[1].number
    assert len(frames) == 40
    late = list(stream.get_media({"StartSelectorType": kind, "StartTimestamp": t0 + 60}))
    assert late == []


def test_selectors_are_validated(make_stream):
    stream, _ = make_stream(seconds=1)
    with pytest.raises(InvalidArgumentException, match="StartSelectorType"):
        stream.get_media("LATEST")
    with pytest.raises(InvalidArgumentException, match="AfterFragmentNumber"):
        stream.get_media({"StartSelectorType": "FRAGMENT_NUMBER"})
    with pytest.raises(InvalidArgumentException, match="StartTimestamp"):
        stream.get_media({"StartSelectorType": "SERVER_TIMESTAMP"})
    with pytest.raises(InvalidArgumentException, match="string of digits"):
        stream.get_media({"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": "x1"})
    with pytest.raises(InvalidArgumentException, match="string of digits"):
        stream.get_media({"StartSelectorType": "CONTINUATION_TOKEN", "ContinuationToken": "-"})


def test_now_tails_the_live_edge_until_the_producer_goes_quiet(make_wb):
    wb = make_wb()
    wb.clock.run(speed=20)
    stream = wb.video.create_stream("cam")
    camera = SyntheticCamera(160, 160, 10)
    stream.put_media(camera.frames(2, start=wb.clock.now() - 5))  # history NOW does not replay
    live_start = wb.clock.now() + 1
    media = stream.get_media("NOW", idle_timeout=5.0)
    got = []
    reader = threading.Thread(target=lambda: got.extend(media))
    reader.start()
    stream.put_media(camera.frames(6, start=live_start), pace=True)
    reader.join(timeout=30)
    assert not reader.is_alive()
    live = [t for t in _times(got) if t >= round(live_start, 6)]
    assert live == [round(live_start + i / 10, 6) for i in range(60)]
    assert len(got) - len(live) <= 20  # at most the latest fragment from before


def test_a_tail_stops_when_asked(make_wb):
    wb = make_wb()
    wb.clock.run(speed=1)
    stream = wb.video.create_stream("cam")
    stop = threading.Event()
    media = stream.get_media("NOW", idle_timeout=600, stop=stop)
    reader = threading.Thread(target=lambda: list(media))
    reader.start()
    stop.set()
    reader.join(timeout=5)
    assert not reader.is_alive()
