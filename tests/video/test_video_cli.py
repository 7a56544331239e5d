"""``workbench camera`` films the synthetic camera into a stream and writes a clip."""

from pathlib import Path

from typer.testing import CliRunner

from workbench import Workbench
from workbench.cli import app


def test_camera_command_fills_a_stream_and_writes_a_clip(tmp_path):
    home = tmp_path / "home"
    args = ["camera", "--stream", "lobby", "--seconds", "3", "--width", "160", "--height", "160"]
    result = CliRunner().invoke(app, [*args, "--fps", "10", "--home", str(home)])
    assert result.exit_code == 0, result.output
    stream = Workbench(home=home).video.stream("lobby")
    assert [len(f.frame_times) for f in stream.fragments()] == [20, 10]
    clip = Path(result.output.split("clip: ")[1].strip())
    assert clip.read_bytes()[4:8] == b"ftyp"
    again = CliRunner().invoke(app, [*args, "--fps", "10", "--home", str(home)])
    assert again.exit_code == 0, again.output
    assert len(stream.fragments()) == 4
