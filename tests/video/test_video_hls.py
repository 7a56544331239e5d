"""An ON_DEMAND HLS session: a VOD playlist of H.264 MPEG-TS segments, one per fragment."""

import subprocess
from pathlib import Path
from urllib.parse import urlparse

import imageio_ffmpeg
import pytest

from workbench.errors import InvalidArgumentException, ResourceNotFoundException


def _frames_played(playlist) -> list[int]:
    """Presentation times (in frames) an HLS player reads from the playlist."""
    done = subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            *("-v", "error", "-i", str(playlist)),
            *("-fps_mode", "passthrough", "-f", "framemd5", "-"),
        ],
        capture_output=True,
        check=True,
    )
    rows = [r for r in done.stdout.decode().splitlines() if not r.startswith("#")]
    return [int(r.split(",")[2]) for r in rows]


def test_the_playlist_lists_a_segment_per_fragment_and_plays_every_frame(make_stream):
    stream, t0 = make_stream(seconds=7, fps=10)
    url = stream.get_hls_playlist(t0 + 1, t0 + 6)["HLSStreamingSessionURL"]
    assert url.startswith("file://")
    playlist = Path(urlparse(url).path)
    lines = playlist.read_text().splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST"
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines
    durations = [float(x.split(":")[1].rstrip(",")) for x in lines if x.startswith("#EXTINF")]
    assert durations == pytest.approx([1.0, 2.0, 2.0])
    segments = [x for x in lines if x.endswith(".ts")]
    assert segments == [f"{f.number}.ts" for f in stream.fragments()[:3]]
    assert _frames_played(playlist) == list(range(50))


def test_sessions_expire_on_the_clock(make_stream):
    stream, t0 = make_stream(seconds=2)
    first = Path(urlparse(stream.get_hls_playlist(t0, t0 + 2)["HLSStreamingSessionURL"]).path)
    stream.video.clock.advance(301)
    stream.get_hls_playlist(t0, t0 + 2, expires=600)
    assert not first.exists()


def test_hls_arguments_are_checked(make_stream):
    stream, t0 = make_stream(seconds=2)
    with pytest.raises(InvalidArgumentException, match="300-43200"):
        stream.get_hls_playlist(t0, t0 + 1, expires=10)
    with pytest.raises(ResourceNotFoundException):
        stream.get_hls_playlist(t0 + 50, t0 + 60)
